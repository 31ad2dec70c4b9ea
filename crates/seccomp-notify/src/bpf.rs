//! Classic BPF as seccomp uses it: instructions, the `seccomp_data` input, and a
//! pure-Rust interpreter that runs a program the way the kernel would.
#![forbid(unsafe_code)]

use std::mem::offset_of;

use crate::error::{Error, Result};

// Defined next to the syscall that hands it to the kernel (`sys`, which takes no
// type from the modules above it).
pub use crate::sys::SockFilter;

impl SockFilter {
    /// A non-jump instruction (`BPF_STMT`).
    pub const fn stmt(code: u16, k: u32) -> Self {
        SockFilter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// A conditional jump (`BPF_JUMP`).
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Self {
        SockFilter { code, jt, jf, k }
    }
}

/// The input of a seccomp filter, laid out like the kernel's `struct seccomp_data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(C)]
#[doc(alias = "seccomp_data")]
pub struct SeccompData {
    /// The syscall number.
    pub nr: i32,
    /// The `AUDIT_ARCH_*` value of the ABI the call was made through.
    pub arch: u32,
    /// The instruction pointer at the call.
    pub instruction_pointer: u64,
    /// The six raw arguments.
    pub args: [u64; 6],
}

/// Byte offset of `nr` in `seccomp_data`.
pub const OFFSET_NR: u32 = offset_of!(SeccompData, nr) as u32;
/// Byte offset of `arch` in `seccomp_data`.
pub const OFFSET_ARCH: u32 = offset_of!(SeccompData, arch) as u32;
/// Byte offset of `instruction_pointer` in `seccomp_data`.
pub const OFFSET_IP: u32 = offset_of!(SeccompData, instruction_pointer) as u32;
/// Byte offset of `args[0]` in `seccomp_data`.
pub const OFFSET_ARGS: u32 = offset_of!(SeccompData, args) as u32;

/// Byte offset of the low 32 bits of argument `index` (little-endian ABIs).
pub const fn arg_low(index: u8) -> u32 {
    OFFSET_ARGS + 8 * index as u32
}

/// Byte offset of the high 32 bits of argument `index` (little-endian ABIs).
pub const fn arg_high(index: u8) -> u32 {
    arg_low(index) + 4
}

/// Opcode pieces (`linux/bpf_common.h`).
pub mod op {
    /// `BPF_LD`
    pub const LD: u16 = 0x00;
    /// `BPF_LDX`
    pub const LDX: u16 = 0x01;
    /// `BPF_ST`
    pub const ST: u16 = 0x02;
    /// `BPF_STX`
    pub const STX: u16 = 0x03;
    /// `BPF_ALU`
    pub const ALU: u16 = 0x04;
    /// `BPF_JMP`
    pub const JMP: u16 = 0x05;
    /// `BPF_RET`
    pub const RET: u16 = 0x06;
    /// `BPF_MISC`
    pub const MISC: u16 = 0x07;
    /// `BPF_W`
    pub const W: u16 = 0x00;
    /// `BPF_IMM`
    pub const IMM: u16 = 0x00;
    /// `BPF_ABS`
    pub const ABS: u16 = 0x20;
    /// `BPF_MEM`
    pub const MEM: u16 = 0x60;
    /// `BPF_LEN`
    pub const LEN: u16 = 0x80;
    /// `BPF_ADD`
    pub const ADD: u16 = 0x00;
    /// `BPF_SUB`
    pub const SUB: u16 = 0x10;
    /// `BPF_MUL`
    pub const MUL: u16 = 0x20;
    /// `BPF_DIV`
    pub const DIV: u16 = 0x30;
    /// `BPF_OR`
    pub const OR: u16 = 0x40;
    /// `BPF_AND`
    pub const AND: u16 = 0x50;
    /// `BPF_LSH`
    pub const LSH: u16 = 0x60;
    /// `BPF_RSH`
    pub const RSH: u16 = 0x70;
    /// `BPF_NEG`
    pub const NEG: u16 = 0x80;
    /// `BPF_MOD`
    pub const MOD: u16 = 0x90;
    /// `BPF_XOR`
    pub const XOR: u16 = 0xa0;
    /// `BPF_JA`
    pub const JA: u16 = 0x00;
    /// `BPF_JEQ`
    pub const JEQ: u16 = 0x10;
    /// `BPF_JGT`
    pub const JGT: u16 = 0x20;
    /// `BPF_JGE`
    pub const JGE: u16 = 0x30;
    /// `BPF_JSET`
    pub const JSET: u16 = 0x40;
    /// `BPF_K`
    pub const K: u16 = 0x00;
    /// `BPF_X`
    pub const X: u16 = 0x08;
    /// `BPF_A` (for `BPF_RET`)
    pub const A: u16 = 0x10;
    /// `BPF_TAX`
    pub const TAX: u16 = 0x00;
    /// `BPF_TXA`
    pub const TXA: u16 = 0x80;
}

/// `BPF_MAXINSNS`: the longest program the kernel accepts.
pub const BPF_MAXINSNS: usize = 4096;

const MEMWORDS: usize = 16;

fn word(data: &SeccompData, offset: u32) -> Option<u32> {
    if !offset.is_multiple_of(4) || offset as usize + 4 > size_of::<SeccompData>() {
        return None;
    }
    let [a0, a1, a2, a3, a4, a5] = data.args;
    let words: [u32; 16] = [
        data.nr as u32,
        data.arch,
        data.instruction_pointer as u32,
        (data.instruction_pointer >> 32) as u32,
        a0 as u32,
        (a0 >> 32) as u32,
        a1 as u32,
        (a1 >> 32) as u32,
        a2 as u32,
        (a2 >> 32) as u32,
        a3 as u32,
        (a3 >> 32) as u32,
        a4 as u32,
        (a4 >> 32) as u32,
        a5 as u32,
        (a5 >> 32) as u32,
    ];
    Some(words[offset as usize / 4])
}

/// Runs a seccomp BPF program on `data` (as the kernel does on a little-endian
/// machine) and returns the `SECCOMP_RET_*` value it ends with.
///
/// Accepts what the kernel's seccomp checker accepts: 32-bit absolute loads from
/// `seccomp_data`, immediate and scratch-memory loads and stores, ALU, jumps, `RET`.
///
/// ```
/// use linception_seccomp_notify::bpf::{OFFSET_NR, op};
/// use linception_seccomp_notify::{SeccompData, SockFilter, interpret};
/// // RET ERRNO(nr): a hand-written program.
/// let program = [
///     SockFilter::stmt(op::LD | op::W | op::ABS, OFFSET_NR),
///     SockFilter::stmt(op::ALU | op::OR | op::K, libc::SECCOMP_RET_ERRNO),
///     SockFilter::stmt(op::RET | op::A, 0),
/// ];
/// let data = SeccompData { nr: 39, ..Default::default() };
/// assert_eq!(interpret(&program, &data)?, libc::SECCOMP_RET_ERRNO | 39);
/// # Ok::<(), linception_seccomp_notify::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidProgram`] naming the instruction: unknown opcode, a load outside
/// `seccomp_data` or misaligned, a jump out of the program, division by zero, running
/// off the end, or an empty or too long program.
pub fn interpret(program: &[SockFilter], data: &SeccompData) -> Result<u32> {
    let invalid = |pc: usize, reason: &'static str| Error::InvalidProgram { pc, reason };
    if program.is_empty() {
        return Err(invalid(0, "empty program"));
    }
    if program.len() > BPF_MAXINSNS {
        return Err(invalid(BPF_MAXINSNS, "longer than BPF_MAXINSNS"));
    }
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; MEMWORDS];
    let mut pc = 0usize;
    loop {
        let Some(insn) = program.get(pc) else {
            return Err(invalid(pc, "ran off the end of the program"));
        };
        let k = insn.k;
        let next = pc + 1;
        match insn.code {
            c if c == op::LD | op::W | op::ABS => {
                a = word(data, k).ok_or(invalid(pc, "load outside seccomp_data or misaligned"))?;
            }
            c if c == op::LD | op::W | op::LEN => a = size_of::<SeccompData>() as u32,
            c if c == op::LDX | op::W | op::LEN => x = size_of::<SeccompData>() as u32,
            c if c == op::LD | op::IMM => a = k,
            c if c == op::LDX | op::IMM => x = k,
            c if c == op::LD | op::MEM => {
                a = *mem
                    .get(k as usize)
                    .ok_or(invalid(pc, "scratch slot out of range"))?
            }
            c if c == op::LDX | op::MEM => {
                x = *mem
                    .get(k as usize)
                    .ok_or(invalid(pc, "scratch slot out of range"))?
            }
            c if c == op::ST => {
                *mem.get_mut(k as usize)
                    .ok_or(invalid(pc, "scratch slot out of range"))? = a
            }
            c if c == op::STX => {
                *mem.get_mut(k as usize)
                    .ok_or(invalid(pc, "scratch slot out of range"))? = x
            }
            c if c == op::MISC | op::TAX => x = a,
            c if c == op::MISC | op::TXA => a = x,
            c if c == op::RET | op::K => return Ok(k),
            c if c == op::RET | op::A => return Ok(a),
            c if c & 0x07 == op::ALU => {
                let src = if c & op::X != 0 { x } else { k };
                a = match c & 0xf0 {
                    op::ADD => a.wrapping_add(src),
                    op::SUB => a.wrapping_sub(src),
                    op::MUL => a.wrapping_mul(src),
                    op::DIV => a.checked_div(src).ok_or(invalid(pc, "division by zero"))?,
                    op::MOD => a.checked_rem(src).ok_or(invalid(pc, "division by zero"))?,
                    op::OR => a | src,
                    op::AND => a & src,
                    op::XOR => a ^ src,
                    op::LSH => a.checked_shl(src).unwrap_or(0),
                    op::RSH => a.checked_shr(src).unwrap_or(0),
                    op::NEG => a.wrapping_neg(),
                    _ => return Err(invalid(pc, "unknown ALU operation")),
                };
            }
            c if c & 0x07 == op::JMP => {
                let target = if c & 0xf0 == op::JA {
                    if c & op::X != 0 {
                        return Err(invalid(pc, "unknown jump"));
                    }
                    next.checked_add(k as usize)
                } else {
                    let src = if c & op::X != 0 { x } else { k };
                    let taken = match c & 0xf0 {
                        op::JEQ => a == src,
                        op::JGT => a > src,
                        op::JGE => a >= src,
                        op::JSET => a & src != 0,
                        _ => return Err(invalid(pc, "unknown jump")),
                    };
                    Some(next + usize::from(if taken { insn.jt } else { insn.jf }))
                };
                match target {
                    Some(t) if t < program.len() => {
                        pc = t;
                        continue;
                    }
                    _ => return Err(invalid(pc, "jump out of the program")),
                }
            }
            _ => return Err(invalid(pc, "unknown opcode")),
        }
        pc = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(program: &[SockFilter]) -> Result<u32> {
        interpret(program, &SeccompData::default())
    }

    #[test]
    fn invalid_programs_are_named_errors() {
        let ret = SockFilter::stmt(op::RET | op::K, 1);
        let cases: [(&[SockFilter], usize, &str); 6] = [
            (&[], 0, "empty program"),
            (
                &[SockFilter::stmt(op::LD | op::W | op::ABS, 2), ret],
                0,
                "load outside seccomp_data or misaligned",
            ),
            (
                &[SockFilter::stmt(op::LD | op::W | op::ABS, 64), ret],
                0,
                "load outside seccomp_data or misaligned",
            ),
            (
                &[SockFilter::jump(op::JMP | op::JEQ | op::K, 0, 5, 0), ret],
                0,
                "jump out of the program",
            ),
            (
                &[SockFilter::stmt(op::ALU | op::DIV | op::K, 0), ret],
                0,
                "division by zero",
            ),
            (
                &[SockFilter::stmt(op::LD | op::IMM, 3)],
                1,
                "ran off the end of the program",
            ),
        ];
        for (program, at, why) in cases {
            match run(program) {
                Err(Error::InvalidProgram { pc, reason }) => {
                    assert_eq!((pc, reason), (at, why), "{program:?}")
                }
                other => panic!("{program:?}: {other:?}"),
            }
        }
        assert!(run(&vec![ret; BPF_MAXINSNS + 1]).is_err());
    }

    #[test]
    fn scratch_memory_alu_and_ret_a() {
        // A = nr(7) ; M[3] = A ; X = 5 ; A = M[3] ; A = A * X ; A += 1 ; RET A  => 36
        let data = SeccompData {
            nr: 7,
            ..Default::default()
        };
        let program = [
            SockFilter::stmt(op::LD | op::W | op::ABS, OFFSET_NR),
            SockFilter::stmt(op::ST, 3),
            SockFilter::stmt(op::LDX | op::IMM, 5),
            SockFilter::stmt(op::LD | op::MEM, 3),
            SockFilter::stmt(op::ALU | op::MUL | op::X, 0),
            SockFilter::stmt(op::ALU | op::ADD | op::K, 1),
            SockFilter::stmt(op::RET | op::A, 0),
        ];
        assert_eq!(interpret(&program, &data).unwrap(), 36);
        // High and low words of an argument.
        let data = SeccompData {
            args: [0x1234_5678_9abc_def0, 0, 0, 0, 0, 0],
            ..Default::default()
        };
        let hi = [
            SockFilter::stmt(op::LD | op::W | op::ABS, arg_high(0)),
            SockFilter::stmt(op::RET | op::A, 0),
        ];
        let lo = [
            SockFilter::stmt(op::LD | op::W | op::ABS, arg_low(0)),
            SockFilter::stmt(op::RET | op::A, 0),
        ];
        assert_eq!(interpret(&hi, &data).unwrap(), 0x1234_5678);
        assert_eq!(interpret(&lo, &data).unwrap(), 0x9abc_def0);
    }
}
