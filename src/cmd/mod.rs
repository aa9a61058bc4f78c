//! One function per verb: the only place that orders the steps of a verb.

pub mod attach;
pub mod cp;
pub mod diff;
pub mod exec;
pub mod images;
pub mod inspect;
pub mod lifecycle;
pub mod load;
pub mod logs;
pub mod network;
pub mod ps;
pub mod rm;
pub mod run;
pub mod template;
pub mod volume;

use crate::cli::{Cli, Command, ContainerCommand, ImageCommand};
use anyhow::Result;

/// Carry out one command; the result is the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let root = cli.globals.root;
    crate::fs::store_access::close_to_others(&root)?;
    crate::container::finish_removals(&root);
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
        Command::Rm(args) | Command::Container(ContainerCommand::Rm(args)) => rm::rm(&root, &args),
        Command::Create(args) => {
            if args.detach {
                anyhow::bail!("unknown shorthand flag: 'd' in -d");
            }
            let req = (*args).into_request(|k| std::env::var(k).ok())?;
            run::create_only(&root, req)
        }
        Command::Ps(args) | Command::Container(ContainerCommand::Ls(args)) => ps::ps(&root, &args),
        Command::Logs(args) | Command::Container(ContainerCommand::Logs(args)) => {
            logs::logs(&root, &args)
        }
        Command::Start(args) | Command::Container(ContainerCommand::Start(args)) => {
            lifecycle::start(&root, &args)
        }
        Command::Stop(args) | Command::Container(ContainerCommand::Stop(args)) => {
            lifecycle::stop(&root, &args)
        }
        Command::Restart(args) => lifecycle::restart(&root, &args),
        Command::Kill(args) => lifecycle::kill(&root, &args),
        Command::Top(args) => lifecycle::top(&root, &args),
        Command::Wait(args) => lifecycle::wait(&root, &args),
        Command::Rename(args) => lifecycle::rename(&root, &args),
        Command::Pause(args) => lifecycle::pause(&root, &args, true),
        Command::Unpause(args) => lifecycle::pause(&root, &args, false),
        Command::Inspect(args) => inspect::inspect(&root, &args, None),
        Command::Attach(args) => attach::attach(&root, &args),
        Command::System(crate::cli::lifecycle::SystemCommand::Restore) => lifecycle::restore(&root),
        Command::Container(ContainerCommand::Inspect(args)) => {
            inspect::inspect(&root, &args, Some("container"))
        }
        Command::Container(ContainerCommand::Prune(args)) => lifecycle::prune(&root, &args),
        Command::Monitor(args) => Ok(crate::container::monitor::main(
            &root,
            &args.id,
            args.after_exit,
            args.attached,
        )),
        Command::Exec(args) => {
            let req = (*args).into_request(|k| std::env::var(k).ok())?;
            exec::exec(&root, req)
        }
        Command::Cp(args) => cp::cp(&root, &args),
        Command::Diff(args) => diff::diff(&root, &args),
        Command::Network(cmd) => network::network(&root, cmd),
        Command::Volume(cmd) => volume::volume(&root, cmd),
        Command::Port(args) => network::port(&root, &args),
    }
}
