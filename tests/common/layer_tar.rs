//! Hand-made layer tars for the hostile-archive tests, and what shows that a load stayed inside
//! its store: the store's layer directories, and a host directory with a canary file that must
//! stay as it was. Shared by tests/image.rs and the security suite.
#![allow(dead_code)]

use super::common::{unique, TestRoot};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A member of a hand-made tar. Names are written raw: the tar crate's setters refuse `..` and
/// absolute names, which the hostile archives need.
pub enum Member<'a> {
    File(&'a str, &'a [u8]),
    Mode(&'a str, u32, &'a [u8]),
    Dir(&'a str, u32),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

pub fn tar_bytes(members: &[Member<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let (name, kind, mode, data, link): (&str, tar::EntryType, u32, &[u8], Option<&str>) =
            match m {
                Member::File(n, d) => (n, tar::EntryType::Regular, 0o644, d, None),
                Member::Mode(n, mode, d) => (n, tar::EntryType::Regular, *mode, d, None),
                Member::Dir(n, mode) => (n, tar::EntryType::Directory, *mode, b"", None),
                Member::Symlink(n, t) => (n, tar::EntryType::Symlink, 0o777, b"", Some(t)),
                Member::HardLink(n, t) => (n, tar::EntryType::Link, 0o644, b"", Some(t)),
            };
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_704_067_200);
        h.set_size(data.len() as u64);
        if let Some(link) = link {
            h.set_link_name_literal(link).unwrap();
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn layer_dirs(root: &TestRoot) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.dir.join("layers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

pub fn load_file(root: &TestRoot, path: &Path) -> std::process::Output {
    root.berth(["load", "-i"]).arg(path).output().unwrap()
}

/// A directory outside the store with one canary file, to prove nothing reached it.
pub struct HostCanary {
    pub dir: PathBuf,
}

impl HostCanary {
    pub fn new() -> HostCanary {
        let dir = std::env::temp_dir().join(unique("berth-host-canary"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("canary"), b"canary").unwrap();
        std::fs::set_permissions(
            dir.join("canary"),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        HostCanary { dir }
    }

    #[track_caller]
    pub fn assert_untouched(&self) {
        let names: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["canary"],
            "something was written next to the host canary"
        );
        let meta = std::fs::symlink_metadata(self.dir.join("canary")).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o644, "host canary mode changed");
        assert_eq!(meta.nlink(), 1, "host canary gained a hard link");
        assert_eq!(std::fs::read(self.dir.join("canary")).unwrap(), b"canary");
    }
}

impl Drop for HostCanary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
