//! `berth load`: flags.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Suppress the load output (progress; the "Loaded image" lines stay, as in Docker)
    #[arg(short, long)]
    pub quiet: bool,
}
