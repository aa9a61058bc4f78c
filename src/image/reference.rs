//! Image references as Docker reads and prints them (distribution/reference's grammar and
//! normalisation): `busybox` means `docker.io/library/busybox:latest`, and the "familiar" form
//! drops the defaults again for display.
//!
//! Grammar (distribution/reference `reference.go`):
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [domain "/"] path-component ["/" path-component]*     (at most 255 chars)
//! domain     := host [":" port]     host := domain-name | "[" IPv6 "]"
//! path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
//! tag        := [\w][\w.-]{0,127}
//! ```

use super::digest::is_sha256_hex;
use anyhow::{bail, Result};
use std::fmt;

/// The registry Docker assumes when a name has none.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The tag Docker assumes when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_MAX: usize = 255;
const TAG_MAX: usize = 128;

const INVALID: &str = "invalid reference format";

/// A parsed, normalised reference (`docker.io/library/busybox:latest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    /// `sha256:<hex>`
    digest: Option<String>,
}

impl Reference {
    /// Parse and normalise as Docker's `ParseNormalizedNamed` does. No default tag is added.
    pub fn parse(s: &str) -> Result<Reference> {
        if s.is_empty() {
            bail!(INVALID);
        }
        if is_sha256_hex(s) {
            bail!("invalid repository name ({s}), cannot specify 64-byte hexadecimal strings");
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote_name = remainder.split(':').next().unwrap_or_default();
        if remote_name.to_lowercase() != remote_name {
            bail!("{INVALID}: repository name must be lowercase");
        }

        let (rest, digest) = match remainder.split_once('@') {
            Some((rest, digest)) => {
                if !digest.strip_prefix("sha256:").is_some_and(is_sha256_hex) {
                    bail!(INVALID);
                }
                (rest, Some(digest.to_string()))
            }
            None => (remainder.as_str(), None),
        };
        let (path, tag) = match rest.rsplit_once(':') {
            Some((path, tag)) if !tag.contains('/') => (path, Some(tag)),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                bail!(INVALID);
            }
        }
        if !valid_domain(&domain) || path.is_empty() || !path.split('/').all(valid_path_component) {
            bail!(INVALID);
        }
        if domain.len() + 1 + path.len() > NAME_MAX {
            bail!("{INVALID}: repository name must not be more than {NAME_MAX} characters");
        }
        Ok(Reference {
            domain,
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// Docker's `TagNameOnly`: `latest` when there is neither tag nor digest.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// The full repository name: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository name as Docker prints it: `busybox`, `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The familiar form of the whole reference: `busybox:latest`, `localhost:5000/app:1`.
    pub fn familiar(&self) -> String {
        self.render(self.familiar_name())
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same repository pinned to a digest, without tag (what `RepoDigests` lists).
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    fn render(&self, name: String) -> String {
        let mut s = name;
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
        s
    }
}

impl fmt::Display for Reference {
    /// The full form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(self.name()))
    }
}

/// distribution/reference `splitDockerDomain`: the first component is a registry only if it
/// looks like one (has `.` or `:`, is `localhost`, or has upper case).
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= TAG_MAX
        && word(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `[a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep_start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[sep_start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
}

/// `host[:port]` where host is a DNS-ish name or a bracketed IPv6 address.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("[v6]", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    host == "[v6]"
        || host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().with_default_tag().to_string()
    }

    fn familiar(s: &str) -> String {
        Reference::parse(s).unwrap().with_default_tag().familiar()
    }

    #[test]
    fn short_names_normalise_to_docker_hub_library() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(
            full("docker.io/library/busybox:latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            full("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            full("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("user/app"), "docker.io/user/app:latest");
    }

    #[test]
    fn registries_are_recognised_by_dot_colon_or_localhost() {
        assert_eq!(full("localhost/x"), "localhost/x:latest");
        assert_eq!(full("localhost:5000/a/b:tag"), "localhost:5000/a/b:tag");
        assert_eq!(
            full("registry.example.com:443/a/b:1.0"),
            "registry.example.com:443/a/b:1.0"
        );
        assert_eq!(full("[::1]:5000/app:v1"), "[::1]:5000/app:v1");
        // `localhost:5000` alone is the name `localhost` with tag `5000`, as in Docker.
        assert_eq!(full("localhost:5000"), "docker.io/library/localhost:5000");
    }

    #[test]
    fn digests_are_kept_and_no_default_tag_is_added() {
        let r = Reference::parse(&format!("busybox@sha256:{HEX}"))
            .unwrap()
            .with_default_tag();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(format!("sha256:{HEX}").as_str()));
        assert_eq!(
            r.to_string(),
            format!("docker.io/library/busybox@sha256:{HEX}")
        );
        let both = Reference::parse(&format!("busybox:1@sha256:{HEX}")).unwrap();
        assert_eq!(both.tag(), Some("1"));
        assert_eq!(both.familiar(), format!("busybox:1@sha256:{HEX}"));
    }

    #[test]
    fn familiar_form_drops_the_defaults() {
        assert_eq!(
            familiar("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(familiar("docker.io/user/app:1"), "user/app:1");
        assert_eq!(familiar("localhost:5000/app:1"), "localhost:5000/app:1");
        assert_eq!(familiar("docker.io/library/a/b"), "library/a/b:latest");
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar_name(),
            "busybox"
        );
    }

    #[test]
    fn upper_case_repository_names_are_rejected_with_docker_s_message() {
        for bad in ["Busybox", "busybox/Foo:tag", "localhost/App"] {
            let err = Reference::parse(bad).unwrap_err().to_string();
            assert_eq!(
                err, "invalid reference format: repository name must be lowercase",
                "{bad}"
            );
        }
        // Upper case in the tag is fine, and an upper-case first component is a registry.
        assert_eq!(full("busybox:Latest"), "docker.io/library/busybox:Latest");
        assert_eq!(full("Registry/app"), "Registry/app:latest");
    }

    #[test]
    fn malformed_references_are_rejected() {
        for bad in [
            "",
            ":",
            "bad::ref",
            "busybox:",
            "busybox:-tag",
            "/busybox",
            "busybox/",
            "a//b",
            "a..b",
            "a___b",
            "-a",
            "a-",
            "busy box",
            "busybox@sha256:abc",
            "busybox@md5:d41d8cd98f00b204e9800998ecf8427e",
            "localhost:port/app",
            "exa_mple.com/app",
            "[zz]:5000/app",
        ] {
            let err = Reference::parse(bad).expect_err(bad).to_string();
            assert!(err.starts_with("invalid reference format"), "{bad}: {err}");
        }
        let long_tag = format!("busybox:{}", "a".repeat(129));
        assert!(Reference::parse(&long_tag).is_err());
        let long_name = "a".repeat(250);
        assert!(Reference::parse(&long_name).is_err());
        assert!(Reference::parse(HEX)
            .unwrap_err()
            .to_string()
            .contains("64-byte hexadecimal"));
    }

    #[test]
    fn path_component_separators_follow_the_grammar() {
        for ok in ["a.b", "a_b", "a__b", "a-b", "a---b", "a1.b2_c3__d4-e5"] {
            assert!(valid_path_component(ok), "{ok}");
        }
        for bad in ["a._b", "a.", "_a", "a_-b", ""] {
            assert!(!valid_path_component(bad), "{bad}");
        }
    }
}
