//! The container of the spawn-performance benchmarks (issue 15), as a linception
//! builder: user, mount, pid, uts and ipc namespaces (net on request), the maps
//! 0 -> 100000 x 65536, the rootfs bound as the root, a new proc, a tmpfs on /dev,
//! `pivot_root`, a read-only root, `no_new_privs`, a 48-rule EPERM seccomp list, and
//! `/bin/true`. `benches/phase_baseline.c` is the same container written in C;
//! [`DENIED`] is its list of syscalls.
//!
//! Shared by `benches/throughput.rs` and `examples/spawn_once.rs` (included with
//! `#[path]`), so both spawn exactly this container.

use std::path::Path;

use linception::seccomp_notify::{Action, Filter};
use linception::userns::IdMap;
use linception::{
    Container, ContainerBuilder, IdMapping, Loopback, Mount, Namespaces, RootFs, Seccomp,
};

/// The 48 syscalls the container may not make (EPERM), the same list, in the same
/// order, as `benches/phase_baseline.c`: module and kexec loading, keyrings, clocks,
/// swap, reboot, accounting, quotas, ptrace and cross-process memory, BPF and perf,
/// NUMA policy, file handles, mounting, namespaces, userfaultfd, obsolete calls.
pub const DENIED: [&str; 48] = [
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "delete_module",
    "finit_module",
    "get_mempolicy",
    "init_module",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "mbind",
    "mount",
    "move_pages",
    "open_by_handle_at",
    "perf_event_open",
    "name_to_handle_at",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "quotactl",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "umount2",
    "unshare",
    "userfaultfd",
    "fsopen",
    "fsmount",
    "move_mount",
    "lookup_dcookie",
    #[cfg(target_arch = "x86_64")]
    "create_module",
    #[cfg(target_arch = "x86_64")]
    "get_kernel_syms",
    #[cfg(target_arch = "x86_64")]
    "ioperm",
    #[cfg(target_arch = "x86_64")]
    "iopl",
    #[cfg(target_arch = "x86_64")]
    "nfsservctl",
    #[cfg(target_arch = "x86_64")]
    "query_module",
    #[cfg(target_arch = "x86_64")]
    "sysfs",
    #[cfg(target_arch = "x86_64")]
    "_sysctl",
    #[cfg(target_arch = "x86_64")]
    "uselib",
    #[cfg(target_arch = "x86_64")]
    "ustat",
    #[cfg(not(target_arch = "x86_64"))]
    "open_tree",
    #[cfg(not(target_arch = "x86_64"))]
    "fspick",
    #[cfg(not(target_arch = "x86_64"))]
    "fsconfig",
    #[cfg(not(target_arch = "x86_64"))]
    "mount_setattr",
    #[cfg(not(target_arch = "x86_64"))]
    "vhangup",
    #[cfg(not(target_arch = "x86_64"))]
    "nfsservctl",
    #[cfg(not(target_arch = "x86_64"))]
    "syslog",
    #[cfg(not(target_arch = "x86_64"))]
    "quotactl_fd",
    #[cfg(not(target_arch = "x86_64"))]
    "pidfd_getfd",
    #[cfg(not(target_arch = "x86_64"))]
    "fanotify_init",
];

/// The id map of both maps: 0 -> 100000, 65536 ids (writing it needs root).
pub fn id_map() -> IdMap {
    IdMap::single(0, 100_000, 65_536).expect("0 -> 100000 x 65536 is a valid map")
}

/// The seccomp filter: allow by default, EPERM for each of [`DENIED`].
pub fn filter() -> Filter {
    DENIED.iter().fold(Filter::new(Action::Allow), |f, name| {
        f.rule(*name, Action::Errno(libc::EPERM))
    })
}

/// The namespaces: user, mount, pid, uts, ipc, and net when `net`.
pub fn namespaces(net: bool) -> Namespaces {
    let ns =
        Namespaces::USER | Namespaces::MOUNT | Namespaces::PID | Namespaces::UTS | Namespaces::IPC;
    if net { ns | Namespaces::NET } else { ns }
}

/// The builder of one container on `rootfs` (a directory holding `/bin/true`, its
/// libraries, and `proc` and `dev` mount points): the one per-spawn builder call
/// of the benchmarks. With `net`, the loopback stays down, as in the C baseline,
/// which does not bring it up.
pub fn builder(rootfs: &Path, net: bool) -> ContainerBuilder {
    let b = Container::builder("/bin/true")
        .namespaces(namespaces(net))
        .uid_map(IdMapping::Map(id_map()))
        .gid_map(IdMapping::Map(id_map()))
        .root(RootFs::Dir(rootfs.to_owned()))
        .mount(Mount::proc("/proc"))
        .mount(Mount::tmpfs("/dev").mode(0o755))
        .read_only_root()
        .no_new_privs()
        .seccomp(Seccomp::new(filter()));
    if net { b.loopback(Loopback::Down) } else { b }
}
