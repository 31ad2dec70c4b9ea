//! Joined namespaces: the child joins them (`setns`), then creates the others
//! (`unshare`), and forks the container's init when a pid namespace is involved.
#![forbid(unsafe_code)]

use std::os::fd::AsFd;

use linception_pidfd::NamespaceFd;

use super::{ChildFds, Lowering, borrow};
use crate::builder::Namespaces;
use crate::step::Step;

/// A namespace to join, opened and checked by the parent.
#[derive(Debug)]
pub(crate) struct Join {
    /// Its type (one flag).
    pub ns: Namespaces,
    pub fd: NamespaceFd,
    /// The source, for the step's label (`"/proc/42/ns/net"`, `fd 7`, `pidfd 9`).
    pub shown: String,
}

/// The order of joins: the user namespace first (the others may be owned by
/// it, and once in it the caller has no privilege left over its own), the mount
/// namespace last (it changes the root and working directory).
pub(crate) const JOIN_ORDER: [Namespaces; 8] = [
    Namespaces::USER,
    Namespaces::IPC,
    Namespaces::UTS,
    Namespaces::NET,
    Namespaces::PID,
    Namespaces::CGROUP,
    Namespaces::TIME,
    Namespaces::MOUNT,
];

/// Whether the container's init must be forked by the child after the joins:
/// joined or created, a pid namespace holds only the children of the process that
/// entered it.
pub(crate) fn fork_needed(created: Namespaces, joined: Namespaces) -> bool {
    !joined.is_empty() && (created | joined).contains(Namespaces::PID)
}

/// With namespaces to join: the joins, `unshare` of the namespaces to create
/// (`ns`, less time which has a step of its own), the id map handshake for a new
/// user namespace, and the fork of the init. Returns whether it waited for the
/// parent (so the caller does not wait again).
pub(super) fn join_then_create<'f>(
    p: &mut Lowering<'f>,
    fds: &'f ChildFds,
    ns: Namespaces,
) -> bool {
    if fds.joins.is_empty() {
        return false;
    }
    for j in &fds.joins {
        p.push(
            Step::JoinNamespace {
                fd: j.fd.as_fd(),
                nstype: j.ns.bits() as u32,
            },
            format!(
                "setns({}, {}) (join)",
                j.shown,
                crate::builder::namespace_names(j.ns)
            ),
        );
    }
    let unshare = ns - Namespaces::TIME;
    if !unshare.is_empty() {
        p.push(
            Step::Unshare {
                flags: unshare.bits() as u32,
            },
            format!(
                "unshare({}) (create the other namespaces)",
                crate::builder::namespace_names(unshare)
            ),
        );
    }
    let mut waited = false;
    if let (Some(ready), Some(sync)) = (borrow(&fds.ready), borrow(&fds.sync)) {
        p.push(
            Step::TellParent { fd: ready },
            "tell the parent the new user namespace exists",
        );
        p.push(
            Step::WaitForParent { fd: sync },
            "wait for the parent to write the id maps",
        );
        waited = true;
    }
    if let Some(sock) = borrow(&fds.pidfd_sock) {
        p.push(
            Step::ForkIntoParent { sock },
            "clone3(CLONE_PARENT | CLONE_PIDFD): fork the container's init into its pid namespace",
        );
    }
    waited
}

#[cfg(test)]
mod tests {
    use linception_pidfd::NamespaceType;

    use super::super::{Host, add_joins, open_fds, spawn};
    use super::*;
    use crate::{Container, NsSource};

    fn join(ns: Namespaces, name: &str) -> Join {
        Join {
            ns,
            fd: NamespaceFd::open(format!("/proc/self/ns/{name}")).expect("open a namespace"),
            shown: format!("{name:?}"),
        }
    }

    /// The joins in their order, then the others created, the id maps, the fork.
    #[test]
    fn joins_come_first_then_unshare_then_the_fork() {
        let b = Container::builder("/bin/true")
            .namespaces(Namespaces::USER | Namespaces::PID | Namespaces::NET | Namespaces::UTS)
            .join(
                NamespaceType::Net,
                NsSource::Path("/proc/self/ns/net".into()),
            )
            .join(
                NamespaceType::Uts,
                NsSource::Path("/proc/self/ns/uts".into()),
            )
            .env_clear();
        let ns = b.effective_namespaces();
        assert_eq!(ns, Namespaces::USER | Namespaces::PID);
        let created = ns;
        let joined = b.joined_namespaces();
        assert!(fork_needed(created, joined));
        let (mut parent, mut fds) = open_fds(&b, true, false, false, true).unwrap();
        let joins = vec![join(Namespaces::UTS, "uts"), join(Namespaces::NET, "net")];
        add_joins(&mut parent, &mut fds, joins, true).unwrap();
        assert!(parent.ready.is_some() && fds.ready.is_some());
        let host = Host {
            last_cap: 40,
            tmpfs_root_at: "/tmp",
            env: Vec::new(),
            bind_is_dir: Vec::new(),
            hide: Vec::new(),
        };
        let plan = spawn(&b, &host, &fds, None, None, false);
        let labels: Vec<&str> = plan.labels.iter().map(String::as_str).collect();
        assert_eq!(
            &labels[..7],
            [
                "reset SIGPIPE and unblock signals",
                "setns(\"uts\", UTS) (join)",
                "setns(\"net\", NET) (join)",
                "unshare(USER|PID) (create the other namespaces)",
                "tell the parent the new user namespace exists",
                "wait for the parent to write the id maps",
                "clone3(CLONE_PARENT | CLONE_PIDFD): fork the container's init into its pid \
                 namespace",
            ]
        );
        // A joined network namespace keeps its lo as it is.
        assert!(!labels.iter().any(|l| l.contains("loopback")), "{labels:?}");
    }

    #[test]
    fn without_a_pid_namespace_the_child_is_the_container() {
        assert!(!fork_needed(Namespaces::USER, Namespaces::NET));
        assert!(fork_needed(Namespaces::USER, Namespaces::PID));
        assert!(!fork_needed(Namespaces::PID, Namespaces::empty()));
    }
}
