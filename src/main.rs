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
    if cli.command.enters_a_running_container() {
        if let Err(err) = run_from_read_only_binary() {
            eprintln!("berth: {}", error::one_line(&err));
            std::process::exit(error::EXIT_ENGINE);
        }
    }
    let code = match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("berth: {}", error::one_line(&err));
            error::exit_code(&err)
        }
    };
    std::process::exit(code);
}

/// Set in the environment of berth's re-execution of itself, so that it does not try again.
const REEXEC_MARKER: &std::ffi::CStr = c"BERTH_REEXEC=1";

/// Continue from a view of this binary that no container can write (see [`sys::exe`]): a
/// read-only bind mount of it, else a sealed copy. Returns at once when already there;
/// otherwise re-executes this process and returns only if that fails.
fn run_from_read_only_binary() -> anyhow::Result<()> {
    use anyhow::Context;
    let reexecuted = std::env::var_os("BERTH_REEXEC").is_some();
    if reexecuted {
        // Single-threaded here: nothing reads the environment meanwhile.
        std::env::remove_var("BERTH_REEXEC");
    }
    if sys::exe::running_from_read_only_view().context("look at the berth binary")? {
        return Ok(());
    }
    if reexecuted {
        anyhow::bail!("the berth binary is still writable after re-executing it read-only");
    }
    let first = match sys::exe::read_only_view() {
        Ok(view) => sys::exe::reexec(view, REEXEC_MARKER),
        Err(e) => e,
    };
    let copy = sys::exe::sealed_copy().context("copy the berth binary into a sealed memfd")?;
    let second = sys::exe::reexec(copy, REEXEC_MARKER);
    anyhow::bail!(
        "cannot run from a read-only view of the berth binary (read-only mount: {}; sealed copy: {})",
        first.desc(),
        second.desc()
    )
}
