//! One function per verb: the only place that orders the steps of a verb.

pub mod images;
pub mod load;
pub mod network;
pub mod rm;
pub mod run;

use crate::cli::{Cli, Command, ImageCommand};
use anyhow::Result;

/// Carry out one command; the result is the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let root = cli.root;
    match cli.command {
        Command::Run(args) => {
            let req = (*args).into_request(|k| std::env::var(k).ok())?;
            run::run(&root, req)
        }
        Command::Load(args) | Command::Image(ImageCommand::Load(args)) => load::load(&root, &args),
        Command::Images(args) | Command::Image(ImageCommand::Ls(args)) => {
            images::list(&root, &args)
        }
        Command::Image(ImageCommand::Inspect(args)) => images::inspect(&root, &args),
        Command::Rm(args) => rm::rm(&root, &args),
        Command::Network(cmd) => network::network(&root, cmd),
        Command::Port(args) => network::port(&root, &args),
    }
}
