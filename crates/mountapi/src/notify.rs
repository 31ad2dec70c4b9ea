//! Mount notifications (Linux 6.15): fanotify's `FAN_MNT_ATTACH` / `FAN_MNT_DETACH`
//! events for every mount attached to or detached from a mount namespace.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use bitflags::bitflags;
use rustix::io::Errno;

use crate::error::{Call, Error, Result};
use crate::sys;
use crate::util::Flags;

const FAN_CLOEXEC: u32 = 0x0000_0001;
const FAN_NONBLOCK: u32 = 0x0000_0002;
const FAN_CLASS_NOTIF: u32 = 0;
const FAN_REPORT_MNT: u32 = 0x0000_4000;
const FAN_MARK_ADD: u32 = 0x0000_0001;
const FAN_MARK_REMOVE: u32 = 0x0000_0002;
const FAN_MARK_MNTNS: u32 = 0x0000_0110;
const FAN_Q_OVERFLOW: u64 = 0x0000_4000;
const FAN_EVENT_INFO_TYPE_MNT: u8 = 7;
const FANOTIFY_METADATA_VERSION: u8 = 3;
/// `sizeof(struct fanotify_event_metadata)`.
const METADATA_LEN: usize = 24;

bitflags! {
    /// The mount events to watch for (`FAN_MNT_*`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct MountEvents: u64 {
        /// `FAN_MNT_ATTACH`: a mount was attached to the namespace (mounted, or
        /// moved here).
        const ATTACH = 0x0100_0000;
        /// `FAN_MNT_DETACH`: a mount was detached from it (unmounted, or moved
        /// away).
        const DETACH = 0x0200_0000;
        const _ = !0;
    }
}

/// One mount notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MountEvent {
    /// The mount with this unique id was attached (`FAN_MNT_ATTACH`).
    Attach(u64),
    /// The mount with this unique id was detached (`FAN_MNT_DETACH`); it may be
    /// gone already, so `statmount` of it can fail with `ENOENT`.
    Detach(u64),
    /// The mount was moved within the namespace: detached from its old place and
    /// attached at the new one, in one event carrying both bits.
    Move(u64),
    /// The event queue overflowed (`FAN_Q_OVERFLOW`) and events were lost: re-read
    /// the mount table.
    Overflow,
}

impl MountEvent {
    /// The unique mount id the event is about (`None` for an overflow).
    pub fn mount_id(self) -> Option<u64> {
        match self {
            MountEvent::Attach(id) | MountEvent::Detach(id) | MountEvent::Move(id) => Some(id),
            MountEvent::Overflow => None,
        }
    }
}

/// A fanotify group reporting mount events of one or more mount namespaces
/// (`fanotify_init(FAN_REPORT_MNT)` + `fanotify_mark(FAN_MARK_MNTNS)`). Since
/// Linux 6.15.
///
/// Watching a namespace needs `CAP_SYS_ADMIN` over the user namespace that owns it
/// (root, or the root of a rootless container for its own namespaces). Events
/// are queued while the mount or unmount call runs: once it returns, the event is
/// there to read.
///
/// The fd is non-blocking: [`next_event`](Self::next_event) (and the iterator)
/// waits with `poll(2)`, [`try_next_event`](Self::try_next_event) does not wait;
/// with the `tokio` feature, `next_event_async` awaits readiness.
///
/// # Examples
/// ```no_run
/// use linception_mountapi::{MountEvent, MountEvents, MountWatch};
///
/// let ns = std::fs::File::open("/proc/self/ns/mnt")?;
/// let mut watch = MountWatch::new(&ns, MountEvents::ATTACH | MountEvents::DETACH)?;
/// for event in watch.iter() {
///     match event? {
///         MountEvent::Attach(id) => println!("mounted {id:#x}"),
///         MountEvent::Detach(id) => println!("unmounted {id:#x}"),
///         MountEvent::Move(id) => println!("moved {id:#x}"),
///         MountEvent::Overflow => println!("lost events: re-read the table"),
///         _ => {}
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
/// - [`fanotify_init(2)`](https://man7.org/linux/man-pages/man2/fanotify_init.2.html),
///   [`fanotify_mark(2)`](https://man7.org/linux/man-pages/man2/fanotify_mark.2.html)
pub struct MountWatch {
    fd: OwnedFd,
    queue: VecDeque<MountEvent>,
    buf: Box<[u8; 4096]>,
}

impl fmt::Debug for MountWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MountWatch")
            .field("fd", &self.fd.as_raw_fd())
            .field("queued", &self.queue.len())
            .finish()
    }
}

impl AsFd for MountWatch {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for MountWatch {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<OwnedFd> for MountWatch {
    /// Takes a fanotify group fd made elsewhere with `FAN_REPORT_MNT` (and
    /// `FAN_NONBLOCK`, which the waiting methods rely on).
    fn from(fd: OwnedFd) -> MountWatch {
        MountWatch {
            fd,
            queue: VecDeque::new(),
            buf: Box::new([0; 4096]),
        }
    }
}

impl From<MountWatch> for OwnedFd {
    fn from(watch: MountWatch) -> OwnedFd {
        watch.fd
    }
}

impl MountWatch {
    /// A new group watching the mount namespace of `mnt_ns` (an fd of
    /// `/proc/PID/ns/mnt`) for `events`.
    ///
    /// # Errors
    /// [`InvalidArgument`](Error::InvalidArgument) for empty `events` or bits other
    /// than `ATTACH`/`DETACH` (before any call); [`Unsupported`](Error::Unsupported)
    /// before Linux 6.15; `EPERM` without `CAP_SYS_ADMIN` over the namespace's
    /// owner; as [`watch`](Self::watch).
    pub fn new(mnt_ns: impl AsFd, events: MountEvents) -> Result<MountWatch> {
        check_events(events)?;
        let flags = FAN_CLASS_NOTIF | FAN_REPORT_MNT | FAN_CLOEXEC | FAN_NONBLOCK;
        let event_f_flags = libc::O_RDONLY as u32 | libc::O_CLOEXEC as u32;
        let fd = sys::fanotify_init(flags, event_f_flags).map_err(|errno| {
            let call = Call::new(
                "fanotify_init",
                format_args!(
                    "FAN_CLASS_NOTIF|FAN_REPORT_MNT|FAN_CLOEXEC|FAN_NONBLOCK, O_RDONLY|O_CLOEXEC"
                ),
            );
            match errno {
                Errno::NOSYS | Errno::INVAL => {
                    Error::unsupported("FAN_REPORT_MNT", "6.15", call, errno)
                }
                _ => Error::syscall(call, errno),
            }
        })?;
        let watch = MountWatch::from(fd);
        watch.watch(mnt_ns, events)?;
        Ok(watch)
    }

    /// Duplicates the fd (`F_DUPFD_CLOEXEC`). Both copies read from the same
    /// queue: an event is read by one of them only. Events this value already
    /// decoded stay with it.
    ///
    /// # Errors
    /// `EMFILE` when out of fds.
    pub fn try_clone(&self) -> std::io::Result<MountWatch> {
        Ok(MountWatch::from(self.fd.try_clone()?))
    }

    /// `fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_MNTNS, events, mnt_ns, NULL)`:
    /// also watches the mount namespace of `mnt_ns` (or adds `events` for it).
    ///
    /// # Errors
    /// [`InvalidArgument`](Error::InvalidArgument) for bad `events` or an fd that
    /// is not a mount namespace; `EPERM` without `CAP_SYS_ADMIN` over its owner.
    pub fn watch(&self, mnt_ns: impl AsFd, events: MountEvents) -> Result<()> {
        self.mark(FAN_MARK_ADD, "FAN_MARK_ADD", mnt_ns.as_fd(), events)
    }

    /// `fanotify_mark(fd, FAN_MARK_REMOVE | FAN_MARK_MNTNS, events, mnt_ns, NULL)`:
    /// stops reporting `events` of that namespace.
    ///
    /// # Errors
    /// `ENOENT` when the namespace was not watched; as [`watch`](Self::watch).
    pub fn unwatch(&self, mnt_ns: impl AsFd, events: MountEvents) -> Result<()> {
        self.mark(FAN_MARK_REMOVE, "FAN_MARK_REMOVE", mnt_ns.as_fd(), events)
    }

    fn mark(&self, op: u32, op_name: &str, ns: BorrowedFd<'_>, events: MountEvents) -> Result<()> {
        check_events(events)?;
        match sys::ns_get_nstype(ns) {
            Ok(libc::CLONE_NEWNS) => {}
            _ => {
                return Err(Error::InvalidArgument {
                    what: "mount namespace fd",
                    value: format!("fd {}", ns.as_raw_fd()),
                    reason: "is not a mount namespace (an fd of /proc/PID/ns/mnt)",
                });
            }
        }
        sys::fanotify_mark(self.fd.as_fd(), op | FAN_MARK_MNTNS, events.bits(), ns).map_err(
            |errno| {
                let call = Call::new(
                    "fanotify_mark",
                    format_args!(
                        "fd {}, {op_name}|FAN_MARK_MNTNS, {}, fd {}, NULL",
                        self.fd.as_raw_fd(),
                        Flags(&events),
                        ns.as_raw_fd()
                    ),
                );
                match errno {
                    Errno::INVAL => Error::unsupported("FAN_MARK_MNTNS", "6.15", call, errno),
                    _ => Error::syscall(call, errno),
                }
            },
        )
    }

    /// The next event if one is queued, without waiting.
    ///
    /// # Errors
    /// A failed `read(2)` of the fanotify fd.
    pub fn try_next_event(&mut self) -> Result<Option<MountEvent>> {
        if let Some(event) = self.queue.pop_front() {
            return Ok(Some(event));
        }
        self.fill()?;
        Ok(self.queue.pop_front())
    }

    /// The next event, waiting for one as long as it takes.
    ///
    /// # Errors
    /// A failed `read(2)` or `poll(2)`.
    pub fn next_event(&mut self) -> Result<MountEvent> {
        loop {
            if let Some(event) = self.wait_event(None)? {
                return Ok(event);
            }
        }
    }

    /// The next event, waiting at most `timeout` (`None` when none came).
    ///
    /// # Errors
    /// A failed `read(2)` or `poll(2)`.
    pub fn next_event_timeout(&mut self, timeout: Duration) -> Result<Option<MountEvent>> {
        self.wait_event(Some(timeout))
    }

    fn wait_event(&mut self, timeout: Option<Duration>) -> Result<Option<MountEvent>> {
        if let Some(event) = self.try_next_event()? {
            return Ok(Some(event));
        }
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            let ts = left.map(|d| {
                rustix::time::Timespec::try_from(d).unwrap_or(rustix::time::Timespec {
                    tv_sec: i64::MAX,
                    tv_nsec: 0,
                })
            });
            let mut fds = [rustix::event::PollFd::new(
                &self.fd,
                rustix::event::PollFlags::IN,
            )];
            match rustix::event::poll(&mut fds, ts.as_ref()) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(errno) => {
                    let call =
                        Call::new("poll", format_args!("[fd {}, POLLIN]", self.fd.as_raw_fd()));
                    return Err(Error::syscall(call, errno));
                }
            }
            if let Some(event) = self.try_next_event()? {
                return Ok(Some(event));
            }
            if left.is_some_and(|d| d.is_zero()) {
                return Ok(None);
            }
        }
    }

    /// A blocking iterator over the events ([`next_event`](Self::next_event) in a
    /// loop); it never ends by itself.
    pub fn iter(&mut self) -> Events<'_> {
        Events { watch: self }
    }

    /// An event already decoded, if any (no system call).
    #[cfg(feature = "tokio")]
    pub(crate) fn try_queued(&mut self) -> Option<MountEvent> {
        self.queue.pop_front()
    }

    /// Whether decoded events are waiting.
    #[cfg(feature = "tokio")]
    pub(crate) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Reads what the kernel has queued (nothing when it would block) and decodes
    /// it into `queue`.
    pub(crate) fn fill(&mut self) -> Result<()> {
        let n = match rustix::io::read(&self.fd, &mut self.buf[..]) {
            Ok(n) => n,
            Err(Errno::AGAIN) | Err(Errno::INTR) => return Ok(()),
            Err(errno) => {
                let call = Call::new(
                    "read",
                    format_args!("fd {}, buf, {}", self.fd.as_raw_fd(), self.buf.len()),
                );
                return Err(Error::syscall(call, errno));
            }
        };
        decode(&self.buf[..n], &mut self.queue);
        Ok(())
    }
}

fn check_events(events: MountEvents) -> Result<()> {
    let known = MountEvents::ATTACH | MountEvents::DETACH;
    if events.is_empty() || !known.contains(events) {
        return Err(Error::InvalidArgument {
            what: "mount events",
            value: format!("{events:?}"),
            reason: "must be ATTACH, DETACH or both",
        });
    }
    Ok(())
}

/// Decodes a buffer of `struct fanotify_event_metadata` records, each followed
/// by its info records, into events.
fn decode(mut bytes: &[u8], out: &mut VecDeque<MountEvent>) {
    let u16_at = |b: &[u8], o: usize| u16::from_ne_bytes([b[o], b[o + 1]]);
    let u32_at = |b: &[u8], o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
    let u64_at = |b: &[u8], o: usize| u64::from_ne_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    while bytes.len() >= METADATA_LEN {
        let event_len = u32_at(bytes, 0) as usize;
        if event_len < METADATA_LEN || event_len > bytes.len() {
            return;
        }
        let record = &bytes[..event_len];
        bytes = &bytes[event_len..];
        if record[4] != FANOTIFY_METADATA_VERSION {
            continue;
        }
        let metadata_len = usize::from(u16_at(record, 6));
        let mask = u64_at(record, 8);
        if mask & FAN_Q_OVERFLOW != 0 {
            out.push_back(MountEvent::Overflow);
            continue;
        }
        let mut info = record.get(metadata_len..).unwrap_or_default();
        let mut mnt_id = None;
        while info.len() >= 4 {
            let len = usize::from(u16_at(info, 2));
            if len < 4 || len > info.len() {
                break;
            }
            if info[0] == FAN_EVENT_INFO_TYPE_MNT && len >= 16 {
                mnt_id = Some(u64_at(info, 8));
            }
            info = &info[len..];
        }
        let Some(id) = mnt_id else { continue };
        let events = MountEvents::from_bits_retain(mask);
        let both = MountEvents::ATTACH | MountEvents::DETACH;
        out.push_back(if events.contains(both) {
            MountEvent::Move(id)
        } else if events.contains(MountEvents::ATTACH) {
            MountEvent::Attach(id)
        } else {
            MountEvent::Detach(id)
        });
    }
}

/// The blocking iterator of [`MountWatch::iter`].
#[derive(Debug)]
pub struct Events<'a> {
    watch: &'a mut MountWatch,
}

impl Iterator for Events<'_> {
    type Item = Result<MountEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.watch.next_event())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(mask: u64, info: Option<(u8, u64)>) -> Vec<u8> {
        let mut r = Vec::new();
        let len = METADATA_LEN + if info.is_some() { 16 } else { 0 };
        r.extend_from_slice(&(len as u32).to_ne_bytes());
        r.push(FANOTIFY_METADATA_VERSION);
        r.push(0);
        r.extend_from_slice(&(METADATA_LEN as u16).to_ne_bytes());
        r.extend_from_slice(&mask.to_ne_bytes());
        r.extend_from_slice(&(-1i32).to_ne_bytes());
        r.extend_from_slice(&0i32.to_ne_bytes());
        if let Some((kind, id)) = info {
            r.push(kind);
            r.push(0);
            r.extend_from_slice(&16u16.to_ne_bytes());
            r.extend_from_slice(&[0; 4]);
            r.extend_from_slice(&id.to_ne_bytes());
        }
        r
    }

    #[test]
    fn decodes_each_kind_and_skips_what_it_does_not_know() {
        let attach = MountEvents::ATTACH.bits();
        let detach = MountEvents::DETACH.bits();
        let mut bytes = record(attach, Some((FAN_EVENT_INFO_TYPE_MNT, 7)));
        bytes.extend(record(detach, Some((FAN_EVENT_INFO_TYPE_MNT, 8))));
        bytes.extend(record(attach | detach, Some((FAN_EVENT_INFO_TYPE_MNT, 9))));
        bytes.extend(record(FAN_Q_OVERFLOW, None));
        // An info record of another type: no mount id, so no event.
        bytes.extend(record(attach, Some((2, 10))));
        // A truncated record ends the buffer.
        bytes.extend_from_slice(&[1, 2, 3]);
        let mut out = VecDeque::new();
        decode(&bytes, &mut out);
        assert_eq!(
            Vec::from(out),
            vec![
                MountEvent::Attach(7),
                MountEvent::Detach(8),
                MountEvent::Move(9),
                MountEvent::Overflow
            ]
        );
    }

    #[test]
    fn events_are_checked_before_any_call() {
        let err = check_events(MountEvents::empty()).unwrap_err();
        assert!(err.to_string().starts_with("invalid mount events"), "{err}");
        assert!(check_events(MountEvents::from_bits_retain(1)).is_err());
        assert!(check_events(MountEvents::ATTACH).is_ok());
    }
}
