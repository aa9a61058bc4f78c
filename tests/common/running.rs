//! A long-running container for the exec and cp tests: `berth run --rm --name N busybox CMD…`
//! as a background child of the test, ready once `berth exec N true` succeeds; dropping the
//! guard kills berth (its container dies with it: parent-death signal) and removes the record.
#![allow(dead_code)]

use super::common::TestRoot;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub struct Running<'a> {
    pub root: &'a TestRoot,
    pub name: String,
    child: Child,
}

impl<'a> Running<'a> {
    /// `berth run --rm --name NAME ARGS…` (ARGS: run flags, the image, its command), then wait
    /// (at most 10 s) until exec works in it.
    pub fn start(root: &'a TestRoot, name: &str, args: &[&str]) -> Running<'a> {
        let mut all = vec!["run", "--rm", "--name", name];
        all.extend_from_slice(args);
        let child = root
            .berth(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn berth run");
        let running = Running {
            root,
            name: name.to_string(),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = root.run(["exec", name, "true"]);
            if out.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "container {name} never became ready: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        running
    }

    /// A container that sleeps (busybox `sleep 600`).
    pub fn sleeping(root: &'a TestRoot, name: &str) -> Running<'a> {
        Running::start(root, name, &["busybox", "sleep", "600"])
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self
            .root
            .berth(["rm", "-f", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
