//! Plans as snapshots: lowering is pure, so each builder's steps and labels are
//! checked without a kernel.

use std::ffi::OsString;

use super::*;
use crate::{Container, Mount};

fn host() -> Host {
    Host {
        last_cap: 40,
        tmpfs_root_at: "/tmp",
        env: vec![(OsString::from("PATH"), OsString::from("/a:/b/c"))],
        bind_is_dir: Vec::new(),
        hide: Vec::new(),
    }
}

fn host_for(b: &ContainerBuilder) -> Host {
    Host {
        bind_is_dir: vec![true; b.mounts.len()],
        ..host()
    }
}

fn labels<'p>(p: &'p Plan<'_>) -> Vec<&'p str> {
    p.labels.iter().map(String::as_str).collect()
}

#[test]
fn cloexec_ranges_skip_exactly_the_targets() {
    assert_eq!(fds::cloexec_ranges(&[]), [(3, u32::MAX)]);
    assert_eq!(fds::cloexec_ranges(&[3]), [(4, u32::MAX)]);
    assert_eq!(fds::cloexec_ranges(&[3, 4, 9]), [(5, 8), (10, u32::MAX)]);
    assert_eq!(fds::cloexec_ranges(&[7]), [(3, 6), (8, u32::MAX)]);
}

#[test]
fn exec_candidates_follow_the_containers_path() {
    let env = vec![(OsString::from("PATH"), OsString::from("/a:/b/c"))];
    let c = exec::candidates(OsStr::new("prog"), &env);
    let c: Vec<&[u8]> = c.iter().map(|c| c.as_bytes()).collect();
    assert_eq!(c, [&b"/a/prog"[..], &b"/b/c/prog"[..]]);
    let c = exec::candidates(OsStr::new("./x"), &env);
    assert_eq!(c[0].as_bytes(), b"./x");
    let c = exec::candidates(OsStr::new("sh"), &[]);
    assert!(c.iter().any(|c| c.as_bytes() == b"/bin/sh"));
}

#[test]
fn a_rootless_container_lowers_to_these_steps() {
    let b = Container::builder("/bin/true")
        .namespaces(Namespaces::USER | Namespaces::MOUNT | Namespaces::PID)
        .root(RootFs::Tmpfs)
        .mount(Mount::bind("/usr", "/usr").read_only().recursive())
        .mount(Mount::proc("/proc").pid_subset())
        .env_clear();
    let (_parent, fds) = open_fds(&b, true, false, false, false).unwrap();
    let plan = spawn(&b, &host_for(&b), &fds, None, None, false);
    assert_eq!(
        labels(&plan),
        [
            "reset SIGPIPE and unblock signals",
            "wait for the parent to write the id maps",
            "make the mount tree private (mount_setattr(\"/\", AT_RECURSIVE, MS_PRIVATE))",
            "bind /usr on /usr: open_tree(\"/usr\", OPEN_TREE_CLONE)",
            "bind /usr on /usr: mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)",
            "mount tmpfs as the root: fsopen(\"tmpfs\")",
            "mount tmpfs as the root: fsconfig mode=0755",
            "mount tmpfs as the root: fsmount",
            "mount tmpfs as the root: move_mount onto /tmp",
            "create directory /usr in the root",
            "bind /usr on /usr",
            "mount proc on /proc: fsopen(\"proc\")",
            "mount proc on /proc: fsconfig subset=pid",
            "mount proc on /proc: fsmount",
            "create directory /proc in the root",
            "mount proc on /proc",
            "pivot_root into the new root and detach the old one",
            "set up fds [] and close_range(3.., CLOSE_RANGE_CLOEXEC) the rest",
            "execve(\"/bin/true\"), looked up inside the container's root",
        ]
    );
    assert_eq!(plan.steps.len(), plan.labels.len());
    assert_eq!(plan.slots.len(), 3, "root, the bind, proc");
    assert!(matches!(plan.steps[1], Step::WaitForParent { .. }));
    assert!(matches!(plan.steps.last(), Some(Step::Exec { .. })));
}

#[test]
fn dev_and_a_directory_root_create_targets_lazily() {
    let b = Container::builder("/bin/true")
        .root(RootFs::Dir("/srv/root".into()))
        .mount(Mount::dev("/dev"))
        .mount(Mount::tmpfs("/run/x").mode(0o700));
    let (_parent, fds) = open_fds(&b, false, false, false, false).unwrap();
    let plan = spawn(&b, &host_for(&b), &fds, None, None, false);
    let l = labels(&plan);
    assert!(l.contains(&"bind /dev/null on /dev/null"), "{l:#?}");
    assert!(
        l.contains(&"create symlink /dev/ptmx -> pts/ptmx"),
        "{l:#?}"
    );
    assert!(
        l.contains(&"mount tmpfs on /run/x: fsconfig mode=700"),
        "{l:#?}"
    );
    // A directory root: /run is made (a parent), /run/x only if opening it fails.
    assert!(l.contains(&"create directory /run in the root"), "{l:#?}");
    assert!(
        !l.contains(&"create directory /run/x in the root"),
        "{l:#?}"
    );
    let attach = plan
        .steps
        .iter()
        .zip(&plan.labels)
        .find(|(_, l)| *l == "mount tmpfs on /run/x")
        .map(|(s, _)| s);
    assert!(
        matches!(
            attach,
            Some(Step::Attach {
                create: Some(_),
                ..
            })
        ),
        "the target is created on demand"
    );
}

#[test]
fn identity_steps_come_in_the_kernels_order() {
    let b = Container::builder("/bin/true")
        .groups(vec![1, 2])
        .gid(3)
        .uid(4)
        .hostname("box")
        .no_new_privs()
        .session_keyring(crate::SessionKeyring::Named("k".into()));
    let (_parent, fds) = open_fds(&b, true, false, false, false).unwrap();
    let plan = spawn(&b, &host_for(&b), &fds, Some(true), None, false);
    let l = labels(&plan);
    let at = |needle: &str| {
        l.iter()
            .position(|x| x.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle} in {l:#?}"))
    };
    assert!(at("setgroups([])") < at("setresgid(0, 0, 0)"));
    assert!(at("setresgid(0, 0, 0)") < at("setresuid(0, 0, 0)"));
    assert!(at("setresuid(0, 0, 0)") < at("sethostname(\"box\")"));
    assert!(at("keyctl(KEYCTL_JOIN_SESSION_KEYRING, \"k\")") < at("setgroups([1, 2])"));
    assert!(at("setgroups([1, 2])") < at("setresgid(3, 3, 3)"));
    assert!(at("setresgid(3, 3, 3)") < at("setresuid(4, 4, 4)"));
    assert!(at("setresuid(4, 4, 4)") < at("prctl(PR_SET_NO_NEW_PRIVS, 1)"));
    assert!(at("prctl(PR_SET_NO_NEW_PRIVS, 1)") < at("set up fds"));
    assert!(at("set up fds") < at("execve("));
}

#[test]
fn passed_fds_and_stdio_are_placed() {
    let (r, w) = rustix::pipe::pipe().unwrap();
    let b = Container::builder("/bin/true")
        .stdin(Stdio::Null)
        .stdout(Stdio::Piped)
        .pass_fd(r, 7)
        .pass_fd(w, 3);
    let (_parent, fds) = open_fds(&b, false, false, false, false).unwrap();
    let plan = spawn(&b, &host_for(&b), &fds, None, None, false);
    let Some(Step::Fds {
        moves,
        high,
        cloexec_ranges,
    }) = plan.steps.iter().find(|s| matches!(s, Step::Fds { .. }))
    else {
        panic!("no fd step");
    };
    let targets: Vec<RawFd> = moves.iter().map(|(_, t)| *t).collect();
    assert_eq!(targets, [0, 1, 7, 3]);
    assert_eq!(*high, 8);
    assert_eq!(cloexec_ranges, &[(4, 6), (8, u32::MAX)]);
}

use std::os::fd::RawFd;

#[test]
fn devices_masks_and_read_only_paths_come_before_a_read_only_root() {
    let b = Container::builder("/bin/true")
        .namespaces(Namespaces::USER | Namespaces::MOUNT)
        .root(RootFs::Tmpfs)
        .read_only_root()
        .mask_path("/proc/kcore")
        .read_only_path("/proc/sys")
        .device(crate::Device::char("/dev/fuse", 10, 229))
        .root_propagation(linception_mountapi::Propagation::Unbindable)
        .env_clear();
    let (_parent, fds) = open_fds(&b, true, false, false, false).unwrap();
    let plan = spawn(&b, &host_for(&b), &fds, None, None, false);
    let l = labels(&plan);
    let at = |label: &str| {
        l.iter()
            .position(|x| *x == label)
            .unwrap_or_else(|| panic!("no {label:?} in {l:#?}"))
    };
    // The host's nodes are taken before the root is mounted.
    let null = at("mask /proc/kcore: open_tree(\"/dev/null\", OPEN_TREE_CLONE)");
    let fuse = at(
        "character device 10:229 at \"/dev/fuse\": open_tree(\"/dev/fuse\", OPEN_TREE_CLONE) \
         of the host's node",
    );
    let root = at("mount tmpfs as the root: fsopen(\"tmpfs\")");
    assert!(null < root && fuse < root, "{l:#?}");
    let bind = at("bind the host's character device 10:229 at \"/dev/fuse\"");
    let mask =
        at("mask /proc/kcore: bind /dev/null on a file, an empty read-only tmpfs on a directory");
    let ro = at(
        "make /proc/sys read-only: open_tree(OPEN_TREE_CLONE | AT_RECURSIVE), \
         mount_setattr(MOUNT_ATTR_RDONLY), move_mount onto itself",
    );
    let ro_root = at("make the root read-only: mount_setattr(MOUNT_ATTR_RDONLY)");
    let pivot = at("pivot_root into the new root and detach the old one");
    let unbindable = at("make the root unbindable: mount_setattr(\"/\", MS_UNBINDABLE)");
    assert!(
        root < bind && bind < mask && mask < ro && ro < ro_root && ro_root < pivot,
        "{l:#?}"
    );
    assert_eq!(unbindable, pivot + 1, "{l:#?}");
}

#[test]
fn a_fifo_is_made_with_mknod_in_a_user_namespace_beside_a_bound_device() {
    let b = Container::builder("/bin/true")
        .namespaces(Namespaces::USER | Namespaces::MOUNT)
        .root(RootFs::Tmpfs)
        .device(crate::Device::char("/dev/fuse", 10, 229))
        .device(crate::Device::fifo("/dev/events").mode(0o600))
        .env_clear();
    let (_parent, fds) = open_fds(&b, true, false, false, false).unwrap();
    let plan = spawn(&b, &host_for(&b), &fds, None, None, false);
    let l = labels(&plan);
    // One host node taken (the character device's), none for the FIFO.
    assert_eq!(
        l.iter()
            .filter(|x| x.contains("open_tree") && x.contains("host's node"))
            .count(),
        1,
        "{l:#?}"
    );
    assert!(
        l.contains(&"bind the host's character device 10:229 at \"/dev/fuse\""),
        "{l:#?}"
    );
    assert!(l.contains(&"mknod fifo at \"/dev/events\""), "{l:#?}");
    assert!(
        !l.iter().any(|x| x.contains("fifo") && x.contains("bind")),
        "{l:#?}"
    );
}

#[test]
fn a_profiled_plan_marks_each_phase_and_an_unprofiled_one_nothing() {
    let builder = || Container::builder("/bin/true").root(RootFs::Dir("/srv/root".into()));
    let b0 = builder();
    let (_parent0, fds0) = open_fds(&b0, true, false, false, false).unwrap();
    let plain = spawn(&b0, &host_for(&b0), &fds0, None, None, false);
    assert!(
        !plain.steps.iter().any(|s| matches!(s, Step::Mark { .. })),
        "{:?}",
        labels(&plain)
    );
    let b = builder().profile();
    let (_parent, fds) = open_fds(&b, true, false, false, false).unwrap();
    let plan = spawn(&b, &host_for(&b), &fds, None, None, false);
    let marks: Vec<(usize, Mark)> = plan
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            Step::Mark { mark } => Some((i, *mark)),
            _ => None,
        })
        .collect();
    let order: Vec<Mark> = marks.iter().map(|m| m.1).collect();
    assert_eq!(
        order,
        [
            Mark::Released,
            Mark::MountsDone,
            Mark::PivotRoot,
            Mark::Seccomp,
            Mark::Execve
        ]
    );
    let at = |i: usize| &plan.steps[i];
    assert!(matches!(at(marks[0].0 - 1), Step::WaitForParent { .. }));
    assert!(matches!(at(marks[2].0 - 1), Step::PivotRoot));
    assert!(matches!(at(marks[4].0 + 1), Step::Exec { .. }));
    assert_eq!(plan.steps.len(), plain.steps.len() + 5);
}

/// The index of the first label starting with `prefix`.
fn step_at(l: &[&str], prefix: &str) -> usize {
    l.iter()
        .position(|s| s.starts_with(prefix))
        .unwrap_or_else(|| panic!("no step {prefix:?} in {l:#?}"))
}

#[test]
fn without_no_new_privs_a_filter_comes_before_the_capabilities_it_needs() {
    use crate::{CapSet, Capabilities};
    use linception_seccomp_notify::{Action, Filter, FilterFlags};
    let program = || {
        let filter = Filter::new(Action::Allow).rule("mknodat", Action::Errno(1));
        Some((filter.compile().unwrap(), FilterFlags::empty()))
    };
    // No CAP_SYS_ADMIN left and no no_new_privs: the kernel would refuse the filter
    // after capset, so it is installed before the uid change (as runc does).
    let b = Container::builder("/bin/true")
        .capabilities(Capabilities::only(CapSet::CHOWN))
        .uid(1000)
        .gid(1000);
    let (_parent, fds) = open_fds(&b, false, false, false, false).unwrap();
    let plan = spawn(&b, &host_for(&b), &fds, None, program(), false);
    let l = labels(&plan);
    assert!(
        step_at(&l, "set up fds") < step_at(&l, "seccomp("),
        "{l:#?}"
    );
    assert!(
        step_at(&l, "seccomp(") < step_at(&l, "setresgid("),
        "{l:#?}"
    );
    assert!(step_at(&l, "setresuid(") < step_at(&l, "capset("), "{l:#?}");
    // With no_new_privs, or with CAP_SYS_ADMIN kept, it stays last before execve.
    for b in [
        Container::builder("/bin/true")
            .capabilities(Capabilities::only(CapSet::CHOWN))
            .no_new_privs(),
        Container::builder("/bin/true").capabilities(Capabilities::only(CapSet::SYS_ADMIN)),
        Container::builder("/bin/true"),
    ] {
        let (_parent, fds) = open_fds(&b, false, false, false, false).unwrap();
        let plan = spawn(&b, &host_for(&b), &fds, None, program(), false);
        let l = labels(&plan);
        assert_eq!(
            step_at(&l, "seccomp(") + 1,
            step_at(&l, "execve("),
            "{l:#?}"
        );
    }
}

#[test]
fn a_move_and_chroot_plan_hides_then_moves_where_the_pivot_was() {
    let b = Container::builder("/bin/true")
        .root(RootFs::Tmpfs)
        .root_propagation(linception_mountapi::Propagation::Unbindable)
        .root_change(crate::RootChange::MoveAndChroot)
        .profile();
    let (_parent, fds) = open_fds(&b, true, false, false, false).unwrap();
    let host = Host {
        hide: vec![c("/proc"), c("/sys")],
        ..host_for(&b)
    };
    let plan = spawn(&b, &host, &fds, None, None, false);
    let l = labels(&plan);
    assert!(!l.iter().any(|x| x.contains("pivot_root")), "{l:#?}");
    let moved = l
        .iter()
        .position(|x| x.starts_with("hide the old root's proc and sysfs mounts (2)"))
        .unwrap_or_else(|| panic!("no move in {l:#?}"));
    match &plan.steps[moved] {
        Step::MoveRoot { hide, on_slash } => {
            assert_eq!(hide, &[c("/proc"), c("/sys")]);
            assert!(!on_slash, "the tmpfs root is attached on /tmp");
        }
        _ => panic!("{l:#?}"),
    }
    // The profile's root-change mark, then the root's propagation, follow it.
    assert!(matches!(
        plan.steps[moved + 1],
        Step::Mark {
            mark: Mark::PivotRoot
        }
    ));
    assert!(
        l[moved + 2].starts_with("make the root unbindable"),
        "{l:#?}"
    );
}

#[test]
fn a_chroot_plan_makes_no_mount() {
    let b = Container::builder("/bin/true")
        .namespaces(Namespaces::USER | Namespaces::PID)
        .root(RootFs::Dir("/srv/image".into()))
        .root_change(crate::RootChange::Chroot);
    let (_parent, fds) = open_fds(&b, true, false, false, false).unwrap();
    let plan = spawn(&b, &host_for(&b), &fds, None, None, false);
    let l = labels(&plan);
    assert!(
        !plan.steps.iter().any(|s| matches!(
            s,
            Step::PrivateRoot
                | Step::SlaveRoot
                | Step::OpenTree { .. }
                | Step::FsOpen { .. }
                | Step::AttachAtHost { .. }
                | Step::Attach { .. }
                | Step::PivotRoot
                | Step::MoveRoot { .. }
        )),
        "{l:#?}"
    );
    let chroot = l
        .iter()
        .position(|x| *x == "chroot into /srv/image")
        .unwrap_or_else(|| panic!("no chroot in {l:#?}"));
    assert!(matches!(&plan.steps[chroot], Step::Chroot { dir } if *dir == c("/srv/image")));
}

#[test]
fn an_exec_in_process_writes_its_labels_after_joining_and_gets_its_passed_fds() {
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let b = Container::builder("/bin/true")
        .apparmor_profile("box")
        .selinux_label("u:r:t:s0")
        .pass_fd(r, 5);
    let (_parent, fds) = open_fds(&b, false, false, false, true).unwrap();
    let (target, _) = rustix::pipe::pipe().unwrap();
    let plan = exec_in(
        &b,
        &host_for(&b),
        &fds,
        None,
        target.as_fd(),
        Namespaces::MOUNT | Namespaces::PID,
        false,
    );
    let l = labels(&plan);
    let fork = step_at(&l, "clone3(CLONE_PARENT");
    let apparmor = step_at(&l, "write \"exec box\" to /proc/self/attr/apparmor/exec");
    let selinux = step_at(&l, "write \"u:r:t:s0\" to /proc/self/attr/exec");
    assert!(step_at(&l, "setns(") < fork, "{l:#?}");
    assert!(fork < apparmor && fork < selinux, "{l:#?}");
    assert!(selinux < step_at(&l, "execve("), "{l:#?}");
    let values: Vec<(&[u8], &[u8])> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::ExecLabel { path, value } => Some((path.as_bytes(), value.as_slice())),
            _ => None,
        })
        .collect();
    assert_eq!(
        values,
        [
            (&b"/proc/self/attr/apparmor/exec"[..], &b"exec box"[..]),
            (&b"/proc/self/attr/exec"[..], &b"u:r:t:s0"[..]),
        ]
    );
    let Some(Step::Fds { moves, .. }) = plan.steps.iter().find(|s| matches!(s, Step::Fds { .. }))
    else {
        panic!("no fd step: {l:#?}");
    };
    assert_eq!(moves.iter().map(|(_, t)| *t).collect::<Vec<_>>(), [5]);
}

#[test]
fn a_created_init_keeps_its_passed_fds_open_while_it_waits() {
    let (r, w) = rustix::pipe::pipe().unwrap();
    let b = Container::builder("/bin/true").pass_fd(r, 3).pass_fd(w, 9);
    let (_parent, mut fds) = open_fds(&b, false, false, false, false).unwrap();
    let (listener, _) = rustix::pipe::pipe().unwrap();
    fds.start_listener = Some(listener);
    let plan = spawn(&b, &host_for(&b), &fds, None, None, false);
    let l = labels(&plan);
    assert!(
        step_at(&l, "set up fds") < step_at(&l, "created: "),
        "{l:#?}"
    );
    let Some(Step::AwaitStart { close, .. }) = plan
        .steps
        .iter()
        .find(|s| matches!(s, Step::AwaitStart { .. }))
    else {
        panic!("no wait for the start: {l:#?}");
    };
    // Everything from 3 up but the passed 3 and 9 is closed before the wait.
    assert_eq!(close, &[(4, 8), (10, u32::MAX)]);
}

#[test]
fn a_copy_up_is_filled_before_it_is_attached_and_devices_replace_dev_defaults() {
    let b = Container::builder("/bin/true")
        .root(RootFs::Dir("/srv/root".into()))
        .mount(Mount::dev("/dev"))
        .mount(Mount::tmpfs("/tmp").copy_up())
        .device(crate::Device::char("/dev/null", 1, 3))
        .device(crate::Device::char("/dev/ptmx", 5, 2));
    let (_parent, fds) = open_fds(&b, false, false, false, false).unwrap();
    let plan = spawn(&b, &host_for(&b), &fds, None, None, false);
    let l = labels(&plan);
    let at = |label: &str| {
        l.iter()
            .position(|x| *x == label)
            .unwrap_or_else(|| panic!("no {label:?} in {l:#?}"))
    };
    let copy = at("mount tmpfs on /tmp: copy the root's /tmp into it (copy-up)");
    assert!(at("mount tmpfs on /tmp: fsmount") < copy, "{l:#?}");
    let attach = l
        .iter()
        .rposition(|x| x.starts_with("mount tmpfs on /tmp") && !x.contains("copy"))
        .unwrap();
    assert!(copy < attach, "the copy comes before the attach: {l:#?}");
    assert!(matches!(
        plan.steps[copy],
        Step::CopyUp {
            root_mode: true,
            ..
        }
    ));
    // The devices take /dev/null's and /dev/ptmx's places; /dev/zero stays.
    assert!(!l.iter().any(|x| x.contains("bind /dev/null")), "{l:#?}");
    assert!(
        !l.contains(&"create symlink /dev/ptmx -> pts/ptmx"),
        "{l:#?}"
    );
    assert!(l.contains(&"bind /dev/zero on /dev/zero"), "{l:#?}");
}

#[test]
fn dev_nodes_are_created_outside_a_user_namespace_unless_the_rules_forbid_it() {
    use crate::{Cgroup, DeviceAccess, DeviceKind, DeviceRule, Resources};
    let plan_of = |b: &ContainerBuilder, userns: bool| {
        let (_parent, fds) = open_fds(b, userns, false, false, false).unwrap();
        let plan = spawn(b, &host_for(b), &fds, None, None, false);
        labels(&plan)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let dev = |ns: Namespaces| {
        Container::builder("/bin/true")
            .namespaces(ns)
            .root(RootFs::Dir("/srv/root".into()))
            .mount(Mount::dev("/dev"))
    };
    let made = |l: &[String]| {
        l.iter()
            .filter(|x| x.starts_with("mknod /dev/") && x.contains(", or bind /dev/"))
            .count()
    };
    let bound = |l: &[String]| {
        l.iter()
            .filter(|x| x.starts_with("bind /dev/") && x.contains("OPEN_TREE_CLONE"))
            .count()
    };
    // No user namespace: the six nodes are made, none taken from the host first.
    let l = plan_of(&dev(Namespaces::MOUNT | Namespaces::PID), false);
    assert_eq!((made(&l), bound(&l)), (6, 0), "{l:#?}");
    assert!(
        l.contains(&"mknod /dev/tty (character device 5:0), or bind /dev/tty on it".to_owned()),
        "{l:#?}"
    );
    // In a new user namespace they are bound, as before.
    let l = plan_of(
        &dev(Namespaces::USER | Namespaces::MOUNT | Namespaces::PID),
        true,
    );
    assert_eq!((made(&l), bound(&l)), (0, 6), "{l:#?}");
    // Rules that let the container create them: made; rules that do not (the deny
    // of every access, or only of creating /dev/zero): bound, all six.
    let rules = |r: Vec<DeviceRule>| {
        dev(Namespaces::MOUNT | Namespaces::PID)
            .cgroup(Cgroup::new("/sys/fs/cgroup/x").resources(Resources::new().devices(r)))
    };
    let m = DeviceAccess::MKNOD;
    let l = plan_of(
        &rules(vec![
            DeviceRule::deny_all(),
            DeviceRule::allow(m).kind(DeviceKind::Char),
        ]),
        false,
    );
    assert_eq!((made(&l), bound(&l)), (6, 0), "{l:#?}");
    let l = plan_of(&rules(vec![DeviceRule::deny_all()]), false);
    assert_eq!((made(&l), bound(&l)), (0, 6), "{l:#?}");
    let zero = DeviceRule::deny(m).kind(DeviceKind::Char).major(1).minor(5);
    let l = plan_of(&rules(vec![zero]), false);
    assert_eq!((made(&l), bound(&l)), (0, 6), "{l:#?}");
}
