//! `berth run`: flags, and their validation into a [`RunRequest`].

use crate::container::log;
use crate::container::state::{NetFlags, RestartPolicy};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)
    #[arg(long, value_name = "POLICY", default_value = "no")]
    pub restart: String,
    /// Log driver options (max-size=SIZE, max-file=N)
    #[arg(long = "log-opt", value_name = "OPT")]
    pub log_opt: Vec<String>,
    #[command(flatten)]
    pub process: ProcessFlags,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Connect a container to a network (bridge, none, host, container:NAME|ID, or a name)
    #[arg(long, alias = "net", value_name = "NETWORK", default_value = "bridge")]
    pub network: String,
    /// Publish a container's port(s) to the host ([[IP:][HOST]:]CTR[/PROTO], ranges allowed)
    #[arg(short = 'p', long = "publish", value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random host ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// IPv4 address (on a user-defined network)
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long, value_name = "ADDR")]
    pub dns: Vec<String>,
    /// Bind mount a volume (HOST-PATH or NAME, then :CONTAINER-PATH[:ro|rw|nocopy])
    #[arg(short = 'v', long = "volume", value_name = "[SRC:]CTR[:OPTS]")]
    pub volume: Vec<String>,
    /// The image: name[:tag], name@digest, ID or unique ID prefix
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The command and its arguments (replace the image's CMD)
    #[arg(
        value_name = "ARG",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

/// A validated `run`: everything the command needs, with no syscalls made yet.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub image: String,
    pub detach: bool,
    pub restart: RestartPolicy,
    pub log_max_size: u64,
    pub log_max_file: u32,
    pub args: Vec<String>,
    pub name: Option<String>,
    pub remove: bool,
    pub interactive: bool,
    pub tty: bool,
    /// `K=V` pairs from `--env-file` then `-e`, in order; later ones win.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// `Some("")` resets the image's ENTRYPOINT.
    pub entrypoint: Option<String>,
    pub hostname: Option<String>,
    /// `--network`, `-p`, `-P`, `--ip`, `--add-host`, `--dns` (see src/net).
    pub network: crate::net::NetOptions,
    /// The same flags as given, kept with the container (each start sets its network up).
    pub net_flags: NetFlags,
    /// The `-v` mounts (host paths and volumes), in order.
    pub volumes: Vec<Volume>,
}

/// One `-v`: a host path, or a volume berth manages, mounted at `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The host path bound (for a volume: its data directory, once `run` has resolved it).
    pub source: PathBuf,
    /// `Some(name)` for a named volume, `Some("")` for an anonymous one (named at `run`),
    /// `None` for a host path.
    pub volume: Option<String>,
    pub target: String,
    pub readonly: bool,
    /// Do not fill an empty volume with the image's files at `target`.
    pub nocopy: bool,
}

/// Parse `-v` as Docker does: `HOST-PATH:CTR-PATH[:OPTS]` binds a host path,
/// `NAME:CTR-PATH[:OPTS]` a named volume, `CTR-PATH` an anonymous one; OPTS are `ro`, `rw` and
/// `nocopy`, comma-separated.
pub fn parse_volume(text: &str) -> Result<Volume> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, opts) = match parts.as_slice() {
        [target] => ("", *target, None),
        [source, target] => (*source, *target, None),
        [source, target, opts] => (*source, *target, Some(*opts)),
        _ => bail!("invalid volume specification: '{text}'"),
    };
    if target.is_empty() || (parts.len() > 1 && source.is_empty()) {
        bail!("invalid volume specification: '{text}'");
    }
    if !target.starts_with('/') {
        bail!("invalid volume specification: '{text}': mount path must be absolute");
    }
    if target.trim_end_matches('/').is_empty() {
        bail!("invalid volume specification: '{text}': destination can't be '/'");
    }
    let volume = if source.is_empty() {
        Some(String::new())
    } else if source.starts_with('/') {
        None
    } else {
        crate::container::volume::validate_name(source)?;
        Some(source.to_string())
    };
    // Refused here, before a host directory or volume is made for it; the mount checks again
    // where a symlink in the image leads.
    let host_source = volume.is_none().then_some(source);
    crate::container::volume::check_proc_destination(target, || {
        host_source.is_some_and(|s| crate::container::volume::is_procfs(Path::new(s)))
    })
    .with_context(|| format!("invalid volume specification: '{text}'"))?;
    let (mut readonly, mut nocopy) = (false, false);
    for opt in opts.into_iter().flat_map(|o| o.split(',')) {
        match opt {
            "rw" => readonly = false,
            "ro" => readonly = true,
            "nocopy" if volume.is_some() => nocopy = true,
            other => bail!("invalid mode: {other}"),
        }
    }
    Ok(Volume {
        source: PathBuf::from(if volume.is_some() { "" } else { source }),
        volume,
        target: target.to_string(),
        readonly,
        nocopy,
    })
}

/// The flags `run` and `exec` share: how the process runs.
#[derive(Debug, Args)]
pub struct ProcessFlags {
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
}

impl ProcessFlags {
    /// Check the working directory and user; returns the environment the flags give
    /// (`lookup` reads the caller's, for `-e NAME`).
    pub fn validate(&self, lookup: &impl Fn(&str) -> Option<String>) -> Result<Vec<String>> {
        let env = env_from_flags(&self.env_file, &self.env, lookup)?;
        if let Some(dir) = &self.workdir {
            if !dir.starts_with('/') {
                bail!("the working directory '{dir}' is invalid, it needs to be an absolute path");
            }
        }
        if let Some(user) = &self.user {
            validate_user(user)?;
        }
        Ok(env)
    }
}

impl RunArgs {
    /// Validate the flags. `lookup` reads the caller's environment (for `-e NAME`).
    pub fn into_request(self, lookup: impl Fn(&str) -> Option<String>) -> Result<RunRequest> {
        let env = self.process.validate(&lookup)?;
        if let Some(name) = &self.name {
            validate_name(name)?;
        }
        if let Some(host) = &self.hostname {
            validate_hostname(host)?;
        }
        let restart = parse_restart(&self.restart)?;
        if self.rm && !restart.name.is_empty() && restart.name != "no" {
            bail!("Conflicting options: --restart and --rm");
        }
        let (mut log_max_size, mut log_max_file) = (log::DEFAULT_MAX_SIZE, log::DEFAULT_MAX_FILE);
        for opt in &self.log_opt {
            match opt.split_once('=') {
                Some(("max-size", v)) => log_max_size = parse_size(v)?,
                Some(("max-file", v)) => {
                    log_max_file = v
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .with_context(|| format!("invalid max-file {v:?}: a positive number"))?
                }
                _ => bail!("unknown log opt '{opt}' for the log driver"),
            }
        }
        let net_flags = NetFlags {
            network: self.network.clone(),
            publish: self.publish.clone(),
            publish_all: self.publish_all,
            ip: self.ip.clone(),
            add_host: self.add_host.clone(),
            dns: self.dns.clone(),
        };
        let network = net_flags.parse()?;
        let volumes = self
            .volume
            .iter()
            .map(|v| parse_volume(v))
            .collect::<Result<Vec<_>>>()?;
        Ok(RunRequest {
            image: self.image,
            detach: self.detach,
            restart,
            log_max_size,
            log_max_file,
            args: self.args,
            name: self.name,
            remove: self.rm,
            interactive: self.process.interactive,
            tty: self.process.tty,
            env,
            workdir: self.process.workdir,
            user: self.process.user,
            entrypoint: self.entrypoint,
            hostname: self.hostname,
            network,
            net_flags,
            volumes,
        })
    }
}

/// `--env-file` items, then `-e` items, in order (later ones win when applied).
pub(crate) fn env_from_flags(
    env_files: &[PathBuf],
    items: &[String],
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let mut env = Vec::new();
    for file in env_files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("open {}", file.display()))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(pair) = parse_env(line, lookup)
                .with_context(|| format!("invalid env file {}", file.display()))?
            {
                env.push(pair);
            }
        }
    }
    for item in items {
        if let Some(pair) = parse_env(item, lookup)
            .with_context(|| format!("invalid argument \"{item}\" for \"-e, --env\" flag"))?
        {
            env.push(pair);
        }
    }
    Ok(env)
}

/// One `-e`/env-file item: `K=V` is kept, `K` takes the caller's value (or is dropped when unset).
fn parse_env(item: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<String>> {
    let (key, value) = match item.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (item, None),
    };
    if key.is_empty() {
        bail!("invalid environment variable: {item}");
    }
    if key.contains(char::is_whitespace) {
        bail!("variable '{key}' contains whitespaces");
    }
    Ok(match value {
        Some(v) => Some(format!("{key}={v}")),
        None => lookup(key).map(|v| format!("{key}={v}")),
    })
}

/// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
pub fn parse_restart(text: &str) -> Result<RestartPolicy> {
    let (name, count) = match text.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (text, None),
    };
    let max_retries = match (name, count) {
        ("no" | "always" | "unless-stopped", None) => 0,
        ("on-failure", None) => 0,
        ("on-failure", Some(c)) => c.parse::<u32>().ok().with_context(|| {
            format!("invalid restart policy: maximum retry count {c:?} is not a number")
        })?,
        ("no" | "always" | "unless-stopped", Some(_)) => {
            bail!("invalid restart policy: maximum retry count can only be used with 'on-failure'")
        }
        _ => bail!("invalid restart policy {text:?}"),
    };
    Ok(RestartPolicy {
        name: name.to_string(),
        max_retries,
    })
}

/// `10m`, `512k`, `1g`, `2048` (bytes).
fn parse_size(text: &str) -> Result<u64> {
    let lower = text.to_ascii_lowercase();
    let (digits, unit) = match lower.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let mult: u64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1024,
        "m" => 1024 * 1024,
        "g" => 1024 * 1024 * 1024,
        _ => bail!("invalid max-size {text:?}"),
    };
    let n: u64 = digits
        .parse()
        .ok()
        .with_context(|| format!("invalid max-size {text:?}"))?;
    Ok(n.saturating_mul(mult))
}

/// Docker's rule for container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<()> {
    let name = name.strip_prefix('/').unwrap_or(name);
    let mut chars = name.chars();
    let ok = name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        bail!("Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    Ok(())
}

/// `USER[:GROUP]`, each a name or a number; resolved later against the image's files.
pub(crate) fn validate_user(user: &str) -> Result<()> {
    let mut parts = user.split(':');
    let name = parts.next().unwrap_or_default();
    let group = parts.next();
    let ok = !name.is_empty()
        && group.is_none_or(|g| !g.is_empty())
        && parts.next().is_none()
        && !user.contains(|c: char| c.is_whitespace() || c == '/');
    if !ok {
        bail!("invalid user \"{user}\": expected <name|uid>[:<group|gid>]");
    }
    Ok(())
}

fn validate_hostname(host: &str) -> Result<()> {
    let ok = !host.is_empty()
        && host.len() <= 64
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !ok {
        bail!("invalid hostname format: {host}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        run: RunArgs,
    }

    fn request(args: &[&str]) -> Result<RunRequest> {
        let mut argv = vec!["run"];
        argv.extend_from_slice(args);
        Wrap::try_parse_from(argv)?
            .run
            .into_request(|k| (k == "HOSTVAR").then(|| "fromhost".to_string()))
    }

    #[test]
    fn args_after_image_belong_to_the_container() {
        let req = request(&["--rm", "busybox", "sh", "-c", "exit 3", "--rm"]).unwrap();
        assert_eq!(req.image, "busybox");
        assert_eq!(req.args, ["sh", "-c", "exit 3", "--rm"]);
        assert!(req.remove);
    }

    #[test]
    fn env_forms() {
        let req = request(&[
            "-e", "A=1", "-e", "HOSTVAR", "-e", "UNSET", "--env", "B=", "img",
        ])
        .unwrap();
        assert_eq!(req.env, ["A=1", "HOSTVAR=fromhost", "B="]);
        let err = request(&["-e", "=x", "img"]).unwrap_err();
        assert!(
            format!("{err:#}").contains("invalid environment variable: =x"),
            "{err:#}"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(request(&["--name", "-bad", "img"]).is_err());
        assert!(request(&["--name", "a b", "img"]).is_err());
        assert!(request(&["--name", "ok_name.1", "img"]).is_ok());
        assert!(request(&["-w", "relative", "img"]).is_err());
        assert!(request(&["-u", "", "img"]).is_err());
        assert!(request(&["-u", "a:b:c", "img"]).is_err());
        assert!(request(&["-u", "nobody:", "img"]).is_err());
        assert!(request(&["-u", "1000:1000", "img"]).is_ok());
        assert!(request(&["-h", "bad_host", "img"]).is_err());
        assert!(request(&["-h", "web-1.local", "img"]).is_ok());
        assert!(request(&["--network", "none", "-p", "80", "img"]).is_err());
        assert!(request(&["-p", "80:x", "img"]).is_err());
        assert!(request(&["-p", "127.0.0.1:8080:80/udp", "-P", "img"]).is_ok());
        assert!(request(&["--rm", "--restart", "always", "img"]).is_err());
        assert!(request(&["--restart", "sometimes", "img"]).is_err());
        assert!(request(&["--restart", "always:3", "img"]).is_err());
        assert!(request(&["--log-opt", "max-size=x", "img"]).is_err());
    }

    #[test]
    fn restart_and_log_options() {
        let req = request(&[
            "-d",
            "--restart",
            "on-failure:3",
            "--log-opt",
            "max-size=1m",
            "--log-opt",
            "max-file=2",
            "img",
        ])
        .unwrap();
        assert!(req.detach);
        assert_eq!(
            req.restart,
            RestartPolicy {
                name: "on-failure".into(),
                max_retries: 3
            }
        );
        assert_eq!((req.log_max_size, req.log_max_file), (1024 * 1024, 2));
        assert_eq!(
            parse_restart("unless-stopped").unwrap().name,
            "unless-stopped"
        );
    }

    #[test]
    fn env_file_is_read_and_unreadable_is_an_error() {
        let dir = std::env::temp_dir().join(format!("berth-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("env");
        std::fs::write(&file, "# comment\n\nFOO=bar\nHOSTVAR\n").unwrap();
        let req = request(&["--env-file", file.to_str().unwrap(), "-e", "FOO=baz", "img"]).unwrap();
        assert_eq!(req.env, ["FOO=bar", "HOSTVAR=fromhost", "FOO=baz"]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(request(&["--env-file", "/nonexistent/env", "img"]).is_err());
    }
}
