//! `berth exec`: flags, and their validation into an [`ExecRequest`].

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ExecArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
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
        let env = super::run::env_from_flags(&self.env_file, &self.env, &lookup)?;
        if let Some(dir) = &self.workdir {
            if !dir.starts_with('/') {
                bail!("the working directory '{dir}' is invalid, it needs to be an absolute path");
            }
        }
        if let Some(user) = &self.user {
            super::run::validate_user(user)?;
        }
        Ok(ExecRequest {
            container: self.container,
            args: self.args,
            detach: self.detach,
            interactive: self.interactive,
            tty: self.tty,
            env,
            workdir: self.workdir,
            user: self.user,
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
