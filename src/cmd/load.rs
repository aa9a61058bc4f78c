//! `berth load`: read an image archive from a file or stdin into the store and say what was
//! loaded, as `docker load` does.

use crate::cli::load::LoadArgs;
use crate::image::archive::{self, Input};
use crate::image::store::Store;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::Path;

/// `docker load` leaves with the CLI's generic failure, 1, on any error (125 is `run`'s and
/// `create`'s code for an engine error); the message is the whole chain on one line.
pub fn load(root: &Path, args: &LoadArgs) -> Result<i32> {
    load_archive(root, args).map_err(|e| crate::error::coded(1, crate::error::one_line(&e)))
}

fn load_archive(root: &Path, args: &LoadArgs) -> Result<i32> {
    let store = Store::open(root)?;
    let input = match &args.input {
        Some(path) => Input::File(path),
        None => {
            if nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
                bail!("requested load from stdin, but stdin is empty");
            }
            Input::Stdin
        }
    };
    let loaded = archive::load(&store, input).context("load")?;

    // Docker prints these lines with or without -q: -q hides only the progress output, and a
    // load here has none yet. Scripts that parse "Loaded image:" work either way.
    let _progress_hidden = args.quiet;
    let mut out = std::io::stdout().lock();
    for image in &loaded {
        if image.tags.is_empty() {
            writeln!(out, "Loaded image ID: {}", image.id)?;
        }
        for update in &image.tags {
            let name = update.tag.familiar();
            if let Some(previous) = update.previous.as_ref().filter(|p| **p != image.id) {
                writeln!(
                    out,
                    "The image {name} already exists, renaming the old one with ID {previous} to empty string"
                )?;
            }
            writeln!(out, "Loaded image: {name}")?;
        }
    }
    Ok(0)
}
