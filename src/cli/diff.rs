//! `berth diff`: flags.

use clap::Args;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The container: name, ID or unique ID prefix
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}
