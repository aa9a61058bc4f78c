//! placeholder
use anyhow::Result;
use std::path::Path;
pub fn rm(_root: &Path, _args: &crate::cli::rm::RmArgs) -> Result<i32> { anyhow::bail!("rm: not built yet") }
