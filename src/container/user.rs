//! `USER[:GROUP]` resolved against the container's own /etc/passwd and /etc/group, parsed here
//! rather than through NSS: nothing from the container is ever loaded into berth
//! (CVE-2019-14271). The rules follow Docker's: a numeric user missing from passwd runs as that
//! uid with gid 0 and HOME=/; a name that is missing is an error. Ids above 2^31-1 are refused
//! as runc refuses them: 4294967295 is (uid_t)-1, which setresuid(2) reads as "unchanged", so a
//! container started as root would have stayed root.

use anyhow::{bail, Result};

/// The largest uid or gid a container may run as: runc's limit (moby/sys/user `maxID`,
/// `1<<31 - 1`, "for 32-bit systems compatibility"). Above it lies (uid_t)-1, the "no change"
/// value of setresuid(2) and setresgid(2).
pub const MAX_ID: u32 = (1 << 31) - 1;

/// A numeric user or group part: `None` for a name, an error for digits out of range.
fn numeric_id(spec: &str, part: &str) -> Result<Option<u32>> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match part.parse::<u32>() {
        Ok(id) if id <= MAX_ID => Ok(Some(id)),
        _ => bail!(out_of_range(spec)),
    }
}

fn out_of_range(spec: &str) -> String {
    format!("invalid user \"{spec}\": uids and gids must be in range 0-{MAX_ID}")
}

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
    let numeric_uid = numeric_id(spec, user_part)?;
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
        gid = match numeric_id(spec, g)? {
            Some(n) => n,
            None => match group_entries(group).find(|(n, _, _)| *n == g) {
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
    // An image's own passwd or group file may name any id: the same limit holds for those.
    if uid > MAX_ID || gid > MAX_ID || additional_gids.iter().any(|g| *g > MAX_ID) {
        bail!(out_of_range(spec));
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

    #[test]
    fn ids_above_2_pow_31_minus_1_are_refused() {
        let passwd = "evil:x:4294967295:0::/:/bin/sh\nhalf:x:1000:4294967295::/:/bin/sh\nsupp:x:1001:1001::/:/bin/sh\n";
        let group = "big:x:4294967295:supp\n";
        for spec in [
            "4294967295",
            "4294967295:4294967295",
            "0:4294967295",
            "2147483648",
            "99999999999999999999",
            "evil",
            "half",
            "supp",
            "1000:big",
        ] {
            let err = resolve(spec, passwd, group).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("invalid user \"{spec}\": uids and gids must be in range 0-2147483647"),
            );
        }
        let u = resolve("2147483647:2147483647", "", "").unwrap();
        assert_eq!((u.uid, u.gid), (MAX_ID, MAX_ID));
    }
}
