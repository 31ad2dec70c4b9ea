//! Capability sets of the container's program.
#![forbid(unsafe_code)]

bitflags::bitflags! {
    /// A set of capabilities, one bit per `CAP_*` number.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct CapSet: u64 {
        /// `CAP_CHOWN` (bit 0).
        const CHOWN = 1 << 0;
        /// `CAP_DAC_OVERRIDE` (bit 1).
        const DAC_OVERRIDE = 1 << 1;
        /// `CAP_DAC_READ_SEARCH` (bit 2).
        const DAC_READ_SEARCH = 1 << 2;
        /// `CAP_FOWNER` (bit 3).
        const FOWNER = 1 << 3;
        /// `CAP_FSETID` (bit 4).
        const FSETID = 1 << 4;
        /// `CAP_KILL` (bit 5).
        const KILL = 1 << 5;
        /// `CAP_SETGID` (bit 6).
        const SETGID = 1 << 6;
        /// `CAP_SETUID` (bit 7).
        const SETUID = 1 << 7;
        /// `CAP_SETPCAP` (bit 8).
        const SETPCAP = 1 << 8;
        /// `CAP_LINUX_IMMUTABLE` (bit 9).
        const LINUX_IMMUTABLE = 1 << 9;
        /// `CAP_NET_BIND_SERVICE` (bit 10).
        const NET_BIND_SERVICE = 1 << 10;
        /// `CAP_NET_BROADCAST` (bit 11).
        const NET_BROADCAST = 1 << 11;
        /// `CAP_NET_ADMIN` (bit 12).
        const NET_ADMIN = 1 << 12;
        /// `CAP_NET_RAW` (bit 13).
        const NET_RAW = 1 << 13;
        /// `CAP_IPC_LOCK` (bit 14).
        const IPC_LOCK = 1 << 14;
        /// `CAP_IPC_OWNER` (bit 15).
        const IPC_OWNER = 1 << 15;
        /// `CAP_SYS_MODULE` (bit 16).
        const SYS_MODULE = 1 << 16;
        /// `CAP_SYS_RAWIO` (bit 17).
        const SYS_RAWIO = 1 << 17;
        /// `CAP_SYS_CHROOT` (bit 18).
        const SYS_CHROOT = 1 << 18;
        /// `CAP_SYS_PTRACE` (bit 19).
        const SYS_PTRACE = 1 << 19;
        /// `CAP_SYS_PACCT` (bit 20).
        const SYS_PACCT = 1 << 20;
        /// `CAP_SYS_ADMIN` (bit 21).
        const SYS_ADMIN = 1 << 21;
        /// `CAP_SYS_BOOT` (bit 22).
        const SYS_BOOT = 1 << 22;
        /// `CAP_SYS_NICE` (bit 23).
        const SYS_NICE = 1 << 23;
        /// `CAP_SYS_RESOURCE` (bit 24).
        const SYS_RESOURCE = 1 << 24;
        /// `CAP_SYS_TIME` (bit 25).
        const SYS_TIME = 1 << 25;
        /// `CAP_SYS_TTY_CONFIG` (bit 26).
        const SYS_TTY_CONFIG = 1 << 26;
        /// `CAP_MKNOD` (bit 27).
        const MKNOD = 1 << 27;
        /// `CAP_LEASE` (bit 28).
        const LEASE = 1 << 28;
        /// `CAP_AUDIT_WRITE` (bit 29).
        const AUDIT_WRITE = 1 << 29;
        /// `CAP_AUDIT_CONTROL` (bit 30).
        const AUDIT_CONTROL = 1 << 30;
        /// `CAP_SETFCAP` (bit 31).
        const SETFCAP = 1 << 31;
        /// `CAP_MAC_OVERRIDE` (bit 32).
        const MAC_OVERRIDE = 1 << 32;
        /// `CAP_MAC_ADMIN` (bit 33).
        const MAC_ADMIN = 1 << 33;
        /// `CAP_SYSLOG` (bit 34).
        const SYSLOG = 1 << 34;
        /// `CAP_WAKE_ALARM` (bit 35).
        const WAKE_ALARM = 1 << 35;
        /// `CAP_BLOCK_SUSPEND` (bit 36).
        const BLOCK_SUSPEND = 1 << 36;
        /// `CAP_AUDIT_READ` (bit 37).
        const AUDIT_READ = 1 << 37;
        /// `CAP_PERFMON` (bit 38).
        const PERFMON = 1 << 38;
        /// `CAP_BPF` (bit 39).
        const BPF = 1 << 39;
        /// `CAP_CHECKPOINT_RESTORE` (bit 40).
        const CHECKPOINT_RESTORE = 1 << 40;
        const _ = !0;
    }
}

/// The five capability sets the program starts with (see capabilities(7)).
///
/// Applied in the child after the mounts: the bounding set is cut down
/// (`PR_CAPBSET_DROP`), the ids change with `SECBIT_KEEP_CAPS` held, then `capset`
/// sets effective/permitted/inheritable and `PR_CAP_AMBIENT_RAISE` raises the ambient
/// ones, so that a non-root uid keeps them across `execve`.
///
/// ```
/// use linception::{CapSet, Capabilities};
/// let caps = Capabilities::only(CapSet::NET_BIND_SERVICE | CapSet::CHOWN)
///     .ambient(CapSet::NET_BIND_SERVICE);
/// # let _ = caps;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Bounding set: the most `execve` can ever grant.
    pub bounding: CapSet,
    /// Effective set.
    pub effective: CapSet,
    /// Permitted set.
    pub permitted: CapSet,
    /// Inheritable set.
    pub inheritable: CapSet,
    /// Ambient set (must be in permitted and inheritable).
    pub ambient: CapSet,
}

impl Capabilities {
    /// Exactly `set` in the bounding, effective, permitted and inheritable sets; none
    /// ambient.
    pub const fn only(set: CapSet) -> Self {
        Capabilities {
            bounding: set,
            effective: set,
            permitted: set,
            inheritable: set,
            ambient: CapSet::empty(),
        }
    }

    /// No capability at all.
    pub const fn none() -> Self {
        Self::only(CapSet::empty())
    }

    /// Also raises `set` in the ambient set (kept across `execve` by a non-root uid).
    pub const fn ambient(mut self, set: CapSet) -> Self {
        self.ambient = set;
        self
    }

    /// Each set cut down to `set` (what can be granted, say).
    pub fn within(self, set: CapSet) -> Self {
        Capabilities {
            bounding: self.bounding & set,
            effective: self.effective & set,
            permitted: self.permitted & set,
            inheritable: self.inheritable & set,
            ambient: self.ambient & set,
        }
    }

    /// The five sets with their names (`"bounding"`, `"effective"`, `"permitted"`,
    /// `"inheritable"`, `"ambient"`), in that order.
    pub fn named(&self) -> [(&'static str, CapSet); 5] {
        [
            ("bounding", self.bounding),
            ("effective", self.effective),
            ("permitted", self.permitted),
            ("inheritable", self.inheritable),
            ("ambient", self.ambient),
        ]
    }
}

/// The capabilities the calling thread can pass on to a process that stays in its
/// user namespace: those in both its permitted set (`capset` raises nothing beyond
/// it) and its bounding set (a root program's permitted set after `execve` is cut
/// to it), of `wanted`. A capability the kernel does not report is not held.
pub(crate) fn held(wanted: CapSet) -> CapSet {
    let Ok(sets) = rustix::thread::capabilities(None) else {
        return CapSet::empty();
    };
    let permitted = CapSet::from_bits_retain(sets.permitted.bits()) & wanted;
    if permitted.is_empty() {
        return permitted;
    }
    permitted & bounding_set(permitted)
}

/// The calling thread's bounding set as far as `of` goes: `PR_CAPBSET_READ` for
/// each capability of `of`. Cheaper than the one read of `CapBnd` in
/// `/proc/thread-self/status` even for every capability (the kernel renders the
/// whole file for it): measured in a fresh process, 41 reads take 0.34x of it, the
/// default config's three 0.04x, and as many system calls.
fn bounding_set(of: CapSet) -> CapSet {
    let mut held = CapSet::empty();
    for bit in 0..64 {
        let one = CapSet::from_bits_retain(1 << bit);
        if of.contains(one)
            && rustix::thread::capability_is_in_bounding_set(
                rustix::thread::CapabilitySet::from_bits_retain(one.bits()),
            )
            .unwrap_or(false)
        {
            held |= one;
        }
    }
    held
}
