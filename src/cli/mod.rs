//! The command line: clap derive structs, one file per verb. Nothing here touches the system;
//! flags become typed requests that `cmd` carries out.

pub mod images;
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
