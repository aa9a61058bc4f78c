//! The command line: clap derive structs, one file per verb. Nothing here touches the system;
//! flags become typed requests that `cmd` carries out.

pub mod cp;
pub mod diff;
pub mod exec;
pub mod images;
pub mod lifecycle;
pub mod load;
pub mod network;
pub mod rm;
pub mod run;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Where the store lives unless `--root` or `BERTH_ROOT` says otherwise.
pub const DEFAULT_ROOT: &str = "/var/lib/berth";

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "A daemonless, Docker-compatible container engine",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Directory of the image and container store
    #[arg(long, global = true, env = "BERTH_ROOT", value_name = "DIR", default_value = DEFAULT_ROOT)]
    pub root: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parse argv; usage errors exit 125 as Docker's do (help and version exit 0).
    pub fn parse_or_exit() -> Cli {
        match Cli::try_parse() {
            Ok(cli) => cli,
            Err(err) => {
                let code = if err.use_stderr() {
                    crate::error::EXIT_ENGINE
                } else {
                    0
                };
                let _ = err.print();
                std::process::exit(code);
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and run a new container from an image
    Run(Box<run::RunArgs>),
    /// Load an image from a tar archive or STDIN
    Load(load::LoadArgs),
    /// List images
    Images(images::ImagesArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Remove one or more containers
    Rm(rm::RmArgs),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// List port mappings or a specific mapping for the container
    Port(network::PortArgs),
    /// Execute a command in a running container
    Exec(Box<exec::ExecArgs>),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(diff::DiffArgs),
    /// Create a new container
    Create(Box<run::RunArgs>),
    /// List containers
    Ps(lifecycle::PsArgs),
    /// Fetch the logs of a container
    Logs(lifecycle::LogsArgs),
    /// Start one or more stopped containers
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers
    Stop(lifecycle::StopArgs),
    /// Restart one or more containers
    Restart(lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(lifecycle::KillArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(lifecycle::ContainersArgs),
    /// Rename a container
    Rename(lifecycle::RenameArgs),
    /// Pause all processes within one or more containers
    Pause(lifecycle::ContainersArgs),
    /// Unpause all processes within one or more containers
    Unpause(lifecycle::ContainersArgs),
    /// Return low-level information on containers or images
    Inspect(lifecycle::InspectArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(lifecycle::AttachArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage berth
    #[command(subcommand)]
    System(lifecycle::SystemCommand),
    /// The per-container monitor (started by berth itself)
    #[command(name = "__monitor", hide = true)]
    Monitor(lifecycle::MonitorArgs),
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// List containers
    #[command(alias = "list", alias = "ps")]
    Ls(lifecycle::PsArgs),
    /// Display detailed information on one or more containers
    Inspect(lifecycle::InspectArgs),
    /// Remove all stopped containers
    Prune(lifecycle::PruneArgs),
    /// Remove one or more containers
    Rm(rm::RmArgs),
    /// Start one or more stopped containers
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers
    Stop(lifecycle::StopArgs),
    /// Fetch the logs of a container
    Logs(lifecycle::LogsArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Display detailed information on one or more images
    Inspect(images::InspectArgs),
    /// List images
    #[command(alias = "list")]
    Ls(images::ImagesArgs),
    /// Load an image from a tar archive or STDIN
    Load(load::LoadArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
