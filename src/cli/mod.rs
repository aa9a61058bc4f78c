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
pub mod volume;

use clap::{Args, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
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
    #[command(flatten)]
    pub globals: Globals,

    #[command(subcommand)]
    pub command: Command,
}

/// Options of every verb.
#[derive(Debug, Args)]
pub struct Globals {
    /// Directory of the image and container store
    #[arg(long, global = true, env = "BERTH_ROOT", value_name = "DIR", default_value = DEFAULT_ROOT)]
    pub root: PathBuf,
}

impl Cli {
    /// Parse argv; usage errors exit 125 as Docker's do (help and version exit 0).
    pub fn parse_or_exit() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        match Cli::parse_from(&args) {
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

impl Cli {
    /// Parse `args` (argv, program name first). Building clap's definition of every verb costs
    /// a good part of a millisecond, more than some verbs take: `run` (the verb whose start-up
    /// matters) is parsed with a definition of the program that holds only that verb. Help is
    /// left to the full definition, whose text also lists the verb's description.
    fn parse_from(args: &[OsString]) -> Result<Cli, clap::Error> {
        match Self::single_verb(args) {
            Some(verb) => {
                let matches = verb.try_get_matches_from(args)?;
                Cli::from_arg_matches(&matches)
            }
            None => Cli::try_parse_from(args),
        }
    }

    /// The program with only the verb `args` name, when it is one parsed that way.
    fn single_verb(args: &[OsString]) -> Option<clap::Command> {
        let mut rest = args.iter().skip(1).map(|a| a.to_str());
        let verb = loop {
            match rest.next()?? {
                "--root" => {
                    rest.next()??;
                }
                a if a.starts_with("--root=") => {}
                verb => break verb,
            }
        };
        if args.iter().any(|a| a == "--help") {
            return None;
        }
        let sub = match verb {
            "run" => run::RunArgs::augment_args(clap::Command::new("run")),
            _ => return None,
        };
        let program = clap::Command::new("berth")
            .version(env!("CARGO_PKG_VERSION"))
            .disable_help_subcommand(true)
            .subcommand_required(true)
            .arg_required_else_help(true);
        Some(Globals::augment_args(program).subcommand(sub))
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
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
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
    /// Display the running processes of a container
    Top(lifecycle::TopArgs),
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

impl Command {
    /// Whether the verb starts a process inside a running container, where the container's
    /// own processes may already be waiting for it: until it execs the command, that process
    /// runs this binary, reachable through /proc/PID/exe (CVE-2019-5736; see `sys::exe`).
    /// A container's first process needs no such care: it starts alone in a new PID
    /// namespace, and nothing joins that namespace before it has exec'd the command.
    pub fn enters_a_running_container(&self) -> bool {
        matches!(self, Command::Exec(_))
    }
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

    /// The single-verb definition parses, and refuses, exactly as the full one does.
    #[test]
    fn single_verb_parsing_matches_the_full_definition() {
        let cases: &[&[&str]] = &[
            &["run", "--rm", "--network", "none", "busybox", "true"],
            &["--root", "/x", "run", "-d", "--name", "a", "busybox"],
            &[
                "--root=/y",
                "run",
                "-it",
                "--rm",
                "busybox",
                "sh",
                "-c",
                "echo hi",
            ],
            &[
                "run", "--root", "/z", "-e", "A=1", "-p", "8080:80", "busybox", "ls", "-l",
            ],
            &[
                "run",
                "-h",
                "host1",
                "-u",
                "1000:1000",
                "-w",
                "/tmp",
                "busybox",
            ],
            &[
                "run",
                "--restart",
                "on-failure:3",
                "--log-opt",
                "max-size=1m",
                "busybox",
            ],
            &["run", "--entrypoint", "/bin/sh", "busybox", "-c", "exit 3"],
            &["run", "busybox", "--rm"],
            &["run"],
            &["run", "--bogus", "busybox"],
            &["run", "--rm"],
            &["run", "--network"],
            &["run", "--restart", "sometimes", "busybox"],
            &["run", "-p", "notaport", "busybox"],
            &["run", "--rn", "busybox"],
            &["run", "-V", "busybox"],
            &["run", "--version"],
        ];
        for case in cases {
            let args: Vec<OsString> = std::iter::once("berth")
                .chain(case.iter().copied())
                .map(OsString::from)
                .collect();
            assert!(Cli::single_verb(&args).is_some(), "{case:?}");
            let full = Cli::try_parse_from(&args);
            let fast = Cli::parse_from(&args);
            match (full, fast) {
                (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{case:?}"),
                (Err(a), Err(b)) => {
                    assert_eq!(a.kind(), b.kind(), "{case:?}");
                    assert_eq!(a.render().to_string(), b.render().to_string(), "{case:?}");
                }
                (a, b) => panic!("{case:?}: full {a:?}, single verb {b:?}"),
            }
        }
        for other in [
            &["ps"][..],
            &["run", "--help"],
            &["--root"],
            &["-h", "run"],
            &["run", "busybox", "sh", "--help"],
        ] {
            let args: Vec<OsString> = std::iter::once("berth")
                .chain(other.iter().copied())
                .map(OsString::from)
                .collect();
            assert!(Cli::single_verb(&args).is_none(), "{other:?}");
        }
    }
}
