//! Mount notifications (fanotify FAN_MNT_ATTACH / FAN_MNT_DETACH, Linux 6.15): an
//! event for every mount, unmount and move a test makes in its own mount
//! namespace, none for another namespace's; as root and rootless; blocking and
//! (feature `tokio`) async.
// A raw fork: a grandchild mounts in a namespace of its own, to check that its
// events do not reach this namespace's watch.
#![allow(unsafe_code)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::TempDir;
use linception_mountapi::{
    ErrorKind, FsContext, Mount, MountAttr, MountEvent, MountEvents, MountWatch, MoveMountFlags,
    move_mount, unique_mount_id,
};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

fn tmpfs_at(path: &Path) {
    let fs = FsContext::open("tmpfs").unwrap();
    fs.set_string("size", "64k").unwrap();
    fs.create().unwrap();
    fs.mount(MountAttr::empty()).unwrap().attach(path).unwrap();
}

fn umount(path: &Path, flags: rustix::mount::UnmountFlags) {
    rustix::mount::unmount(path, flags).unwrap();
}

const BOTH: MountEvents = MountEvents::ATTACH.union(MountEvents::DETACH);
const WAIT: Duration = Duration::from_secs(5);

fn own_ns() -> std::fs::File {
    std::fs::File::open("/proc/self/ns/mnt").unwrap()
}

/// Every event queued now, without waiting.
fn drain(watch: &mut MountWatch) -> Vec<MountEvent> {
    let mut out = Vec::new();
    while let Some(event) = watch.try_next_event().unwrap() {
        out.push(event);
    }
    out
}

fn every_change_gives_its_event() {
    let dir = TempDir::new("notify");
    let mut watch = MountWatch::new(own_ns(), BOTH).unwrap();
    assert_eq!(drain(&mut watch), vec![]);

    // mount: ATTACH of the new mount.
    let a = dir.subdir("a");
    tmpfs_at(&a);
    let id_a = unique_mount_id(&a).unwrap();
    assert_eq!(
        watch.next_event_timeout(WAIT).unwrap(),
        Some(MountEvent::Attach(id_a))
    );
    // A bind mount: ATTACH of the clone.
    let b = dir.subdir("b");
    Mount::clone_tree(&a).unwrap().attach(&b).unwrap();
    let id_b = unique_mount_id(&b).unwrap();
    assert_eq!(drain(&mut watch), vec![MountEvent::Attach(id_b)]);
    // A move within the namespace: one event with both bits.
    let c = dir.subdir("c");
    move_mount(
        rustix::fs::CWD,
        &a,
        rustix::fs::CWD,
        &c,
        MoveMountFlags::empty(),
    )
    .unwrap();
    assert_eq!(unique_mount_id(&c).unwrap(), id_a);
    assert_eq!(drain(&mut watch), vec![MountEvent::Move(id_a)]);
    // umount: DETACH.
    umount(&b, rustix::mount::UnmountFlags::empty());
    assert_eq!(drain(&mut watch), vec![MountEvent::Detach(id_b)]);
    // A tree of three detached at once (MNT_DETACH): one DETACH each.
    let t = dir.subdir("t");
    tmpfs_at(&t);
    std::fs::create_dir_all(t.join("x")).unwrap();
    std::fs::create_dir_all(t.join("y")).unwrap();
    tmpfs_at(&t.join("x"));
    tmpfs_at(&t.join("y"));
    let ids = [&t, &t.join("x"), &t.join("y")].map(|p| unique_mount_id(p).unwrap());
    assert_eq!(
        drain(&mut watch),
        ids.iter()
            .map(|&id| MountEvent::Attach(id))
            .collect::<Vec<_>>()
    );
    umount(&t, rustix::mount::UnmountFlags::DETACH);
    let mut detached: Vec<u64> = drain(&mut watch)
        .into_iter()
        .map(|e| match e {
            MountEvent::Detach(id) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    detached.sort_unstable();
    let mut expected = ids.to_vec();
    expected.sort_unstable();
    assert_eq!(detached, expected);

    // A mount in another namespace: nothing here.
    // SAFETY: the Fork child is single-threaded; the grandchild unshares, mounts
    // and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let ok = std::panic::catch_unwind(|| {
            // SAFETY: single-threaded grandchild.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNS) }, 0);
            tmpfs_at(&dir.path().join("c"));
        })
        .is_ok();
        // SAFETY: ends the grandchild without running the parent's destructors.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: pid is our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    assert_eq!(drain(&mut watch), vec![]);

    // Watching ATTACH only: an unmount says nothing, a mount does.
    watch.unwatch(own_ns(), MountEvents::DETACH).unwrap();
    umount(&c, rustix::mount::UnmountFlags::empty());
    assert_eq!(drain(&mut watch), vec![]);
    tmpfs_at(&c);
    assert_eq!(
        drain(&mut watch),
        vec![MountEvent::Attach(unique_mount_id(&c).unwrap())]
    );
    // A clone reads the same queue.
    let mut clone = watch.try_clone().unwrap();
    umount(&c, rustix::mount::UnmountFlags::empty());
    tmpfs_at(&c);
    assert_eq!(
        drain(&mut clone),
        vec![MountEvent::Attach(unique_mount_id(&c).unwrap())]
    );
    assert_eq!(drain(&mut watch), vec![]);
    // The blocking iterator gives the same.
    umount(&c, rustix::mount::UnmountFlags::empty());
    tmpfs_at(&c);
    let next = watch.iter().next().unwrap().unwrap();
    assert_eq!(next, MountEvent::Attach(unique_mount_id(&c).unwrap()));
    assert_eq!(watch.next_event_timeout(Duration::ZERO).unwrap(), None);
}

#[test]
fn events_for_every_mount_umount_and_move_as_root() {
    require!(Feature::Root, Feature::MountNotify);
    Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .run(every_change_gives_its_event);
}

#[test]
fn events_for_every_mount_umount_and_move_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::MountNotify);
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .run(every_change_gives_its_event);
}

fn bad_watches_are_refused_and_leave_nothing_behind() {
    assert_no_leaks(|| {
        let err = MountWatch::new(own_ns(), MountEvents::empty()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().starts_with("invalid mount events"), "{err}");
        let err = MountWatch::new(own_ns(), MountEvents::from_bits_retain(1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        let user = std::fs::File::open("/proc/self/ns/user").unwrap();
        let err = MountWatch::new(&user, BOTH).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("mount namespace fd"), "{err}");
        let watch = MountWatch::new(own_ns(), MountEvents::ATTACH).unwrap();
        // Removing the last event removes the mark; removing it again is the
        // kernel's ENOENT (no mark on that namespace).
        watch.unwatch(own_ns(), BOTH).unwrap();
        let err = watch.unwatch(own_ns(), MountEvents::DETACH).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
        assert!(err.to_string().starts_with("fanotify_mark(fd "), "{err}");
    });
}

#[test]
fn bad_watches_are_refused_as_root() {
    require!(Feature::Root, Feature::MountNotify);
    Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .run(bad_watches_are_refused_and_leave_nothing_behind);
}

#[test]
fn bad_watches_are_refused_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::MountNotify);
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .run(bad_watches_are_refused_and_leave_nothing_behind);
}

#[test]
fn an_unprivileged_caller_may_not_watch_the_hosts_namespace() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::MountNotify
    );
    Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let ns = own_ns();
        let errno: Option<i32> = Fork::new().rootless().unshare(libc::CLONE_NEWNS).run(|| {
            MountWatch::new(&ns, BOTH)
                .err()
                .and_then(|e| e.raw_os_error())
        });
        assert_eq!(errno, Some(libc::EPERM));
    });
}

#[cfg(feature = "tokio")]
#[test]
fn the_async_stream_gives_the_same_events_as_root() {
    require!(Feature::Root, Feature::MountNotify);
    Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .run(the_async_stream_gives_the_same_events);
}

#[cfg(feature = "tokio")]
#[test]
fn the_async_stream_gives_the_same_events_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::MountNotify);
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .run(the_async_stream_gives_the_same_events);
}

#[cfg(feature = "tokio")]
fn the_async_stream_gives_the_same_events() {
    {
        let dir = TempDir::new("notify-async");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut events = MountWatch::new(own_ns(), BOTH)
                .unwrap()
                .into_async()
                .unwrap();
            // Nothing queued: pending, not an error, not a busy loop.
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(events.poll_next_event(&mut cx).is_pending());
            let a = dir.subdir("a");
            let b = dir.subdir("b");
            // Mount from another task while this one awaits.
            let (a2, b2) = (a.clone(), b.clone());
            let mounter = tokio::task::spawn_blocking(move || {
                tmpfs_at(&a2);
                let id = unique_mount_id(&a2).unwrap();
                move_mount(
                    rustix::fs::CWD,
                    &a2,
                    rustix::fs::CWD,
                    &b2,
                    MoveMountFlags::empty(),
                )
                .unwrap();
                umount(&b2, rustix::mount::UnmountFlags::empty());
                id
            });
            let mut got = Vec::new();
            for _ in 0..3 {
                let event = tokio::time::timeout(WAIT, events.next_event())
                    .await
                    .expect("an event within 5 s")
                    .unwrap();
                got.push(event);
            }
            let id = mounter.await.unwrap();
            assert_eq!(
                got,
                vec![
                    MountEvent::Attach(id),
                    MountEvent::Move(id),
                    MountEvent::Detach(id)
                ]
            );
            assert!(events.poll_next_event(&mut cx).is_pending());
            // Back to blocking use.
            let mut watch = events.into_inner();
            assert_eq!(watch.try_next_event().unwrap(), None);
        });
    }
}

/// More changes than the kernel queues (fs.fanotify.max_queued_events) without
/// reading: the queue ends in an overflow event, and events after it flow again.
fn overflow_is_reported() {
    let limit: usize = std::fs::read_to_string("/proc/sys/fs/fanotify/max_queued_events")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if limit > 20_000 {
        eprintln!("SKIP: fs.fanotify.max_queued_events is {limit}: too many mounts to overflow");
        return;
    }
    let dir = TempDir::new("notify-overflow");
    let a = dir.subdir("a");
    let mut watch = MountWatch::new(own_ns(), BOTH).unwrap();
    // Each pair queues two events.
    for _ in 0..limit / 2 + 10 {
        tmpfs_at(&a);
        umount(&a, rustix::mount::UnmountFlags::empty());
    }
    let events = drain(&mut watch);
    assert_eq!(events.last(), Some(&MountEvent::Overflow));
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == MountEvent::Overflow)
            .count(),
        1
    );
    assert!(events.len() <= limit + 1, "{} events", events.len());
    assert!(events.len() >= limit / 2, "{} events", events.len());
    // Queued again from here on.
    tmpfs_at(&a);
    assert_eq!(
        drain(&mut watch),
        vec![MountEvent::Attach(unique_mount_id(&a).unwrap())]
    );
}

#[test]
fn overflow_is_reported_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::MountNotify);
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .timeout(Duration::from_secs(120))
        .run(overflow_is_reported);
}
