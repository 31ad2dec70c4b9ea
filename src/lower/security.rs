//! What the program may do: capability sets, `no_new_privs`, the seccomp filter.
#![forbid(unsafe_code)]

use linception_seccomp_notify::{FilterFlags, Program};

use super::{ChildFds, Host, Lowering, borrow};
use crate::builder::ContainerBuilder;
use crate::step::Step;

/// The Landlock ruleset, enforced while the child is still root of its user
/// namespace (the kernel wants `no_new_privs` or `CAP_SYS_ADMIN` there).
pub(super) fn landlock<'f>(p: &mut Lowering<'f>, fds: &'f ChildFds) {
    if let Some(fd) = borrow(&fds.landlock) {
        p.push(
            Step::Landlock { ruleset: fd },
            "landlock_restrict_self(ruleset, 0)",
        );
    }
}

/// The bounding set is dropped first, while the child still has `CAP_SETPCAP`.
pub(super) fn bounding(p: &mut Lowering<'_>, b: &ContainerBuilder, host: &Host) {
    let Some(caps) = &b.capabilities else {
        return;
    };
    p.push(
        Step::DropBounding {
            keep: caps.bounding,
            last_cap: host.last_cap,
        },
        format!("prctl(PR_CAPBSET_DROP) down to {:?}", caps.bounding),
    );
    if b.uid.is_some_and(|u| u != 0) {
        p.push(Step::KeepCaps, "prctl(PR_SET_KEEPCAPS, 1)");
    }
}

/// The three sets, then the ambient one (after the uid change).
pub(super) fn capabilities(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    let Some(caps) = &b.capabilities else {
        return;
    };
    p.push(
        Step::Capset {
            effective: caps.effective,
            permitted: caps.permitted,
            inheritable: caps.inheritable,
        },
        format!(
            "capset(effective {:?}, permitted {:?}, inheritable {:?})",
            caps.effective, caps.permitted, caps.inheritable
        ),
    );
    if !caps.ambient.is_empty() {
        p.push(
            Step::Ambient { set: caps.ambient },
            format!("prctl(PR_CAP_AMBIENT_RAISE) of {:?}", caps.ambient),
        );
    }
}

/// The LSM exec labels: the attribute is the writing task's own and holds until
/// its `execve`, which the kernel runs under the label. A container's init writes
/// it while the host's `/proc` is still in view; an `exec_in` process after it has
/// joined the container and forked into its pid namespace, through the container's
/// `/proc` (as runc's exec does). AppArmor's is `exec PROFILE` in
/// `attr/apparmor/exec` (the kernel's `aa_change_profile` on exec), SELinux's the
/// context in `attr/exec` (`setexeccon`).
///
/// # References
/// - [proc_pid_attr(5)](https://man7.org/linux/man-pages/man5/proc_pid_attr.5.html)
pub(super) fn exec_labels(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    if let Some(profile) = &b.apparmor_profile {
        let path = "/proc/self/attr/apparmor/exec";
        p.push(
            Step::ExecLabel {
                path: super::c(path),
                value: format!("exec {profile}").into_bytes(),
            },
            format!("write \"exec {profile}\" to {path} (AppArmor profile)"),
        );
    }
    if let Some(label) = &b.selinux_label {
        let path = "/proc/self/attr/exec";
        p.push(
            Step::ExecLabel {
                path: super::c(path),
                value: label.as_bytes().to_vec(),
            },
            format!("write {label:?} to {path} (SELinux label)"),
        );
    }
}

/// Whether the program keeps `CAP_SYS_ADMIN` in its effective set after the uid
/// change and capset (a filter installed last, without `no_new_privs`, needs it).
pub(super) fn keeps_sys_admin(b: &ContainerBuilder) -> bool {
    match &b.capabilities {
        Some(caps) => caps.effective.contains(crate::caps::CapSet::SYS_ADMIN),
        None => b.uid.is_none_or(|u| u == 0),
    }
}

pub(super) fn no_new_privs(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    if b.no_new_privs {
        p.push(Step::NoNewPrivs, "prctl(PR_SET_NO_NEW_PRIVS, 1)");
    }
}

pub(super) fn seccomp<'f>(
    p: &mut Lowering<'f>,
    fds: &'f ChildFds,
    seccomp: Option<(Program, FilterFlags)>,
) {
    let Some((program, flags)) = seccomp else {
        return;
    };
    let len = program.len();
    let listener_sock = borrow(&fds.listener_sock);
    let label = format!(
        "seccomp(SECCOMP_SET_MODE_FILTER, {flags:?}, {len} instructions){}",
        if listener_sock.is_some() {
            " and send the listener to the parent"
        } else {
            ""
        }
    );
    p.push(
        Step::Seccomp {
            program,
            flags,
            listener_sock,
        },
        label,
    );
}
