//! `berth load` (placeholder until the image store lands).

use crate::cli::load::LoadArgs;
use anyhow::{bail, Result};
use std::path::Path;

pub fn load(_root: &Path, _args: &LoadArgs) -> Result<i32> {
    bail!("load: not built yet")
}
