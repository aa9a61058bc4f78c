//! `USER[:GROUP]` resolved against the container's own /etc/passwd and /etc/group, parsed here
//! rather than through NSS: nothing from the container is ever loaded into berth
//! (CVE-2019-14271). The rules follow Docker's: a numeric user missing from passwd runs as that
//! uid with gid 0 and HOME=/; a name that is missing is an error.

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    passwd.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || line.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    group.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || line.starts_with('#') {
            return None;
        }
        let members = f[3].split(',').filter(|m| !m.is_empty()).collect();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// Resolve `spec` (`name|uid[:group|gid]`) with the given file contents (empty when absent).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let numeric_uid = user_part.parse::<u32>().ok();
    let entry = passwd_entries(passwd).find(|e| match numeric_uid {
        Some(uid) => e.uid == uid,
        None => e.name == user_part,
    });
    let (uid, mut gid, home, name) = match (&entry, numeric_uid) {
        (Some(e), _) => (e.uid, e.gid, e.home.to_string(), Some(e.name)),
        (None, Some(uid)) => (uid, 0, "/".to_string(), None),
        (None, None) => {
            bail!("unable to find user {user_part}: no matching entries in passwd file")
        }
    };
    if let Some(g) = group_part {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => match group_entries(group).find(|(n, _, _)| *n == g) {
                Some((_, id, _)) => id,
                None => bail!("unable to find group {g}: no matching entries in group file"),
            },
        };
    }
    let mut additional_gids = Vec::new();
    if let Some(name) = name {
        for (_, id, members) in group_entries(group) {
            if members.contains(&name) && id != gid && !additional_gids.contains(&id) {
                additional_gids.push(id);
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:100::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nusers:x:100:\nwheel:x:10:alice,bob\nnogroup:x:65534:\n";

    #[test]
    fn names_and_numbers() {
        let u = resolve("nobody", PASSWD, GROUP).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.home.as_str()),
            (65534, 65534, "/nonexistent")
        );
        let u = resolve("alice", PASSWD, GROUP).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.additional_gids.clone()),
            (1000, 100, vec![10])
        );
        let u = resolve("1000:wheel", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 10));
        assert!(u.additional_gids.is_empty());
        let u = resolve("4242:4343", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 4343, "/"));
        let u = resolve("0", "", "").unwrap();
        assert_eq!((u.uid, u.gid), (0, 0));
    }

    #[test]
    fn missing_names_are_errors() {
        let err = resolve("nosuch", PASSWD, GROUP).unwrap_err().to_string();
        assert_eq!(
            err,
            "unable to find user nosuch: no matching entries in passwd file"
        );
        let err = resolve("root:nosuch", PASSWD, GROUP)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unable to find group nosuch: no matching entries in group file"
        );
    }
}
