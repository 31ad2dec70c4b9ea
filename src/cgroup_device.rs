//! Device rules of a cgroup v2 directory, enforced by an eBPF cgroup device program
//! (`BPF_PROG_TYPE_CGROUP_DEVICE` attached as `BPF_CGROUP_DEVICE`): compiled in the
//! parent from the rule list, loaded and attached before the container is born in
//! the cgroup.
#![forbid(unsafe_code)]

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::OnceLock;

use crate::device::DeviceKind;
use crate::error::{Error, Result};
use crate::sys::bpf::{self, Insn};

bitflags::bitflags! {
    /// The accesses a [`DeviceRule`] allows or denies (the letters of the OCI
    /// spec's `access` and of cgroup v1's `devices.allow`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct DeviceAccess: u32 {
        /// `m`: create the node (`mknod`), `BPF_DEVCG_ACC_MKNOD`.
        const MKNOD = 1;
        /// `r`: open for reading, `BPF_DEVCG_ACC_READ`.
        const READ = 2;
        /// `w`: open for writing, `BPF_DEVCG_ACC_WRITE`.
        const WRITE = 4;
    }
}

impl DeviceAccess {
    /// The access of an `rwm` string (each letter at most once, in any order).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the string: another letter, a repeated
    /// one, or none.
    pub fn parse(s: &str) -> Result<DeviceAccess> {
        let mut a = DeviceAccess::empty();
        for c in s.chars() {
            let bit = match c {
                'r' => DeviceAccess::READ,
                'w' => DeviceAccess::WRITE,
                'm' => DeviceAccess::MKNOD,
                _ => {
                    return Err(Error::invalid(
                        format!("device access {s:?}"),
                        "letters are r, w and m",
                    ));
                }
            };
            if a.contains(bit) {
                return Err(Error::invalid(
                    format!("device access {s:?}"),
                    "a letter is repeated",
                ));
            }
            a |= bit;
        }
        if a.is_empty() {
            return Err(Error::invalid(
                format!("device access {s:?}"),
                "no access letter (r, w, m)",
            ));
        }
        Ok(a)
    }
}

impl fmt::Display for DeviceAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [
            (DeviceAccess::READ, 'r'),
            (DeviceAccess::WRITE, 'w'),
            (DeviceAccess::MKNOD, 'm'),
        ] {
            if self.contains(bit) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// One rule of a cgroup's device list: allow or deny some accesses to the devices
/// of a kind (or every kind), a major number (or every one), a minor number (or
/// every one).
///
/// The list is read as the OCI runtime spec and cgroup v1's device controller
/// read theirs: for each access asked for (`r`, `w`, `m`), the **last** rule that
/// matches the device and names that access decides; an access no rule names is
/// allowed. So a list starting with [`DeviceRule::deny_all`] allows only what the
/// later rules allow, and an empty list allows everything. Opening `O_RDWR` asks
/// for `r` and `w` at once: both must be allowed.
///
/// ```
/// use linception::{DeviceAccess, DeviceKind, DeviceRule};
/// let rw = DeviceAccess::READ | DeviceAccess::WRITE;
/// let rules = [
///     DeviceRule::deny_all(),
///     DeviceRule::allow(rw).kind(DeviceKind::Char).major(1).minor(3), // /dev/null
///     DeviceRule::allow(rw).kind(DeviceKind::Char).major(136),        // every pty
/// ];
/// # let _ = rules;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceRule {
    pub(crate) allow: bool,
    pub(crate) kind: Option<DeviceKind>,
    pub(crate) major: Option<u32>,
    pub(crate) minor: Option<u32>,
    pub(crate) access: DeviceAccess,
}

/// The largest major number the kernel has (12 bits).
pub(crate) const MAJOR_MAX: u32 = (1 << 12) - 1;
/// The largest minor number the kernel has (20 bits).
pub(crate) const MINOR_MAX: u32 = (1 << 20) - 1;
/// `BPF_MAXINSNS`: the program limit this crate keeps to.
const MAX_INSNS: usize = 4096;

impl DeviceRule {
    /// Allows `access` to every device (narrow it with [`kind`](Self::kind),
    /// [`major`](Self::major), [`minor`](Self::minor)).
    pub fn allow(access: DeviceAccess) -> Self {
        DeviceRule {
            allow: true,
            kind: None,
            major: None,
            minor: None,
            access,
        }
    }

    /// Denies `access` to every device (narrow it like [`allow`](Self::allow)).
    pub fn deny(access: DeviceAccess) -> Self {
        DeviceRule {
            allow: false,
            ..DeviceRule::allow(access)
        }
    }

    /// Denies every access to every device: the usual first rule (OCI's
    /// `{"allow": false, "access": "rwm"}`).
    pub fn deny_all() -> Self {
        DeviceRule::deny(DeviceAccess::all())
    }

    /// Only devices of this kind (character or block).
    pub fn kind(mut self, kind: DeviceKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Only devices of this major number (0 to 4095).
    pub fn major(mut self, major: u32) -> Self {
        self.major = Some(major);
        self
    }

    /// Only devices of this minor number (0 to 1048575).
    pub fn minor(mut self, minor: u32) -> Self {
        self.minor = Some(minor);
        self
    }

    /// Whether the rule is about `(kind, major, minor)` and names `bit`.
    fn matches(&self, kind: DeviceKind, major: u32, minor: u32, bit: DeviceAccess) -> bool {
        self.kind.is_none_or(|k| k == kind)
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
            && self.access.contains(bit)
    }
}

impl fmt::Display for DeviceRule {
    /// `allow c 1:3 rw`, `deny a *:* rwm`, as cgroup v1's device lists spell them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            None => 'a',
            Some(DeviceKind::Char) => 'c',
            Some(DeviceKind::Block) => 'b',
        };
        let num = |n: Option<u32>| n.map_or("*".to_owned(), |n| n.to_string());
        write!(
            f,
            "{} {kind} {}:{} {}",
            if self.allow { "allow" } else { "deny" },
            num(self.major),
            num(self.minor),
            self.access
        )
    }
}

/// What a rule list decides for one access of `access` to a device: every access
/// bit asked for must be allowed by the last rule naming it (none: allowed).
pub(crate) fn permits(
    rules: &[DeviceRule],
    kind: DeviceKind,
    major: u32,
    minor: u32,
    access: DeviceAccess,
) -> bool {
    access.iter().all(|bit| {
        rules
            .iter()
            .rev()
            .find(|r| r.matches(kind, major, minor, bit))
            .is_none_or(|r| r.allow)
    })
}

/// Checks each rule: an access, numbers in the kernel's ranges, a minor only with
/// a major, and no number on a rule for every kind of device.
pub(crate) fn check(rules: &[DeviceRule], of: &str) -> Result<()> {
    for (i, r) in rules.iter().enumerate() {
        let what = format!("device rule {i} ({r}){of}");
        if r.access.is_empty() {
            return Err(Error::invalid(what, "no access (r, w or m)"));
        }
        if r.kind.is_none() && (r.major.is_some() || r.minor.is_some()) {
            return Err(Error::invalid(
                what,
                "a rule for every kind of device takes no major or minor number",
            ));
        }
        if r.major.is_some_and(|m| m > MAJOR_MAX) {
            return Err(Error::invalid(what, "the major number is over 4095"));
        }
        if r.minor.is_some_and(|m| m > MINOR_MAX) {
            return Err(Error::invalid(what, "the minor number is over 1048575"));
        }
    }
    let n = compile(rules).len();
    if n > MAX_INSNS {
        return Err(Error::invalid(
            format!("{} device rules{of}", rules.len()),
            "the device program would be over 4096 instructions",
        ));
    }
    Ok(())
}

// The instructions used, as `struct bpf_insn` codes (linux/bpf_common.h, bpf.h).
const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV32_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const MOV32_K: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
const AND32_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RSH32_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const JA: u8 = 0x05; // BPF_JMP | BPF_JA
const JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JSET_K: u8 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// Registers: r1 the context, then what is loaded from it.
const CTX: u8 = 1;
const TYPE: u8 = 2;
const ACCESS: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// `BPF_DEVCG_DEV_BLOCK` / `BPF_DEVCG_DEV_CHAR`.
fn dev_type(kind: DeviceKind) -> i32 {
    match kind {
        DeviceKind::Block => 1,
        DeviceKind::Char => 2,
    }
}

/// The accesses the rules deny to every device of a class: `None` in a place
/// stands for a value no rule names there (a device type other than block and
/// char, a major or a minor number no rule of the kind names), which only the
/// rules without that place match. For each access bit the last matching rule
/// naming it decides; a bit no matching rule names is allowed.
fn denied(
    rules: &[DeviceRule],
    kind: Option<DeviceKind>,
    major: Option<u32>,
    minor: Option<u32>,
) -> DeviceAccess {
    let place = |want: Option<u32>, have: Option<u32>| want.is_none() || want == have;
    let mut out = DeviceAccess::empty();
    for bit in DeviceAccess::all().iter() {
        let last = rules.iter().rev().find(|r| {
            r.kind.is_none_or(|k| Some(k) == kind)
                && place(r.major, major)
                && place(r.minor, minor)
                && r.access.contains(bit)
        });
        if last.is_some_and(|r| !r.allow) {
            out |= bit;
        }
    }
    out
}

/// The distinct values of `values`, in the order first seen.
fn distinct(values: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut seen = std::collections::HashSet::new();
    values.filter(|v| seen.insert(*v)).collect()
}

/// Where a jump goes before the program's layout is known.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The code of a subtree (an index into the list of subtrees).
    Tree(usize),
    /// The end deciding for a class of devices: what it denies.
    Leaf(DeviceAccess),
}

/// One dispatch on a register: a `JEQ` per named value, then a jump for the
/// other values.
struct Dispatch {
    reg: u8,
    cases: Vec<(u32, Target)>,
    other: Target,
}

/// The device program of `rules` (see [`DeviceRule`] for the meaning), as a
/// decision tree: the rules are evaluated here, for each class of devices they
/// tell apart (a kind, a major number of that kind some rule names, a minor
/// number some rule names under it, and "any other" at each level), and the
/// program only finds the class of the device (a `JEQ` per value named, type,
/// then major, then minor) and checks the access asked for against what the
/// class is denied. A device reaches one leaf by one path, so the kernel's
/// verifier walks as many paths as there are classes (a chain of rules tried
/// last to first per access bit made it explore every combination of their
/// outcomes: most of the cost of loading the default rules).
///
/// The context is `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32
/// minor; }`, `access_type` being `(access << 16) | type`. No code is left
/// unreachable (the verifier refuses it): only the leaves some jump reaches are
/// emitted.
pub(crate) fn compile(rules: &[DeviceRule]) -> Vec<Insn> {
    // The subtrees: 0 the dispatch on the type; each kind named, a dispatch on
    // the major; each major named (and the other majors of a kind that some rule
    // of that kind names a minor for), a dispatch on the minor.
    let mut trees: Vec<Dispatch> = vec![Dispatch {
        reg: TYPE,
        cases: Vec::new(),
        other: Target::Leaf(denied(rules, None, None, None)),
    }];
    for kind in [DeviceKind::Char, DeviceKind::Block] {
        let of_kind: Vec<&DeviceRule> = rules.iter().filter(|r| r.kind == Some(kind)).collect();
        if of_kind.is_empty() {
            continue;
        }
        let minors = |major: Option<u32>| {
            distinct(
                of_kind
                    .iter()
                    .filter(|r| r.major.is_none() || r.major == major)
                    .filter_map(|r| r.minor),
            )
        };
        let by_minor = |trees: &mut Vec<Dispatch>, major: Option<u32>| {
            let named = minors(major);
            let other = Target::Leaf(denied(rules, Some(kind), major, None));
            if named.is_empty() {
                return other;
            }
            trees.push(Dispatch {
                reg: MINOR,
                cases: named
                    .iter()
                    .map(|&m| (m, Target::Leaf(denied(rules, Some(kind), major, Some(m)))))
                    .collect(),
                other,
            });
            Target::Tree(trees.len() - 1)
        };
        let majors = distinct(of_kind.iter().filter_map(|r| r.major));
        let mut cases = Vec::new();
        for &m in &majors {
            cases.push((m, by_minor(&mut trees, Some(m))));
        }
        let other = by_minor(&mut trees, None);
        let at = if majors.is_empty() {
            other
        } else {
            trees.push(Dispatch {
                reg: MAJOR,
                cases,
                other,
            });
            Target::Tree(trees.len() - 1)
        };
        trees[0].cases.push((dev_type(kind) as u32, at));
    }

    let mut p = vec![
        insn(LDX_W, TYPE, CTX, 0, 0),
        insn(MOV32_X, ACCESS, TYPE, 0, 0),
        insn(AND32_K, TYPE, 0, 0, 0xffff),
        insn(RSH32_K, ACCESS, 0, 0, 16),
        insn(LDX_W, MAJOR, CTX, 4, 0),
        insn(LDX_W, MINOR, CTX, 8, 0),
    ];
    // Jumps to patch: (instruction, target).
    let mut jumps: Vec<(usize, Target)> = Vec::new();
    // Each subtree was pushed after the ones it jumps to (the type's dispatch
    // first of all): laid out the other way round, every jump goes forward.
    let mut tree_at = vec![0usize; trees.len()];
    let order = std::iter::once(0).chain((1..trees.len()).rev());
    for i in order {
        let t = &trees[i];
        tree_at[i] = p.len();
        for &(value, target) in &t.cases {
            jumps.push((p.len(), target));
            p.push(insn(JEQ_K, t.reg, 0, 0, value as i32));
        }
        jumps.push((p.len(), t.other));
        p.push(insn(JA, 0, 0, 0, 0));
    }
    // The leaves reached: one that denies some of the bits checks the access
    // asked for, then allows; the whole-deny and whole-allow ends come last.
    let mut leaf_at: Vec<(DeviceAccess, usize)> = Vec::new();
    let (mut to_allow, mut to_deny) = (Vec::new(), Vec::new());
    let mut leaves: Vec<DeviceAccess> = Vec::new();
    for &(_, t) in &jumps {
        if let Target::Leaf(d) = t
            && !leaves.contains(&d)
        {
            leaves.push(d);
        }
    }
    for d in leaves {
        if d.is_empty() || d == DeviceAccess::all() {
            continue;
        }
        leaf_at.push((d, p.len()));
        to_deny.push(p.len());
        p.push(insn(JSET_K, ACCESS, 0, 0, d.bits() as i32));
        to_allow.push(p.len());
        p.push(insn(JA, 0, 0, 0, 0));
    }
    for &(at, t) in &jumps {
        match t {
            Target::Leaf(d) if d.is_empty() => to_allow.push(at),
            Target::Leaf(d) if d == DeviceAccess::all() => to_deny.push(at),
            _ => {}
        }
    }
    fn patch(p: &mut [Insn], at: usize, to: usize) {
        debug_assert!(to > at, "a jump backwards");
        p[at].off = (to - at - 1) as i16;
    }
    for &(at, t) in &jumps {
        let to = match t {
            Target::Tree(i) => tree_at[i],
            Target::Leaf(d) => match leaf_at.iter().find(|(l, _)| *l == d) {
                Some(&(_, to)) => to,
                None => continue,
            },
        };
        patch(&mut p, at, to);
    }
    if !to_allow.is_empty() {
        let end = p.len();
        for &at in &to_allow {
            patch(&mut p, at, end);
        }
        p.push(insn(MOV32_K, 0, 0, 0, 1));
        p.push(insn(EXIT, 0, 0, 0, 0));
    }
    if !to_deny.is_empty() {
        let end = p.len();
        for &at in &to_deny {
            patch(&mut p, at, end);
        }
        p.push(insn(MOV32_K, 0, 0, 0, 0));
        p.push(insn(EXIT, 0, 0, 0, 0));
    }
    p
}

/// A loaded device program.
#[derive(Debug)]
pub(crate) struct Program(OwnedFd);

/// Loads the program of `rules`; the verifier's log is attached to a refusal.
pub(crate) fn load(rules: &[DeviceRule]) -> Result<Program> {
    let insns = compile(rules);
    match bpf::load_device_program(&insns, &mut []) {
        Ok(fd) => Ok(Program(fd)),
        Err(libc::EPERM) => Err(Error::denied(
            format!("{} device rules", rules.len()),
            "loading a cgroup device program needs CAP_BPF or CAP_SYS_ADMIN",
        )),
        Err(e) => {
            // Load again with the verifier's log, for the error.
            let mut log = vec![0u8; 64 << 10];
            let _ = bpf::load_device_program(&insns, &mut log);
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]).trim().to_owned();
            Err(Error::syscall(
                format!(
                    "bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE, {} insns) verifier: {text:?}",
                    insns.len()
                ),
                std::io::Error::from_raw_os_error(e),
            ))
        }
    }
}

/// Whether this process may load a device program (cached): a device list is
/// refused up front otherwise.
pub(crate) fn may_load() -> Result<()> {
    static ANSWER: OnceLock<std::result::Result<(), i32>> = OnceLock::new();
    let r = *ANSWER.get_or_init(|| {
        // The kernel asks for CAP_BPF or CAP_SYS_ADMIN over the initial user
        // namespace: with either in the effective set there, the real load decides
        // (a refusal then still leaves nothing behind); anything else is asked of
        // the kernel with a small program (a load costs 60-170 us here, the check
        // three system calls).
        if privileged_in_the_initial_user_namespace() {
            return Ok(());
        }
        bpf::load_device_program(&compile(&[]), &mut []).map(drop)
    });
    match r {
        Ok(()) => Ok(()),
        Err(libc::EPERM) | Err(libc::EACCES) => Err(Error::denied(
            "device rules",
            "loading a cgroup device program needs CAP_BPF or CAP_SYS_ADMIN (root)",
        )),
        Err(libc::ENOSYS) | Err(libc::EINVAL) => Err(Error::Unsupported {
            feature: "bpf(2) cgroup device programs",
            min_kernel: "4.15",
        }),
        Err(e) => Err(Error::syscall(
            "bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE)",
            std::io::Error::from_raw_os_error(e),
        )),
    }
}

/// Whether the effective set holds `CAP_BPF` or `CAP_SYS_ADMIN` and the process is
/// in the initial user namespace (its uid map is the identity of every id).
fn privileged_in_the_initial_user_namespace() -> bool {
    use rustix::thread::CapabilitySet;
    let caps = rustix::thread::capabilities(None).map(|c| c.effective);
    let capable = caps.is_ok_and(|e| e.intersects(CapabilitySet::BPF | CapabilitySet::SYS_ADMIN));
    capable && crate::features::in_initial_user_namespace()
}

/// Opens a cgroup directory for `bpf` (which takes no `O_PATH` fd).
pub(crate) fn open_dir(dir: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Error::syscall(format!("open({dir:?}, O_RDONLY|O_DIRECTORY)"), e.into()))
}

/// Attaches `prog` to the cgroup `cg` (`BPF_F_ALLOW_MULTI`, so a later update can
/// replace it).
pub(crate) fn attach(cg: BorrowedFd<'_>, dir: &Path, prog: &Program) -> Result<()> {
    bpf::attach_device_program(cg, prog.0.as_fd(), bpf::BPF_F_ALLOW_MULTI, None).map_err(|e| {
        Error::syscall(
            format!("bpf(BPF_PROG_ATTACH, {dir:?}, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)"),
            std::io::Error::from_raw_os_error(e),
        )
    })
}

/// The ids of the device programs attached to the cgroup directory `dir` itself.
///
/// # Errors
/// Opening the directory, or `bpf(BPF_PROG_QUERY)` (`EPERM` without
/// `CAP_NET_ADMIN`).
pub fn device_programs(dir: &Path) -> Result<Vec<u32>> {
    let fd = open_dir(dir)?;
    query(fd.as_fd(), dir)
}

fn query(cg: BorrowedFd<'_>, dir: &Path) -> Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let (n, _) = bpf::query_device_programs(cg, &mut ids).map_err(|e| {
        Error::syscall(
            format!("bpf(BPF_PROG_QUERY, {dir:?}, BPF_CGROUP_DEVICE)"),
            std::io::Error::from_raw_os_error(e),
        )
    })?;
    ids.truncate(n.min(ids.len()));
    Ok(ids)
}

/// Whether a program of this id is still loaded (`BPF_PROG_GET_FD_BY_ID`).
///
/// # Errors
/// `bpf(BPF_PROG_GET_FD_BY_ID)` failing otherwise than `ENOENT` (`EPERM` without
/// `CAP_SYS_ADMIN`).
pub fn device_program_loaded(id: u32) -> Result<bool> {
    match bpf::program_by_id(id) {
        Ok(_) => Ok(true),
        Err(libc::ENOENT) => Ok(false),
        Err(e) => Err(Error::syscall(
            format!("bpf(BPF_PROG_GET_FD_BY_ID, {id})"),
            std::io::Error::from_raw_os_error(e),
        )),
    }
}

/// Replaces the device programs attached to the cgroup `dir` by the program of
/// `rules` (none for an empty list): one attached program is swapped atomically
/// (`BPF_F_REPLACE`); else the new one is attached first, then the old ones
/// detached (while both are attached, both must allow).
pub(crate) fn replace(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let cg = open_dir(dir)?;
    let old = query(cg.as_fd(), dir)?;
    let old: Vec<OwnedFd> = old
        .into_iter()
        .map(|id| {
            bpf::program_by_id(id).map_err(|e| {
                Error::syscall(
                    format!("bpf(BPF_PROG_GET_FD_BY_ID, {id})"),
                    std::io::Error::from_raw_os_error(e),
                )
            })
        })
        .collect::<Result<_>>()?;
    let detach = |fds: &[OwnedFd]| -> Result<()> {
        for fd in fds {
            bpf::detach_device_program(cg.as_fd(), fd.as_fd()).map_err(|e| {
                Error::syscall(
                    format!("bpf(BPF_PROG_DETACH, {dir:?}, BPF_CGROUP_DEVICE)"),
                    std::io::Error::from_raw_os_error(e),
                )
            })?;
        }
        Ok(())
    };
    if rules.is_empty() {
        return detach(&old);
    }
    let new = load(rules)?;
    if let [one] = old.as_slice() {
        return bpf::attach_device_program(
            cg.as_fd(),
            new.0.as_fd(),
            bpf::BPF_F_ALLOW_MULTI | bpf::BPF_F_REPLACE,
            Some(one.as_fd()),
        )
        .map_err(|e| {
            Error::syscall(
                format!("bpf(BPF_PROG_ATTACH, {dir:?}, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI|BPF_F_REPLACE)"),
                std::io::Error::from_raw_os_error(e),
            )
        });
    }
    attach(cg.as_fd(), dir, &new)?;
    detach(&old)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on one context, as the kernel would (the subset of eBPF
    /// `compile` emits); panics on anything else, or on a jump out of the program.
    fn run(p: &[Insn], access_type: u32, major: u32, minor: u32) -> u32 {
        let ctx = [access_type, major, minor];
        let mut r = [0u32; 11];
        let mut pc = 0usize;
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 100_000, "loops");
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            let jump = |pc: &mut usize| *pc = (*pc as isize + i.off as isize) as usize;
            match i.code {
                LDX_W => {
                    assert_eq!(src, CTX as usize);
                    r[dst] = ctx[i.off as usize / 4];
                }
                MOV32_X => r[dst] = r[src],
                MOV32_K => r[dst] = i.imm as u32,
                AND32_K => r[dst] &= i.imm as u32,
                RSH32_K => r[dst] >>= i.imm as u32,
                JA => jump(&mut pc),
                JEQ_K => {
                    if r[dst] == i.imm as u32 {
                        jump(&mut pc)
                    }
                }
                JSET_K => {
                    if r[dst] & i.imm as u32 != 0 {
                        jump(&mut pc)
                    }
                }
                EXIT => return r[0],
                c => panic!("unexpected code {c:#x}"),
            }
            assert!(pc < p.len(), "jumped out of the program");
        }
    }

    /// Every instruction is reached by some path (the verifier refuses dead code).
    fn all_reachable(p: &[Insn]) -> bool {
        let mut seen = vec![false; p.len()];
        let mut todo = vec![0usize];
        while let Some(pc) = todo.pop() {
            if pc >= p.len() || seen[pc] {
                continue;
            }
            seen[pc] = true;
            let i = p[pc];
            let target = (pc as isize + 1 + i.off as isize) as usize;
            match i.code {
                EXIT => {}
                JA => todo.push(target),
                JEQ_K | JSET_K => todo.extend([pc + 1, target]),
                _ => todo.push(pc + 1),
            }
        }
        seen.iter().all(|s| *s)
    }

    fn rule_sets() -> Vec<Vec<DeviceRule>> {
        let rw = DeviceAccess::READ | DeviceAccess::WRITE;
        let c = DeviceKind::Char;
        let b = DeviceKind::Block;
        let pool = [
            DeviceRule::deny_all(),
            DeviceRule::allow(DeviceAccess::all()),
            DeviceRule::allow(rw).kind(c).major(1).minor(3),
            DeviceRule::allow(DeviceAccess::READ)
                .kind(c)
                .major(1)
                .minor(5),
            DeviceRule::deny(DeviceAccess::WRITE).kind(c).major(1),
            DeviceRule::allow(DeviceAccess::all()).kind(c).major(136),
            DeviceRule::deny(DeviceAccess::MKNOD).kind(c),
            DeviceRule::allow(DeviceAccess::MKNOD).kind(b),
            DeviceRule::allow(DeviceAccess::WRITE)
                .kind(c)
                .major(1)
                .minor(5),
            DeviceRule::deny(DeviceAccess::READ)
                .kind(b)
                .major(7)
                .minor(0),
            // A minor number under every major.
            DeviceRule::deny(DeviceAccess::WRITE).kind(c).minor(3),
            DeviceRule::allow(DeviceAccess::all()).kind(b).major(7),
        ];
        let mut sets = vec![Vec::new()];
        // Every ordered pick of up to three rules of the pool, and longer lists.
        for a in 0..pool.len() {
            sets.push(vec![pool[a]]);
            for b in 0..pool.len() {
                sets.push(vec![pool[a], pool[b]]);
                for c in (0..pool.len()).step_by(3) {
                    sets.push(vec![pool[a], pool[b], pool[c]]);
                }
            }
        }
        sets.push(pool.to_vec());
        sets.push(pool.iter().rev().copied().collect());
        sets
    }

    #[test]
    fn the_program_decides_as_the_rules_read() {
        let devices = [
            (DeviceKind::Char, 1, 3),
            (DeviceKind::Char, 1, 5),
            (DeviceKind::Char, 1, 7),
            (DeviceKind::Char, 136, 2),
            (DeviceKind::Char, 5, 0),
            (DeviceKind::Block, 7, 0),
            (DeviceKind::Block, 1, 3),
            (DeviceKind::Block, 7, 3),
            // Numbers no rule names.
            (DeviceKind::Char, 9, 3),
            (DeviceKind::Char, 9, 9),
            (DeviceKind::Char, 1, 9),
            (DeviceKind::Block, 9, 9),
        ];
        let mut checked = 0;
        for rules in rule_sets() {
            let p = compile(&rules);
            assert!(all_reachable(&p), "dead code for {rules:?}");
            // A type that is neither block nor char: only the rules for every
            // kind of device decide.
            let any: Vec<DeviceRule> = rules.iter().filter(|r| r.kind.is_none()).copied().collect();
            for bits in 1..8u32 {
                let access = DeviceAccess::from_bits_truncate(bits);
                let got = run(&p, bits << 16, 1, 3) == 1;
                let want = permits(&any, DeviceKind::Char, 1, 3, access);
                assert_eq!(got, want, "type 0, {access} under {rules:?}");
            }
            for &(kind, major, minor) in &devices {
                for bits in 1..8u32 {
                    let access = DeviceAccess::from_bits_truncate(bits);
                    let ctx = (bits << 16) | dev_type(kind) as u32;
                    let got = run(&p, ctx, major, minor) == 1;
                    let want = permits(&rules, kind, major, minor, access);
                    assert_eq!(
                        got, want,
                        "{kind:?} {major}:{minor} {access} under {rules:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    /// Every program `compile` emits for the rule sets above, and the largest one
    /// `check` lets through, passes the kernel's verifier (loading needs CAP_BPF or
    /// CAP_SYS_ADMIN: root). A load only: no cgroup is touched, and each program
    /// is freed with its fd.
    #[test]
    fn the_kernel_loads_every_program() {
        if !linception_testkit::require(linception_testkit::Feature::Root) {
            return;
        }
        let sets = rule_sets();
        for rules in &sets {
            if let Err(e) = load(rules) {
                panic!("{rules:?}: {e}");
            }
        }
        let largest: Vec<DeviceRule> = (0..4000)
            .map(|m| {
                DeviceRule::allow(DeviceAccess::all())
                    .kind(DeviceKind::Char)
                    .major(1)
                    .minor(m)
            })
            .chain([DeviceRule::deny_all()])
            .rev()
            .collect();
        check(&largest, "").unwrap();
        if let Err(e) = load(&largest) {
            panic!("{} rules: {e}", largest.len());
        }
        assert!(sets.len() > 500, "{}", sets.len());
    }

    #[test]
    fn the_meaning_of_a_list() {
        let rw = DeviceAccess::READ | DeviceAccess::WRITE;
        let c = DeviceKind::Char;
        let null = |r: &[DeviceRule], a| permits(r, c, 1, 3, a);
        assert!(null(&[], DeviceAccess::all()));
        assert!(!null(&[DeviceRule::deny_all()], DeviceAccess::READ));
        let only_read = [
            DeviceRule::deny_all(),
            DeviceRule::allow(DeviceAccess::READ)
                .kind(c)
                .major(1)
                .minor(3),
        ];
        assert!(null(&only_read, DeviceAccess::READ));
        assert!(!null(&only_read, rw));
        // Two rules allowing one access each allow both.
        let both = [
            DeviceRule::deny_all(),
            DeviceRule::allow(DeviceAccess::READ).kind(c).major(1),
            DeviceRule::allow(DeviceAccess::WRITE)
                .kind(c)
                .minor(3)
                .major(1),
        ];
        assert!(null(&both, rw));
        // A later deny of one access wins over an earlier allow.
        let no_write = [
            DeviceRule::allow(rw).kind(c).major(1).minor(3),
            DeviceRule::deny(DeviceAccess::WRITE).kind(c).major(1),
        ];
        assert!(null(&no_write, DeviceAccess::READ));
        assert!(!null(&no_write, rw));
    }

    #[test]
    fn bad_rules_are_named() {
        let bad = [
            (DeviceRule::allow(DeviceAccess::empty()), "no access"),
            (
                DeviceRule::allow(DeviceAccess::READ).major(1),
                "every kind of device takes no major",
            ),
            (
                DeviceRule::allow(DeviceAccess::READ)
                    .kind(DeviceKind::Char)
                    .major(4096),
                "major number is over 4095",
            ),
            (
                DeviceRule::allow(DeviceAccess::READ)
                    .kind(DeviceKind::Block)
                    .major(1)
                    .minor(1 << 20),
                "minor number is over 1048575",
            ),
        ];
        for (rule, want) in bad {
            let e = check(&[rule], "").unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(e.contains(&format!("device rule 0 ({rule})")), "{e}");
        }
        // A compare per minor number named: 5000 of them are over the limit.
        let many: Vec<DeviceRule> = (0..5000)
            .map(|m| {
                DeviceRule::allow(DeviceAccess::all())
                    .kind(DeviceKind::Char)
                    .major(1)
                    .minor(m)
            })
            .collect();
        let e = check(&many, " of cgroup \"/cg\"").unwrap_err().to_string();
        assert!(e.contains("5000 device rules of cgroup \"/cg\""), "{e}");
        assert!(check(&many[..4000], "").is_ok());
        assert_eq!(DeviceAccess::parse("rwm").unwrap(), DeviceAccess::all());
        assert_eq!(
            DeviceAccess::parse("mr").unwrap(),
            DeviceAccess::READ | DeviceAccess::MKNOD
        );
        for s in ["", "rr", "x", "rw "] {
            assert!(DeviceAccess::parse(s).is_err(), "{s:?}");
        }
        assert_eq!(
            DeviceRule::allow(DeviceAccess::READ | DeviceAccess::WRITE)
                .kind(DeviceKind::Char)
                .major(136)
                .to_string(),
            "allow c 136:* rw"
        );
    }
}
