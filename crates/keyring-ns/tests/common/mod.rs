//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use linception_keyring_ns::{KeySerial, Permission, SessionPlan, get_keyring_id};

/// `/proc/keys` as the calling process sees it (keys it may view).
pub fn proc_keys() -> String {
    std::fs::read_to_string("/proc/keys").expect("read /proc/keys")
}

/// Whether `/proc/keys` lists the key.
pub fn proc_keys_has(serial: KeySerial) -> bool {
    let prefix = format!("{serial:08x} ");
    proc_keys().lines().any(|l| l.starts_with(&prefix))
}

/// How many `/proc/keys` lines mention `tag`.
pub fn proc_keys_count(tag: &str) -> usize {
    proc_keys().lines().filter(|l| l.contains(tag)).count()
}

/// Polls `f` every 20 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The host's view before a test: its session keyring and how many of the test's
/// own keys (descriptions containing `tag`) `/proc/keys` shows.
pub struct Host {
    session: KeySerial,
    tag: String,
    count: usize,
    // Held until the check: another test process running the same test (whose
    // keys carry the same tag) waits instead of skewing the count.
    _tag_lock: TagLock,
}

/// A lock on a tag across processes: an abstract unix socket bound to a name
/// only one process can hold, released when dropped or when the process dies,
/// leaving nothing behind.
struct TagLock(#[allow(dead_code)] std::os::unix::net::UnixListener);

impl TagLock {
    fn acquire(tag: &str) -> TagLock {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("linception-keyring-test.{tag}");
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .expect("abstract socket name");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match std::os::unix::net::UnixListener::bind_addr(&addr) {
                Ok(listener) => return TagLock(listener),
                Err(e)
                    if e.kind() == std::io::ErrorKind::AddrInUse
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("lock for tag {tag:?}: {e}"),
            }
        }
    }
}

impl Host {
    /// Records the host state; `tag` must be unique to the test.
    pub fn snapshot(tag: &str) -> Host {
        let tag_lock = TagLock::acquire(tag);
        Host {
            _tag_lock: tag_lock,
            session: get_keyring_id(KeySerial::SESSION_KEYRING, false)
                .expect("host session keyring"),
            tag: tag.to_string(),
            count: proc_keys_count(tag),
        }
    }

    /// Asserts the host's session keyring is the same and, within ~2 s (the key
    /// garbage collector is asynchronous), that none of the test's keys is left.
    pub fn assert_unchanged(&self) {
        let now = get_keyring_id(KeySerial::SESSION_KEYRING, false).expect("host session keyring");
        assert_eq!(now, self.session, "the host's session keyring changed");
        let settled = wait_until(Duration::from_secs(2), || {
            proc_keys_count(&self.tag) == self.count
        });
        assert!(
            settled,
            "keys tagged {:?} left in /proc/keys: {:?}",
            self.tag,
            proc_keys()
                .lines()
                .filter(|l| l.contains(&self.tag))
                .collect::<Vec<_>>()
        );
    }
}

/// In a forked child: leaves the inherited (host's) session keyring for a new
/// anonymous one that the host (same uid) may view, and returns its serial.
pub fn fresh_session() -> KeySerial {
    let session = SessionPlan::anonymous()
        .with_permissions(Permission::POSSESSOR_ALL | Permission::USER_VIEW)
        .join()
        .expect("join a fresh session keyring");
    assert_ne!(session, KeySerial::from_raw(0));
    session
}

/// One end of a bidirectional channel between two forked "containers" or a
/// child and its test thread.
pub struct Chan(UnixStream);

impl Chan {
    pub fn pair() -> (Chan, Chan) {
        let (a, b) = UnixStream::pair().expect("socketpair");
        for s in [&a, &b] {
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        }
        (Chan(a), Chan(b))
    }

    pub fn send(&mut self, value: i32) {
        self.0.write_all(&value.to_le_bytes()).expect("send");
    }

    pub fn recv(&mut self) -> i32 {
        let mut buf = [0u8; 4];
        self.0.read_exact(&mut buf).expect("recv");
        i32::from_le_bytes(buf)
    }
}

/// The kernel uid of the calling process's keys quota line in `/proc/key-users`:
/// (keys, bytes) charged to `uid`, or `None` when the uid owns no key.
pub fn key_user_usage(uid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/key-users").expect("read /proc/key-users");
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(id) = fields.next() else { continue };
        if id.trim_end_matches(':').parse::<u32>().ok() != Some(uid) {
            continue;
        }
        // "<uid>: <usage> <nkeys>/<ninstantiated> <qnkeys>/<maxkeys> <qnbytes>/<maxbytes>"
        let _usage = fields.next()?;
        let _keys = fields.next()?;
        let qkeys = fields.next()?.split('/').next()?.parse().ok()?;
        let qbytes = fields.next()?.split('/').next()?.parse().ok()?;
        return Some((qkeys, qbytes));
    }
    None
}
