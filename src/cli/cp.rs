//! `berth cp`: flags, and how `SRC` and `DST` name a container path, a local path or a stream.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH, a local path, or - (a tar archive on stdin)
    #[arg(value_name = "SRC", allow_hyphen_values = true)]
    pub src: String,
    /// CONTAINER:DEST_PATH, a local path, or - (a tar archive on stdout)
    #[arg(value_name = "DEST", allow_hyphen_values = true)]
    pub dst: String,
}

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Local(String),
    Container {
        container: String,
        path: String,
    },
    /// `-`: a tar stream on stdin (as SRC) or stdout (as DEST).
    Stream,
}

/// Docker's rule: an argument is a container path when it has a `:` and does not start with
/// `/` or `.` (so `./a:b` and `/a:b` are local files).
pub fn parse_endpoint(arg: &str) -> Endpoint {
    if arg == "-" {
        return Endpoint::Stream;
    }
    if arg.starts_with('/') || arg.starts_with('.') {
        return Endpoint::Local(arg.to_string());
    }
    match arg.split_once(':') {
        Some((container, path)) if !container.is_empty() => Endpoint::Container {
            container: container.to_string(),
            path: path.to_string(),
        },
        _ => Endpoint::Local(arg.to_string()),
    }
}

/// The direction of a validated copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpRequest {
    /// Out of a container to a local path or to stdout (`dst` = None).
    Out {
        container: String,
        src: String,
        dst: Option<String>,
    },
    /// Into a container from a local path or from stdin (`src` = None).
    In {
        container: String,
        src: Option<String>,
        dst: String,
    },
}

impl CpArgs {
    pub fn request(&self) -> Result<CpRequest> {
        let src = parse_endpoint(&self.src);
        let dst = parse_endpoint(&self.dst);
        Ok(match (src, dst) {
            (Endpoint::Container { .. }, Endpoint::Container { .. }) => {
                bail!("copying between containers is not supported")
            }
            (Endpoint::Container { container, path }, Endpoint::Local(dst)) => CpRequest::Out {
                container,
                src: path,
                dst: Some(dst),
            },
            (Endpoint::Container { container, path }, Endpoint::Stream) => CpRequest::Out {
                container,
                src: path,
                dst: None,
            },
            (Endpoint::Local(src), Endpoint::Container { container, path }) => CpRequest::In {
                container,
                src: Some(src),
                dst: path,
            },
            (Endpoint::Stream, Endpoint::Container { container, path }) => CpRequest::In {
                container,
                src: None,
                dst: path,
            },
            _ => bail!("must specify at least one container source"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_dockers_rules() {
        assert_eq!(parse_endpoint("-"), Endpoint::Stream);
        assert_eq!(parse_endpoint("./a:b"), Endpoint::Local("./a:b".into()));
        assert_eq!(parse_endpoint("/a:b"), Endpoint::Local("/a:b".into()));
        assert_eq!(parse_endpoint("file"), Endpoint::Local("file".into()));
        assert_eq!(parse_endpoint(":x"), Endpoint::Local(":x".into()));
        assert_eq!(
            parse_endpoint("web:/etc/hosts"),
            Endpoint::Container {
                container: "web".into(),
                path: "/etc/hosts".into()
            }
        );
    }
}
