//! Compiling a [`Filter`] to seccomp BPF: one pure function.
//!
//! Layout of a program:
//!
//! 1. `arch` is loaded and compared with the filter's `AUDIT_ARCH_*`: any other ABI is
//!    `KILL_PROCESS`. On x86_64 a number with `__X32_SYSCALL_BIT` (x32) is killed too.
//!    A filter of several ABIs ([`Filter::with_arch`]) compares `arch` with each
//!    audit arch in turn, each match leading to steps 2 and 3 with that ABI's numbers
//!    (x86_64 and x32 share `AUDIT_ARCH_X86_64`: `JSET __X32_SYSCALL_BIT` picks one);
//!    a filter of one ABI is the same program as before there were several.
//! 2. Dispatch on the syscall number (grouped): syscalls are sorted and cut into
//!    leaves of up to eight; a binary search (`JGE` on a middle number) finds the
//!    leaf, where one `JEQ` per syscall jumps to its block and a number with no rule
//!    returns the default action. Up to eight syscalls, the program is one leaf.
//! 3. The blocks of a leaf follow it, one per distinct rule list (syscalls with the
//!    same rules share a block, so 300 syscalls that all get `ERRNO(EPERM)` cost one
//!    `JEQ` each, not two): the rules in order, each a run of argument checks that
//!    jump to the next rule on a mismatch, then `RET action`; `RET default` at the end.
//!
//! [`Dispatch::Linear`] instead emits a chain, each syscall's block inline after its
//! `JEQ` (for comparison).
//!
//! Classic BPF jumps are forward only and a conditional jump reaches at most 255
//! instructions; the assembler below places a `JA` trampoline (32-bit offset) right
//! after any conditional jump whose target is farther, and repeats the layout until
//! every offset fits.
#![forbid(unsafe_code)]

use crate::arch::{AUDIT_ARCH_X86_64, Arch, X32_SYSCALL_BIT};
use crate::bpf::{
    self, BPF_MAXINSNS, OFFSET_ARCH, OFFSET_NR, SeccompData, SockFilter, arg_high, arg_low, op,
};
use crate::error::{Error, Result};
use crate::filter::{Action, Cmp, Condition, Dispatch, Filter, ResolvedRule, Width};

/// Up to this many distinct syscalls, [`Dispatch::Auto`] uses a linear chain.
/// Binary-search leaves hold up to this many syscalls (and [`Dispatch::Auto`] uses a
/// single leaf up to this many).
const LEAF_MAX: usize = 8;

/// A compiled seccomp program for one architecture, ready to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    arch: Arch,
    arches: Vec<Arch>,
    instructions: Vec<SockFilter>,
    notifies: bool,
}

impl Program {
    /// The instructions.
    pub fn instructions(&self) -> &[SockFilter] {
        &self.instructions
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.instructions.len()
    }

    /// Always false: a compiled program has at least the architecture check, and
    /// [`from_instructions`](Self::from_instructions) refuses an empty one.
    pub fn is_empty(&self) -> bool {
        self.instructions.is_empty()
    }

    /// The architecture the program was compiled for (its filter's
    /// [`Filter::arch`]).
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Every ABI whose calls the program filters (the filter's [`Filter::arches`]);
    /// a call through any other is killed.
    pub fn arches(&self) -> &[Arch] {
        &self.arches
    }

    /// Whether some rule returns `USER_NOTIF` (so installing needs a listener).
    pub fn notifies(&self) -> bool {
        self.notifies
    }

    /// Runs the program in the in-crate interpreter, as the kernel would.
    ///
    /// ```
    /// use linception_seccomp_notify::{Action, Filter, SeccompData};
    /// let filter = Filter::new(Action::Allow).rule("getppid", Action::Errno(1));
    /// let program = filter.compile()?;
    /// let data = SeccompData {
    ///     nr: filter.arch().syscall_number("getppid")? as i32,
    ///     arch: filter.arch().audit_arch(),
    ///     ..Default::default()
    /// };
    /// assert_eq!(program.evaluate(&data)?, Action::Errno(1));
    /// # Ok::<(), linception_seccomp_notify::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidProgram`]; never for a program from [`compile`].
    pub fn evaluate(&self, data: &SeccompData) -> Result<Action> {
        bpf::interpret(&self.instructions, data).map(Action::from_raw)
    }

    /// Wraps instructions that were assembled elsewhere (for example to install a
    /// hand-written program); beyond their number, they are checked at install
    /// time by the kernel only.
    ///
    /// The program counts as notifying ([`notifies`](Self::notifies)) if a `RET K`
    /// returns `SECCOMP_RET_USER_NOTIF`; a `RET A` is not followed.
    ///
    /// # Errors
    /// [`Error::EmptyProgram`] for no instructions, [`Error::ProgramTooLong`] above
    /// `BPF_MAXINSNS` (the kernel refuses both with `EINVAL`).
    pub fn from_instructions(arch: Arch, instructions: Vec<SockFilter>) -> Result<Self> {
        if instructions.is_empty() {
            return Err(Error::EmptyProgram);
        }
        if instructions.len() > BPF_MAXINSNS {
            return Err(Error::ProgramTooLong {
                len: instructions.len(),
                max: BPF_MAXINSNS,
            });
        }
        let notifies = instructions
            .iter()
            .any(|i| i.code == op::RET | op::K && Action::from_raw(i.k) == Action::UserNotif);
        Ok(Program {
            arch,
            arches: vec![arch],
            instructions,
            notifies,
        })
    }
}

impl Filter {
    /// Validates and compiles the filter; see [`compile`].
    ///
    /// # Errors
    /// As [`compile`].
    pub fn compile(&self) -> Result<Program> {
        compile(self)
    }
}

/// Validates `filter` and compiles it to seccomp BPF. Pure: no syscall.
///
/// # Errors
/// - [`Error::UnknownSyscall`], [`Error::InvalidSyscallNumber`] naming the syscall;
/// - [`Error::NotifyAsDefault`] / [`Error::EmptyNotifyFilter`] for a `USER_NOTIF` default
///   (the supervised task would deadlock);
/// - [`Error::InvalidErrno`], [`Error::InvalidArgIndex`];
/// - [`Error::ProgramTooLong`] above `BPF_MAXINSNS` (4096) instructions.
pub fn compile(filter: &Filter) -> Result<Program> {
    let per_arch = filter.resolve()?;
    let mut asm = Assembler::default();
    let default = filter.default_action();
    let kill = asm.label();

    // 1. Architecture check: one `JEQ` per audit arch the filter lists, in order
    //    (x86_64 and x32 share AUDIT_ARCH_X86_64, told apart by __X32_SYSCALL_BIT).
    let mut audits: Vec<u32> = Vec::new();
    for (arch, _) in &per_arch {
        if !audits.contains(&arch.audit_arch()) {
            audits.push(arch.audit_arch());
        }
    }
    let rules_of = |arch: Arch| {
        per_arch
            .iter()
            .find(|(a, _)| *a == arch)
            .map(|(_, r)| r.as_slice())
    };
    asm.stmt(op::LD | op::W | op::ABS, OFFSET_ARCH);
    for (i, &audit) in audits.iter().enumerate() {
        let other = if i + 1 == audits.len() {
            kill
        } else {
            asm.label()
        };
        asm.jump(op::JEQ, audit, Target::Next, Target::Label(other));
        asm.stmt(op::LD | op::W | op::ABS, OFFSET_NR);
        if audit == AUDIT_ARCH_X86_64 {
            // 2. and 3.: the rules of each ABI with this audit arch.
            let (native, x32) = (rules_of(Arch::X86_64), rules_of(Arch::X32));
            match (native, x32) {
                (Some(native), None) => {
                    asm.jump(op::JSET, X32_SYSCALL_BIT, Target::Label(kill), Target::Next);
                    emit_rules(&mut asm, filter, native, default);
                }
                (None, Some(x32)) => {
                    asm.jump(op::JSET, X32_SYSCALL_BIT, Target::Next, Target::Label(kill));
                    emit_rules(&mut asm, filter, x32, default);
                }
                (Some(native), Some(x32)) => {
                    let x32_label = asm.label();
                    asm.jump(
                        op::JSET,
                        X32_SYSCALL_BIT,
                        Target::Label(x32_label),
                        Target::Next,
                    );
                    emit_rules(&mut asm, filter, native, default);
                    asm.bind(x32_label);
                    emit_rules(&mut asm, filter, x32, default);
                }
                (None, None) => unreachable!("an audit arch comes from a listed ABI"),
            }
        } else {
            let (_, rules) = per_arch
                .iter()
                .find(|(a, _)| a.audit_arch() == audit)
                .expect("an audit arch comes from a listed ABI");
            emit_rules(&mut asm, filter, rules, default);
        }
        if other != kill {
            asm.bind(other);
        }
    }

    asm.bind(kill);
    asm.ret(Action::KillProcess);

    let instructions = asm.finish();
    if instructions.len() > BPF_MAXINSNS {
        return Err(Error::ProgramTooLong {
            len: instructions.len(),
            max: BPF_MAXINSNS,
        });
    }
    Ok(Program {
        arch: filter.arch(),
        arches: per_arch.iter().map(|(a, _)| *a).collect(),
        instructions,
        notifies: default == Action::UserNotif
            || per_arch
                .iter()
                .any(|(_, rules)| rules.iter().any(|r| r.action == Action::UserNotif)),
    })
}

/// 2. Dispatch on the number (in A), 3. blocks: every path ends in a `RET`.
fn emit_rules(asm: &mut Assembler, filter: &Filter, rules: &[ResolvedRule], default: Action) {
    let (nrs, block_of, blocks) = group(rules);
    let table = Dispatcher {
        nrs: &nrs,
        block_of: &block_of,
        blocks: &blocks,
        default,
    };
    match filter.dispatch_kind() {
        Dispatch::Linear => table.emit_chain(asm),
        Dispatch::BinarySearch => table.emit_search(asm, 0, nrs.len()),
        Dispatch::Auto if nrs.len() <= LEAF_MAX => table.emit_leaf(asm, 0, nrs.len()),
        Dispatch::Auto => table.emit_search(asm, 0, nrs.len()),
    }
}

/// The rules of one syscall that can apply: up to and including the first without
/// conditions.
type Block = Vec<(Vec<Condition>, Action)>;

/// Sorted distinct syscall numbers, the block of each, and the distinct blocks.
fn group(rules: &[ResolvedRule]) -> (Vec<u32>, Vec<usize>, Vec<Block>) {
    let mut nrs: Vec<u32> = rules.iter().map(|r| r.nr).collect();
    nrs.sort_unstable();
    nrs.dedup();
    let mut blocks: Vec<Block> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let block_of = nrs
        .iter()
        .map(|&nr| {
            let mut block = Block::new();
            for rule in rules.iter().filter(|r| r.nr == nr) {
                block.push((rule.conditions.clone(), rule.action));
                if rule.conditions.is_empty() {
                    break;
                }
            }
            *index.entry(block.clone()).or_insert_with(|| {
                blocks.push(block);
                blocks.len() - 1
            })
        })
        .collect();
    (nrs, block_of, blocks)
}

struct Dispatcher<'a> {
    nrs: &'a [u32],
    block_of: &'a [usize],
    blocks: &'a [Block],
    default: Action,
}

impl Dispatcher<'_> {
    /// A linear chain, each syscall's block inline after its comparison.
    fn emit_chain(&self, asm: &mut Assembler) {
        for (&nr, &b) in self.nrs.iter().zip(self.block_of) {
            let skip = asm.label();
            asm.jump(op::JEQ, nr, Target::Next, Target::Label(skip));
            self.emit_block(asm, b);
            asm.bind(skip);
        }
        asm.ret(self.default);
    }

    /// Binary search over `nrs[lo..hi]` down to leaves; A holds the syscall number.
    fn emit_search(&self, asm: &mut Assembler, lo: usize, hi: usize) {
        if hi - lo <= LEAF_MAX {
            self.emit_leaf(asm, lo, hi);
            return;
        }
        let mid = lo + (hi - lo) / 2;
        let right = asm.label();
        asm.jump(op::JGE, self.nrs[mid], Target::Label(right), Target::Next);
        self.emit_search(asm, lo, mid);
        asm.bind(right);
        self.emit_search(asm, mid, hi);
    }

    /// One `JEQ` per syscall of `nrs[lo..hi]` to its block, `RET default`, then the
    /// distinct blocks of the leaf (syscalls with identical rules share one).
    fn emit_leaf(&self, asm: &mut Assembler, lo: usize, hi: usize) {
        let mut used: Vec<(usize, Label)> = Vec::new();
        for i in lo..hi {
            let b = self.block_of[i];
            let label = match used.iter().find(|(u, _)| *u == b) {
                Some(&(_, l)) => l,
                None => {
                    let l = asm.label();
                    used.push((b, l));
                    l
                }
            };
            asm.jump(op::JEQ, self.nrs[i], Target::Label(label), Target::Next);
        }
        asm.ret(self.default);
        for (b, label) in used {
            asm.bind(label);
            self.emit_block(asm, b);
        }
    }

    fn emit_block(&self, asm: &mut Assembler, b: usize) {
        let block = &self.blocks[b];
        for (conditions, action) in block {
            let next_rule = asm.label();
            for cond in conditions {
                emit_condition(asm, cond, next_rule);
            }
            asm.ret(*action);
            asm.bind(next_rule);
        }
        if block.last().is_none_or(|(c, _)| !c.is_empty()) {
            asm.ret(self.default);
        }
    }
}

/// Falls through when `cond` holds, jumps to `miss` when it does not.
fn emit_condition(asm: &mut Assembler, cond: &Condition, miss: Label) {
    let hit = asm.label();
    let (lo, hi) = (arg_low(cond.arg), arg_high(cond.arg));
    let split = |v: u64| ((v >> 32) as u32, v as u32);
    let (m, h) = (Target::Label(miss), Target::Label(hit));
    let n = Target::Next;
    let wide = cond.width == Width::Bits64;
    match cond.cmp {
        Cmp::Eq(v) => {
            let (vh, vl) = split(v);
            if wide {
                asm.load(hi);
                asm.jump(op::JEQ, vh, n, m);
            }
            asm.load(lo);
            asm.jump(op::JEQ, vl, n, m);
        }
        Cmp::Ne(v) => {
            let (vh, vl) = split(v);
            if wide {
                asm.load(hi);
                asm.jump(op::JEQ, vh, n, h);
            }
            asm.load(lo);
            asm.jump(op::JEQ, vl, m, n);
        }
        Cmp::Gt(v) | Cmp::Ge(v) => {
            let (vh, vl) = split(v);
            if wide {
                asm.load(hi);
                asm.jump(op::JGT, vh, h, n);
                asm.jump(op::JEQ, vh, n, m);
            }
            asm.load(lo);
            let code = if matches!(cond.cmp, Cmp::Gt(_)) {
                op::JGT
            } else {
                op::JGE
            };
            asm.jump(code, vl, n, m);
        }
        Cmp::Lt(v) | Cmp::Le(v) => {
            let (vh, vl) = split(v);
            if wide {
                asm.load(hi);
                asm.jump(op::JGT, vh, m, n);
                asm.jump(op::JEQ, vh, n, h);
            }
            asm.load(lo);
            // a < v  <=>  !(a >= v);  a <= v  <=>  !(a > v)
            let code = if matches!(cond.cmp, Cmp::Lt(_)) {
                op::JGE
            } else {
                op::JGT
            };
            asm.jump(code, vl, m, n);
        }
        Cmp::MaskedEq { mask, value } => {
            let ((mh, ml), (vh, vl)) = (split(mask), split(value));
            if wide {
                asm.load(hi);
                asm.stmt(op::ALU | op::AND | op::K, mh);
                asm.jump(op::JEQ, vh, n, m);
            }
            asm.load(lo);
            asm.stmt(op::ALU | op::AND | op::K, ml);
            asm.jump(op::JEQ, vl, n, m);
        }
    }
    asm.bind(hit);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Label(usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Next,
    Label(Label),
}

#[derive(Clone, Copy, Debug)]
enum Item {
    Stmt(SockFilter),
    Jump {
        code: u16,
        k: u32,
        jt: Target,
        jf: Target,
        /// A `JA` trampoline follows for the true (resp. false) branch.
        far_t: bool,
        far_f: bool,
    },
    Bind(Label),
}

/// A tiny assembler with forward labels and automatic long jumps.
#[derive(Default)]
struct Assembler {
    items: Vec<Item>,
    labels: usize,
}

impl Assembler {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    fn bind(&mut self, label: Label) {
        self.items.push(Item::Bind(label));
    }

    fn stmt(&mut self, code: u16, k: u32) {
        self.items.push(Item::Stmt(SockFilter::stmt(code, k)));
    }

    fn load(&mut self, offset: u32) {
        self.stmt(op::LD | op::W | op::ABS, offset);
    }

    fn ret(&mut self, action: Action) {
        self.stmt(op::RET | op::K, action.to_raw());
    }

    fn jump(&mut self, cond: u16, k: u32, jt: Target, jf: Target) {
        self.items.push(Item::Jump {
            code: op::JMP | cond | op::K,
            k,
            jt,
            jf,
            far_t: false,
            far_f: false,
        });
    }

    /// Instruction index of each item and of each label.
    fn layout(&self) -> (Vec<usize>, Vec<usize>) {
        let mut at = Vec::with_capacity(self.items.len());
        let mut labels = vec![usize::MAX; self.labels];
        let mut pc = 0;
        for item in &self.items {
            at.push(pc);
            match *item {
                Item::Stmt(_) => pc += 1,
                Item::Jump { far_t, far_f, .. } => pc += 1 + far_t as usize + far_f as usize,
                Item::Bind(l) => labels[l.0] = pc,
            }
        }
        (at, labels)
    }

    fn finish(mut self) -> Vec<SockFilter> {
        // Mark far branches until the layout is stable (marks only grow: terminates).
        let (at, labels) = loop {
            let (at, labels) = self.layout();
            let mut changed = false;
            for (i, item) in self.items.iter_mut().enumerate() {
                if let Item::Jump {
                    jt,
                    jf,
                    far_t,
                    far_f,
                    ..
                } = item
                {
                    // Offsets as if no trampoline: relative to the instruction after
                    // the jump and its trampolines.
                    let base = at[i] + 1 + *far_t as usize + *far_f as usize;
                    let dist = |t: Target| match t {
                        Target::Next => 0,
                        Target::Label(l) => labels[l.0] - base,
                    };
                    if !*far_t && dist(*jt) > 255 - 2 {
                        *far_t = true;
                        changed = true;
                    }
                    if !*far_f && dist(*jf) > 255 - 2 {
                        *far_f = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                break (at, labels);
            }
        };
        let mut out = Vec::with_capacity(at.last().map_or(0, |&p| p + 3));
        for (i, item) in self.items.iter().enumerate() {
            match *item {
                Item::Stmt(insn) => out.push(insn),
                Item::Bind(_) => {}
                Item::Jump {
                    code,
                    k,
                    jt,
                    jf,
                    far_t,
                    far_f,
                } => {
                    let pc = at[i];
                    let after = pc + 1 + far_t as usize + far_f as usize;
                    let target = |t: Target| match t {
                        Target::Next => after,
                        Target::Label(l) => labels[l.0],
                    };
                    // Trampolines sit at pc+1 (true, if far) and after it (false, if far).
                    let t_slot = pc + 1;
                    let f_slot = pc + 1 + far_t as usize;
                    let rel = |to: usize| u8::try_from(to - (pc + 1)).expect("near jump");
                    let jt_off = if far_t { rel(t_slot) } else { rel(target(jt)) };
                    let jf_off = if far_f { rel(f_slot) } else { rel(target(jf)) };
                    out.push(SockFilter::jump(code, k, jt_off, jf_off));
                    if far_t {
                        let k = (target(jt) - (t_slot + 1)) as u32;
                        out.push(SockFilter::stmt(op::JMP | op::JA, k));
                    }
                    if far_f {
                        let k = (target(jf) - (f_slot + 1)) as u32;
                        out.push(SockFilter::stmt(op::JMP | op::JA, k));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(arch: Arch, nr: u32, args: [u64; 6]) -> SeccompData {
        SeccompData {
            nr: nr as i32,
            arch: arch.audit_arch(),
            instruction_pointer: 0,
            args,
        }
    }

    #[test]
    fn arch_check_comes_first_and_kills_foreign_abis() {
        let filter = Filter::for_arch(Arch::X86_64, Action::Allow);
        let p = filter.compile().unwrap();
        assert_eq!(
            p.instructions()[0],
            SockFilter::stmt(op::LD | op::W | op::ABS, OFFSET_ARCH)
        );
        let mut d = data(Arch::X86_64, 39, [0; 6]);
        assert_eq!(p.evaluate(&d).unwrap(), Action::Allow);
        d.arch = crate::arch::AUDIT_ARCH_I386;
        assert_eq!(p.evaluate(&d).unwrap(), Action::KillProcess);
        // x32 getpid: same audit arch, number with the x32 bit.
        let d = data(Arch::X86_64, X32_SYSCALL_BIT | 39, [0; 6]);
        assert_eq!(p.evaluate(&d).unwrap(), Action::KillProcess);
        // aarch64 has no x32 check, but refuses the x86_64 ABI.
        let p = Filter::for_arch(Arch::Aarch64, Action::Allow)
            .compile()
            .unwrap();
        assert_eq!(
            p.evaluate(&data(Arch::X86_64, 39, [0; 6])).unwrap(),
            Action::KillProcess
        );
        assert_eq!(
            p.evaluate(&data(Arch::Aarch64, 172, [0; 6])).unwrap(),
            Action::Allow
        );
    }

    #[test]
    fn long_programs_jump_correctly() {
        // 300 conditions on one syscall then a syscall after it: the dispatch jump
        // to the second block crosses far more than 255 instructions.
        let mut filter =
            Filter::for_arch(Arch::X86_64, Action::Errno(1)).dispatch(Dispatch::Linear);
        for v in 0..300u64 {
            filter = filter.rule_if(1u32, [Condition::new(0, Cmp::Eq(v * 7))], Action::Errno(2));
        }
        filter = filter.rule(2u32, Action::Allow).rule(0u32, Action::Log);
        let p = filter.compile().unwrap();
        assert!(p.len() > 255 * 3, "{}", p.len());
        assert!(p.instructions().iter().any(|i| i.code == op::JMP | op::JA));
        for (nr, a0, want) in [
            (2, 0, Action::Allow),
            (0, 0, Action::Log),
            (1, 7 * 299, Action::Errno(2)),
            (1, 7 * 299 + 1, Action::Errno(1)),
            (3, 0, Action::Errno(1)),
        ] {
            let d = data(Arch::X86_64, nr, [a0, 0, 0, 0, 0, 0]);
            assert_eq!(p.evaluate(&d).unwrap(), want, "nr {nr} a0 {a0}");
            assert_eq!(filter.evaluate(&d).unwrap(), want);
        }
    }

    #[test]
    fn binary_search_is_much_shorter_than_a_chain_for_big_sets() {
        let names: Vec<&str> = Arch::X86_64.syscalls().map(|(_, n)| n).take(300).collect();
        let build = |d| {
            names.iter().fold(
                Filter::for_arch(Arch::X86_64, Action::Allow).dispatch(d),
                |f, n| f.rule(*n, Action::Errno(1)),
            )
        };
        let linear = build(Dispatch::Linear).compile().unwrap();
        let search = build(Dispatch::Auto).compile().unwrap();
        for (nr, _) in Arch::X86_64.syscalls() {
            let d = data(Arch::X86_64, nr, [0; 6]);
            assert_eq!(linear.evaluate(&d).unwrap(), search.evaluate(&d).unwrap());
        }
        // The chain needs trampolines; the search needs few instructions per lookup.
        assert!(
            search.len() < linear.len(),
            "{} vs {}",
            search.len(),
            linear.len()
        );
    }

    #[test]
    fn too_long_is_refused_with_the_length() {
        let mut filter = Filter::for_arch(Arch::X86_64, Action::Allow);
        for v in 0..1100u64 {
            filter = filter.rule_if("read", [Condition::new(0, Cmp::Eq(v))], Action::Errno(1));
        }
        match filter.compile() {
            Err(Error::ProgramTooLong { len, max: 4096 }) => assert!(len > 4096),
            other => panic!("expected ProgramTooLong, got {other:?}"),
        }
    }

    #[test]
    fn bad_input_is_named() {
        let err = Filter::for_arch(Arch::X86_64, Action::Allow)
            .rule("no_such_call", Action::Allow)
            .compile()
            .unwrap_err();
        assert!(
            matches!(&err, Error::UnknownSyscall { name, arch: Arch::X86_64 } if name == "no_such_call")
        );
        assert!(err.to_string().contains("\"no_such_call\""), "{err}");
        assert!(matches!(
            Filter::for_arch(Arch::X86_64, Action::UserNotif).compile(),
            Err(Error::EmptyNotifyFilter)
        ));
        assert!(matches!(
            Filter::for_arch(Arch::X86_64, Action::UserNotif)
                .rule("read", Action::Allow)
                .compile(),
            Err(Error::NotifyAsDefault)
        ));
        assert!(matches!(
            Filter::for_arch(Arch::X86_64, Action::Allow)
                .rule("read", Action::Errno(5000))
                .compile(),
            Err(Error::InvalidErrno { errno: 5000 })
        ));
        assert!(matches!(
            Filter::for_arch(Arch::X86_64, Action::Allow)
                .rule_if("read", [Condition::new(6, Cmp::Eq(0))], Action::Log)
                .compile(),
            Err(Error::InvalidArgIndex { index: 6 })
        ));
        assert!(matches!(
            Filter::for_arch(Arch::X86_64, Action::Allow)
                .rule(X32_SYSCALL_BIT | 1, Action::Log)
                .compile(),
            Err(Error::InvalidSyscallNumber { .. })
        ));
    }

    #[test]
    fn syscall_tables_know_both_arches() {
        assert_eq!(Arch::X86_64.syscall_number("getppid").unwrap(), 110);
        assert_eq!(Arch::Aarch64.syscall_number("getppid").unwrap(), 173);
        assert_eq!(Arch::X86_64.syscall_number("seccomp").unwrap(), 317);
        assert_eq!(Arch::Aarch64.syscall_number("seccomp").unwrap(), 277);
        assert_eq!(Arch::X86_64.syscall_name(457), Some("statmount"));
        assert_eq!(Arch::Aarch64.syscall_name(458), Some("listmount"));
        assert!(Arch::Aarch64.syscall_number("open").is_err());
        assert!(Arch::X86_64.syscalls().count() > 370);
        assert!(Arch::Aarch64.syscalls().count() > 310);
    }
}
