//! `berth rm`: flags.

use clap::Args;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove the container's anonymous volumes too. berth makes none: everything a container
    /// writes is in its writable layer, which rm always removes; accepted for `rm -fv` scripts
    #[arg(short, long)]
    pub volumes: bool,
    /// Containers: name, ID or unique ID prefix
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}
