//! `berth diff`.
use crate::cli::diff::DiffArgs;
use anyhow::Result;
use std::path::Path;
pub fn diff(_root: &Path, _args: &DiffArgs) -> Result<i32> {
    anyhow::bail!("not yet")
}
