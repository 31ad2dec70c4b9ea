//! A seccomp filter as data: a default action and rules per syscall.
#![forbid(unsafe_code)]

use crate::arch::{Arch, X32_SYSCALL_BIT};
use crate::bpf::SeccompData;
use crate::error::{Error, Result};

/// What the kernel does with a syscall (`SECCOMP_RET_*`).
///
/// ```
/// use linception_seccomp_notify::Action;
/// assert_eq!(Action::Errno(libc::EPERM).to_raw(), libc::SECCOMP_RET_ERRNO | 1);
/// assert_eq!(Action::from_raw(libc::SECCOMP_RET_USER_NOTIF), Action::UserNotif);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// `SECCOMP_RET_ALLOW`: run the syscall.
    Allow,
    /// `SECCOMP_RET_ERRNO`: fail with this errno (0..=4095) without running it.
    Errno(i32),
    /// `SECCOMP_RET_KILL_PROCESS`: kill the whole process (core dump, `SIGSYS`). Since Linux 4.14.
    KillProcess,
    /// `SECCOMP_RET_KILL_THREAD`: kill the calling thread.
    KillThread,
    /// `SECCOMP_RET_TRAP`: deliver `SIGSYS` to the thread, with this value in `si_errno`.
    Trap(u16),
    /// `SECCOMP_RET_LOG`: log, then run the syscall. Since Linux 4.14.
    Log,
    /// `SECCOMP_RET_TRACE`: stop for a ptrace tracer, with this message
    /// (`ENOSYS` without tracer).
    Trace(u16),
    /// `SECCOMP_RET_USER_NOTIF`: wait for the supervisor holding the listener. Since Linux 5.0.
    UserNotif,
}

/// `SECCOMP_RET_ACTION_FULL`: the action bits of a filter's return value.
pub const SECCOMP_RET_ACTION_FULL: u32 = 0xffff_0000;
/// `SECCOMP_RET_DATA`: the data bits of a filter's return value.
pub const SECCOMP_RET_DATA: u32 = 0x0000_ffff;

impl Action {
    /// The `SECCOMP_RET_*` value a filter returns for this action.
    ///
    /// An errno outside 0..=4095 is clamped by the kernel; [`Filter`] refuses it.
    pub const fn to_raw(self) -> u32 {
        match self {
            Action::Allow => libc::SECCOMP_RET_ALLOW,
            Action::Errno(e) => libc::SECCOMP_RET_ERRNO | (e as u32 & SECCOMP_RET_DATA),
            Action::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
            Action::KillThread => libc::SECCOMP_RET_KILL_THREAD,
            Action::Trap(d) => libc::SECCOMP_RET_TRAP | d as u32,
            Action::Log => libc::SECCOMP_RET_LOG,
            Action::Trace(d) => libc::SECCOMP_RET_TRACE | d as u32,
            Action::UserNotif => libc::SECCOMP_RET_USER_NOTIF,
        }
    }

    /// The action a `SECCOMP_RET_*` value stands for; an unknown action value is
    /// `KillProcess`, as in the kernel.
    pub const fn from_raw(raw: u32) -> Action {
        let data = (raw & SECCOMP_RET_DATA) as u16;
        match raw & SECCOMP_RET_ACTION_FULL {
            libc::SECCOMP_RET_ALLOW => Action::Allow,
            libc::SECCOMP_RET_ERRNO => Action::Errno(data as i32),
            libc::SECCOMP_RET_KILL_THREAD => Action::KillThread,
            libc::SECCOMP_RET_TRAP => Action::Trap(data),
            libc::SECCOMP_RET_LOG => Action::Log,
            libc::SECCOMP_RET_TRACE => Action::Trace(data),
            libc::SECCOMP_RET_USER_NOTIF => Action::UserNotif,
            _ => Action::KillProcess,
        }
    }

    fn validate(self) -> Result<()> {
        match self {
            Action::Errno(errno) if !(0..=4095).contains(&errno) => {
                Err(Error::InvalidErrno { errno })
            }
            _ => Ok(()),
        }
    }
}

/// How much of an argument a [`Condition`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Width {
    /// The whole 64-bit register.
    #[default]
    Bits64,
    /// The low 32 bits only: for `int`/`unsigned int` arguments, whose upper half the
    /// kernel ignores (and a caller may leave non-zero).
    Bits32,
}

/// A comparison of an argument with a constant; all comparisons are unsigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    /// `arg == value`
    Eq(u64),
    /// `arg != value`
    Ne(u64),
    /// `arg < value`
    Lt(u64),
    /// `arg <= value`
    Le(u64),
    /// `arg > value`
    Gt(u64),
    /// `arg >= value`
    Ge(u64),
    /// `arg & mask == value`
    MaskedEq {
        /// The bits compared.
        mask: u64,
        /// Their expected value.
        value: u64,
    },
}

/// A condition on one syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Condition {
    /// The argument index, 0..=5.
    pub arg: u8,
    /// 64-bit or 32-bit comparison.
    pub width: Width,
    /// The comparison.
    pub cmp: Cmp,
}

impl Condition {
    /// A 64-bit condition on argument `arg` (0..=5).
    ///
    /// ```
    /// use linception_seccomp_notify::{Cmp, Condition};
    /// let to_stdout = Condition::new(0, Cmp::Eq(1));
    /// assert!(to_stdout.matches(&[1, 0, 0, 0, 0, 0]));
    /// ```
    pub const fn new(arg: u8, cmp: Cmp) -> Self {
        Condition {
            arg,
            width: Width::Bits64,
            cmp,
        }
    }

    /// A condition on the low 32 bits of argument `arg` (0..=5); see [`Width::Bits32`].
    pub const fn new32(arg: u8, cmp: Cmp) -> Self {
        Condition {
            arg,
            width: Width::Bits32,
            cmp,
        }
    }

    /// Whether the condition holds for these arguments: the reference semantics the
    /// compiled BPF is tested against.
    pub fn matches(&self, args: &[u64; 6]) -> bool {
        let Some(&raw) = args.get(self.arg as usize) else {
            return false;
        };
        let cut = |v: u64| match self.width {
            Width::Bits64 => v,
            Width::Bits32 => v & 0xffff_ffff,
        };
        let a = cut(raw);
        match self.cmp {
            Cmp::Eq(v) => a == cut(v),
            Cmp::Ne(v) => a != cut(v),
            Cmp::Lt(v) => a < cut(v),
            Cmp::Le(v) => a <= cut(v),
            Cmp::Gt(v) => a > cut(v),
            Cmp::Ge(v) => a >= cut(v),
            Cmp::MaskedEq { mask, value } => a & cut(mask) == cut(value),
        }
    }
}

/// A syscall named by the kernel's table or by number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Syscall {
    /// By name, looked up in the filter architecture's table at [`Filter::compile`].
    Name(String),
    /// By number.
    Number(u32),
}

impl From<&str> for Syscall {
    fn from(name: &str) -> Self {
        Syscall::Name(name.to_owned())
    }
}

impl From<String> for Syscall {
    fn from(name: String) -> Self {
        Syscall::Name(name)
    }
}

impl From<u32> for Syscall {
    fn from(nr: u32) -> Self {
        Syscall::Number(nr)
    }
}

/// One rule: this syscall, when all conditions hold, gets this action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The syscall.
    pub syscall: Syscall,
    /// Conditions, all of which must hold (none: always).
    pub conditions: Vec<Condition>,
    /// The action.
    pub action: Action,
}

/// A seccomp filter as data: the architecture, a default action, and rules.
///
/// For a syscall, the first rule (in the order they were added) naming it whose
/// conditions all hold decides; if none does, the default action applies. A syscall
/// made through an ABI the filter does not list ([`Filter::arch`] and those added with
/// [`Filter::with_arch`]: i386 `int 0x80` or x32 on x86_64, arm32 on aarch64, unless
/// listed) kills the process.
///
/// ```
/// use linception_seccomp_notify::{Action, Cmp, Condition, Filter};
///
/// let filter = Filter::new(Action::Allow)
///     .rule("getppid", Action::UserNotif)
///     .rule_if("write", [Condition::new32(0, Cmp::Ne(1))], Action::Errno(libc::EPERM))
///     .rule("ptrace", Action::KillProcess);
/// let program = filter.compile()?;
/// assert!(program.len() < 40);
/// # Ok::<(), linception_seccomp_notify::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Filter {
    arch: Arch,
    /// More ABIs the rules apply to (by name), without `arch` or duplicates.
    more_arches: Vec<Arch>,
    default: Action,
    rules: Vec<Rule>,
    dispatch: Dispatch,
}

/// How the compiled program finds a syscall's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Dispatch {
    /// A linear chain for a few syscalls, a binary search on the syscall number for
    /// more (the program stays short and a lookup costs O(log n) instructions).
    #[default]
    Auto,
    /// One comparison per syscall, in order (for comparison; long for big sets).
    Linear,
    /// Always a binary search.
    BinarySearch,
}

/// A resolved rule: syscall number instead of name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResolvedRule {
    pub nr: u32,
    pub conditions: Vec<Condition>,
    pub action: Action,
}

impl Filter {
    /// A filter for the native architecture with this default action and no rules.
    ///
    /// # Panics
    /// On an architecture this crate has no syscall table for (x86_64 and aarch64 are
    /// supported); use [`Filter::for_arch`] there.
    pub fn new(default: Action) -> Self {
        Self::for_arch(
            Arch::native().expect("linception-seccomp-notify supports x86_64 and aarch64"),
            default,
        )
    }

    /// A filter for `arch` with this default action and no rules.
    pub fn for_arch(arch: Arch, default: Action) -> Self {
        Filter {
            arch,
            more_arches: Vec::new(),
            default,
            rules: Vec::new(),
            dispatch: Dispatch::Auto,
        }
    }

    /// Applies the rules to the calls of one more ABI too: the compat ABIs of
    /// x86_64 ([`Arch::X86`], [`Arch::X32`]), as libseccomp's `seccomp_arch_add` does.
    ///
    /// A rule naming a syscall by name gets that ABI's number for it; a name an ABI
    /// lacks is skipped there (and refused only if no ABI of the filter has it). A
    /// rule by [`Syscall::Number`] applies to [`Filter::arch`] only. Adding the
    /// filter's own architecture again changes nothing.
    ///
    /// On i386 a rule on a socket or SysV IPC call (`socket`, `accept`, `semop`,
    /// `shmget`...) also applies to its multiplexed form, as libseccomp's does:
    /// `socketcall` (102) or `ipc` (117) with the call's number (`SYS_SOCKET`...)
    /// in argument 0. The rule's conditions on arguments 1 to 5 stay, on the
    /// multiplexer's own arguments; one on argument 0 gives way to the call number
    /// (the call's arguments are in memory, out of a filter's reach).
    ///
    /// ```
    /// use linception_seccomp_notify::{Action, Arch, Filter, SeccompData};
    ///
    /// let filter = Filter::for_arch(Arch::X86_64, Action::Allow)
    ///     .with_arch(Arch::X86)
    ///     .rule("getpid", Action::Errno(libc::EPERM));
    /// let program = filter.compile()?;
    /// let call = |arch: Arch| SeccompData {
    ///     nr: arch.syscall_number("getpid").unwrap() as i32, // 39, and 20 on i386
    ///     arch: arch.audit_arch(),
    ///     ..Default::default()
    /// };
    /// assert_eq!(program.evaluate(&call(Arch::X86_64))?, Action::Errno(libc::EPERM));
    /// assert_eq!(program.evaluate(&call(Arch::X86))?, Action::Errno(libc::EPERM));
    /// assert_eq!(program.evaluate(&call(Arch::X32))?, Action::KillProcess); // not listed
    /// # Ok::<(), linception_seccomp_notify::Error>(())
    /// ```
    pub fn with_arch(mut self, arch: Arch) -> Self {
        if arch != self.arch && !self.more_arches.contains(&arch) {
            self.more_arches.push(arch);
        }
        self
    }

    /// Adds a rule without conditions.
    pub fn rule(self, syscall: impl Into<Syscall>, action: Action) -> Self {
        self.rule_if(syscall, [], action)
    }

    /// Adds a rule that applies when every condition holds.
    pub fn rule_if(
        mut self,
        syscall: impl Into<Syscall>,
        conditions: impl IntoIterator<Item = Condition>,
        action: Action,
    ) -> Self {
        self.rules.push(Rule {
            syscall: syscall.into(),
            conditions: conditions.into_iter().collect(),
            action,
        });
        self
    }

    /// Adds a prepared rule.
    pub fn push(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// Chooses the dispatch shape (default [`Dispatch::Auto`]).
    pub fn dispatch(mut self, dispatch: Dispatch) -> Self {
        self.dispatch = dispatch;
        self
    }

    /// The architecture.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Every ABI the filter covers: [`Filter::arch`] first, then those of
    /// [`Filter::with_arch`] in the order they were added.
    pub fn arches(&self) -> impl Iterator<Item = Arch> + '_ {
        std::iter::once(self.arch).chain(self.more_arches.iter().copied())
    }

    /// The default action.
    pub fn default_action(&self) -> Action {
        self.default
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub(crate) fn dispatch_kind(&self) -> Dispatch {
        self.dispatch
    }

    /// Checks the filter and resolves syscall names, for each ABI (in the order of
    /// [`Filter::arches`]).
    pub(crate) fn resolve(&self) -> Result<Vec<(Arch, Vec<ResolvedRule>)>> {
        if self.default == Action::UserNotif {
            return Err(if self.rules.is_empty() {
                Error::EmptyNotifyFilter
            } else {
                Error::NotifyAsDefault
            });
        }
        self.default.validate()?;
        let mut out: Vec<(Arch, Vec<ResolvedRule>)> =
            self.arches().map(|a| (a, Vec::new())).collect();
        for rule in &self.rules {
            rule.action.validate()?;
            if let Some(c) = rule.conditions.iter().find(|c| c.arg > 5) {
                return Err(Error::InvalidArgIndex { index: c.arg });
            }
            let resolved = |nr| ResolvedRule {
                nr,
                conditions: rule.conditions.clone(),
                action: rule.action,
            };
            match &rule.syscall {
                Syscall::Name(name) => {
                    let mut found = false;
                    for (arch, rules) in &mut out {
                        // i386 socket and SysV IPC calls also go through socketcall
                        // and ipc: the rule covers that form too, as libseccomp does.
                        if *arch == Arch::X86
                            && let Some(mux) = x86_multiplexed(name)
                        {
                            found = true;
                            rules.push(mux.rule(rule));
                        }
                        // As libseccomp: a name one of several ABIs lacks is skipped
                        // there; a filter of one ABI refuses it.
                        match arch.syscall_number(name) {
                            Ok(nr) => {
                                found = true;
                                rules.push(resolved(nr));
                            }
                            Err(_) => continue,
                        }
                    }
                    if !found {
                        return Err(Error::UnknownSyscall {
                            name: name.clone(),
                            arch: self.arch,
                        });
                    }
                }
                &Syscall::Number(nr) => {
                    let bit = self.arch.syscall_bit();
                    if matches!(self.arch, Arch::X86_64 | Arch::X32) && nr & X32_SYSCALL_BIT != bit
                    {
                        return Err(Error::InvalidSyscallNumber {
                            nr,
                            arch: self.arch,
                            reason: if bit == 0 {
                                "x32 calls (__X32_SYSCALL_BIT) are not x86_64's: use Arch::X32"
                            } else {
                                "an x32 number has __X32_SYSCALL_BIT set"
                            },
                        });
                    }
                    out[0].1.push(resolved(nr));
                }
            }
        }
        Ok(out)
    }

    /// Evaluates the filter directly on `data`, without BPF: the reference the compiled
    /// program is tested against.
    ///
    /// # Errors
    /// As [`Filter::compile`] for an invalid filter.
    pub fn evaluate(&self, data: &SeccompData) -> Result<Action> {
        let per_arch = self.resolve()?;
        let nr = data.nr as u32;
        let Some(arch) = Arch::of(data.arch, nr) else {
            return Ok(Action::KillProcess);
        };
        let Some((_, rules)) = per_arch.iter().find(|(a, _)| *a == arch) else {
            return Ok(Action::KillProcess);
        };
        Ok(rules
            .iter()
            .find(|r| r.nr == nr && r.conditions.iter().all(|c| c.matches(&data.args)))
            .map_or(self.default, |r| r.action))
    }
}

/// An i386 socket or SysV IPC call's multiplexed form: `socketcall(call, args)` or
/// `ipc(call, ...)`.
struct Multiplexed {
    /// `socketcall` (102) or `ipc` (117).
    nr: u32,
    /// The `SYS_*` (linux/net.h) or IPC call (linux/ipc.h) number in argument 0.
    call: u64,
}

impl Multiplexed {
    /// The rule for the multiplexed form, as libseccomp makes it: argument 0 is the
    /// call number (a condition of the rule on argument 0 is replaced, the others
    /// stay, on the multiplexer's own arguments: the call's arguments are in memory,
    /// where no filter can read them).
    fn rule(&self, rule: &Rule) -> ResolvedRule {
        let mut conditions = vec![Condition::new32(0, Cmp::Eq(self.call))];
        conditions.extend(rule.conditions.iter().filter(|c| c.arg != 0).copied());
        ResolvedRule {
            nr: self.nr,
            conditions,
            action: rule.action,
        }
    }
}

/// `SYS_*` of linux/net.h, by syscall name.
const SOCKETCALLS: [&str; 20] = [
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "getsockname",
    "getpeername",
    "socketpair",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "recvmsg",
    "accept4",
    "recvmmsg",
    "sendmmsg",
];

/// The IPC call numbers of linux/ipc.h, by syscall name.
const IPC_CALLS: [(&str, u64); 12] = [
    ("semop", 1),
    ("semget", 2),
    ("semctl", 3),
    ("semtimedop", 4),
    ("msgsnd", 11),
    ("msgrcv", 12),
    ("msgget", 13),
    ("msgctl", 14),
    ("shmat", 21),
    ("shmdt", 22),
    ("shmget", 23),
    ("shmctl", 24),
];

/// The multiplexed i386 form of the call called `name`, if it has one.
fn x86_multiplexed(name: &str) -> Option<Multiplexed> {
    if let Some(i) = SOCKETCALLS.iter().position(|n| *n == name) {
        return Some(Multiplexed {
            nr: 102,
            call: i as u64 + 1,
        });
    }
    IPC_CALLS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, call)| Multiplexed { nr: 117, call })
}
