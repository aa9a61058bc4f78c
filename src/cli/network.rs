//! `berth network …` and `berth port`: flags.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(NamesArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(NamesArgs),
    /// Remove all unused networks (and the default bridge when no container uses it)
    Prune(PruneArgs),
    /// Connect a running container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(ConnectArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Subnet in CIDR format (IPv4)
    #[arg(long, value_name = "CIDR")]
    pub subnet: Option<String>,
    /// Driver to manage the network (only "bridge")
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Network name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    /// Networks: name, ID or unique ID prefix
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation (berth never prompts)
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// IPv4 address (connect only)
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<String>,
    /// Network name or ID
    pub network: String,
    /// Container name or ID
    pub container: String,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Container name or ID
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}
