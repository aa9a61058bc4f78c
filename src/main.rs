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
