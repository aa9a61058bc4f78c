//! `berth rm`: flags.

use clap::Args;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    /// Containers: name, ID or unique ID prefix
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}
