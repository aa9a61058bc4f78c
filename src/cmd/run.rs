//! placeholder
use anyhow::Result;
use std::path::Path;
pub fn run(_root: &Path, _req: crate::cli::run::RunRequest) -> Result<i32> { anyhow::bail!("run: not built yet") }
