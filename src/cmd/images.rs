//! `berth images` and `berth image inspect` (placeholder until the image store lands).

use crate::cli::images::{ImagesArgs, InspectArgs};
use anyhow::{bail, Result};
use std::path::Path;

pub fn list(_root: &Path, _args: &ImagesArgs) -> Result<i32> {
    bail!("images: not built yet")
}

pub fn inspect(_root: &Path, _args: &InspectArgs) -> Result<i32> {
    bail!("image inspect: not built yet")
}
