//! Errors that decide the exit code, and how an error chain is printed.
//!
//! Most errors are plain `anyhow` chains and mean "the engine failed" (exit 125, as Docker). The
//! few that callers branch on or that map to other exit codes are typed here.

use std::fmt;

/// Docker's exit code for an error of the engine itself.
pub const EXIT_ENGINE: i32 = 125;
/// The container's command was found but could not be run.
pub const EXIT_CANNOT_RUN: i32 = 126;
/// The container's command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

/// An error that carries its own exit code (e.g. exec failures: 126, 127).
#[derive(Debug)]
pub struct CodedError {
    pub code: i32,
    pub message: String,
}

/// An error with its own exit code.
pub fn coded(code: i32, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(CodedError {
        code,
        message: message.into(),
    })
}

impl fmt::Display for CodedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodedError {}

/// Errors the commands branch on.
#[derive(Debug)]
pub enum NotFound {
    Image(String),
    Container(String),
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotFound::Image(r) => write!(f, "No such image: {r}"),
            NotFound::Container(r) => write!(f, "No such container: {r}"),
        }
    }
}

impl std::error::Error for NotFound {}

/// The exit code for an error: the first coded error in the chain, else 125.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    err.chain()
        .find_map(|e| e.downcast_ref::<CodedError>().map(|c| c.code))
        .unwrap_or(EXIT_ENGINE)
}

/// The whole chain on one line: "outer: inner: root cause".
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string().replace('\n', " ");
        if parts.last().is_some_and(|p| p.ends_with(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn coded_error_code_is_found_through_context() {
        let err = Err::<(), _>(coded(
            127,
            "exec: \"x\": executable file not found in $PATH",
        ))
        .context("start container")
        .unwrap_err();
        assert_eq!(exit_code(&err), 127);
        assert_eq!(
            one_line(&err),
            "start container: exec: \"x\": executable file not found in $PATH"
        );
    }

    #[test]
    fn plain_errors_are_engine_errors() {
        let err = anyhow::anyhow!("boom");
        assert_eq!(exit_code(&err), EXIT_ENGINE);
    }
}
