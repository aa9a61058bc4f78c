//! `berth exec`: flags, and their validation into an [`ExecRequest`].

use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ExecArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    #[command(flatten)]
    pub process: super::run::ProcessFlags,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// The container: name, ID or unique ID prefix
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// The command and its arguments
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

/// A validated `exec`.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub container: String,
    pub args: Vec<String>,
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    /// `K=V` pairs from `--env-file` then `-e`; later ones win.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub privileged: bool,
}

impl ExecArgs {
    /// Validate the flags. `lookup` reads the caller's environment (for `-e NAME`).
    pub fn into_request(self, lookup: impl Fn(&str) -> Option<String>) -> Result<ExecRequest> {
        let env = self.process.validate(&lookup)?;
        Ok(ExecRequest {
            container: self.container,
            args: self.args,
            detach: self.detach,
            interactive: self.process.interactive,
            tty: self.process.tty,
            env,
            workdir: self.process.workdir,
            user: self.process.user,
            privileged: self.privileged,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        exec: ExecArgs,
    }

    fn request(args: &[&str]) -> Result<ExecRequest> {
        let mut argv = vec!["exec"];
        argv.extend_from_slice(args);
        Wrap::try_parse_from(argv)?.exec.into_request(|_| None)
    }

    #[test]
    fn flags_before_the_container_args_after() {
        let req = request(&[
            "-it", "-e", "A=1", "-u", "1:2", "web", "sh", "-c", "x", "-e",
        ])
        .unwrap();
        assert!(req.interactive && req.tty && !req.detach);
        assert_eq!(req.container, "web");
        assert_eq!(req.args, ["sh", "-c", "x", "-e"]);
        assert_eq!(req.env, ["A=1"]);
        assert!(request(&["web"]).is_err(), "a command is required");
        assert!(request(&["-w", "rel", "web", "true"]).is_err());
        assert!(request(&["-u", "a:b:c", "web", "true"]).is_err());
    }
}
