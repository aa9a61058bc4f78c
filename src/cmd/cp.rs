//! `berth cp`.
use crate::cli::cp::CpArgs;
use anyhow::Result;
use std::path::Path;
pub fn cp(_root: &Path, args: &CpArgs) -> Result<i32> {
    args.request()?;
    anyhow::bail!("not yet")
}
