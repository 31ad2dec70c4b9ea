//! Who the program is: root inside a new user namespace, uid/gid/groups, hostname,
//! time namespace offsets, session keyring.
#![forbid(unsafe_code)]

use rustix::process::{Gid, Uid};

use super::{BecomeRoot, Lowering, c};
use crate::builder::{ContainerBuilder, Namespaces, SessionKeyring};
use crate::step::Step;
use crate::validate::{shown, summary};

/// With 0 mapped on both sides but not to the caller's own ids, the child becomes
/// root inside before its setup (its ids outside may not be mapped at all).
pub(super) fn become_root(p: &mut Lowering<'_>, become_root: BecomeRoot) {
    let Some(setgroups_allowed) = become_root else {
        return;
    };
    if setgroups_allowed {
        p.push(
            Step::SetGroups { groups: Vec::new() },
            "setgroups([]) (drop the host's supplementary groups)",
        );
    }
    p.push(
        Step::SetGid {
            gid: Gid::from_raw(0),
        },
        "setresgid(0, 0, 0) (become root inside)",
    );
    p.push(
        Step::SetUid {
            uid: Uid::from_raw(0),
        },
        "setresuid(0, 0, 0) (become root inside)",
    );
}

/// A joined user namespace starts the program as its root (the caller's ids may not
/// be mapped there), unless uid()/gid() say otherwise.
pub(super) fn joined_root(p: &mut Lowering<'_>, b: &ContainerBuilder, root_mapped: bool) {
    if !root_mapped {
        return;
    }
    if b.gid.is_none() {
        p.push(
            Step::SetGid {
                gid: Gid::from_raw(0),
            },
            "setresgid(0, 0, 0) (root of the joined user namespace)",
        );
    }
    if b.uid.is_none() {
        p.push(
            Step::SetUid {
                uid: Uid::from_raw(0),
            },
            "setresuid(0, 0, 0) (root of the joined user namespace)",
        );
    }
}

/// The time namespace is made by the child itself, so that its offsets are written
/// before any process is in it.
pub(super) fn time_namespace(p: &mut Lowering<'_>, b: &ContainerBuilder, ns: Namespaces) {
    if !ns.contains(Namespaces::TIME) {
        return;
    }
    let (ms, mn) = b.monotonic_offset.unwrap_or((0, 0));
    let (bs, bn) = b.boottime_offset.unwrap_or((0, 0));
    let offsets = format!("monotonic {ms} {mn}\nboottime {bs} {bn}\n").into_bytes();
    p.push(
        Step::TimeNamespace { offsets },
        format!(
            "unshare(CLONE_NEWTIME) and write timens_offsets (monotonic {ms}s, boottime {bs}s)"
        ),
    );
}

pub(super) fn hostname(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    if let Some(name) = &b.hostname {
        p.push(
            Step::Hostname { name: c(name) },
            format!("sethostname({})", shown(name)),
        );
    }
    if let Some(name) = &b.domainname {
        p.push(
            Step::Domainname { name: c(name) },
            format!("setdomainname({})", shown(name)),
        );
    }
}

pub(super) fn keyring(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    let Some(keyring) = &b.keyring else {
        return;
    };
    let (name, shown) = match keyring {
        SessionKeyring::Anonymous => (None, "NULL".to_owned()),
        SessionKeyring::Named(n) => (Some(c(n)), format!("{n:?}")),
    };
    p.push(
        Step::JoinKeyring { name },
        format!("keyctl(KEYCTL_JOIN_SESSION_KEYRING, {shown})"),
    );
}

/// Groups, gid, uid (in that order: setgroups and setresgid need the privilege
/// setresuid may drop).
pub(super) fn ids(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    if let Some(groups) = &b.groups {
        p.push(
            Step::SetGroups {
                groups: groups.iter().map(|g| Gid::from_raw(*g)).collect(),
            },
            format!("setgroups({})", summary(groups)),
        );
    }
    if let Some(gid) = b.gid {
        p.push(
            Step::SetGid {
                gid: Gid::from_raw(gid),
            },
            format!("setresgid({gid}, {gid}, {gid})"),
        );
    }
    if let Some(uid) = b.uid {
        p.push(
            Step::SetUid {
                uid: Uid::from_raw(uid),
            },
            format!("setresuid({uid}, {uid}, {uid})"),
        );
    }
}
