//! berth: a daemonless, Docker-compatible container engine.
//!
//! `main` parses the command line once, hands the typed request to the verb in `cmd`, prints an
//! error chain on one line and leaves with Docker's exit codes (125 engine error, 126 cannot run,
//! 127 not found, otherwise the container's own status).

mod cli;
mod cmd;
mod container;
mod error;
mod fs;
mod image;
mod net;
mod sys;

fn main() {
    // A container's monitor is started by berth itself with a fixed command line: it skips
    // building the whole command-line definition, whose allocations and stack would stay with
    // it for the container's life.
    if let Some(args) = container::monitor::MonitorCall::from_args(std::env::args_os()) {
        std::process::exit(container::monitor::main(
            &args.root,
            &args.id,
            args.after_exit,
            args.attached,
        ));
    }
    let cli = cli::Cli::parse_or_exit();
    let code = match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("berth: {}", error::one_line(&err));
            error::exit_code(&err)
        }
    };
    std::process::exit(code);
}
