//! `berth diff`: the container's changes to its image, one `A|C|D PATH` line each.

use crate::cli::diff::DiffArgs;
use crate::container::state;
use crate::error::{coded, NotFound};
use crate::image::store::Store;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

pub fn diff(root: &Path, args: &DiffArgs) -> Result<i32> {
    let container = match state::resolve(root, &args.container) {
        Ok(c) => c,
        Err(e) if e.downcast_ref::<NotFound>().is_some() => {
            // Docker's CLI: "Error response from daemon: No such container: X", exit 1.
            return Err(coded(1, format!("No such container: {}", args.container)));
        }
        Err(e) => return Err(e),
    };
    let record = container.load_state()?;
    let image = Store::open(root)?
        .resolve_image(&record.image_id)
        .with_context(|| format!("image of container {}", container.id))?;
    let changes = crate::container::diff::changes(&container.upper(), &image.layer_dirs)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for c in changes {
        writeln!(out, "{} {}", c.kind, c.path).context("write output")?;
    }
    out.flush().context("write output")?;
    Ok(0)
}
