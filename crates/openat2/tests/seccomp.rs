//! Under a seccomp filter that refuses openat2 with EPERM (as some container
//! runtimes' default profiles did), `Resolver::Auto` notices at its first probe and
//! uses the userspace resolver. Its own binary: nothing may probe before the fork.
#![cfg(target_arch = "x86_64")]
// Installing the filter takes one raw prctl call, PR_SET_SECCOMP, which rustix
// does not wrap (see `refuse_openat2`).
#![allow(unsafe_code)]

mod common;

use common::*;
use linception_openat2::{ErrorKind, OFlags, ResolveFlags, Resolver};
use linception_testkit::{Feature, Fork, require};

/// Installs `openat2 -> EPERM` for this (forked, single-threaded) process.
fn refuse_openat2() {
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    let insn = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    let ld_abs = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    let jeq = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    let ret = (libc::BPF_RET | libc::BPF_K) as u16;
    let mut prog = [
        insn(ld_abs, 0, 0, 4),              // arch
        insn(jeq, 0, 3, AUDIT_ARCH_X86_64), // other arch: allow
        insn(ld_abs, 0, 0, 0),              // nr
        insn(jeq, 0, 1, libc::SYS_openat2 as u32),
        insn(ret, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        insn(ret, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    rustix::thread::set_no_new_privs(true).unwrap();
    // SAFETY: `fprog` points at `prog`, `len` instructions long, and both outlive
    // the call (the kernel copies the program); prctl writes no memory.
    let ret = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const libc::sock_fprog,
        )
    };
    assert_eq!(ret, 0, "{}", std::io::Error::last_os_error());
}

#[test]
fn seccomp_eperm_makes_auto_use_the_fallback() {
    require!(Feature::Openat2);
    let f = Fixture::tree("seccomp");
    Fork::new().run(|| {
        refuse_openat2();
        let kernel = f.open_root(Resolver::Kernel, ResolveFlags::IN_ROOT);
        let e = kernel.open("file", OFlags::RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        let auto = f.open_root(Resolver::Auto, ResolveFlags::IN_ROOT);
        let fd = auto.open("up/abs/back", OFlags::RDONLY).unwrap();
        assert_eq!(fd_ident(&fd), ident(&f.host("file"), true));
        let e = auto
            .try_clone()
            .unwrap()
            .strict()
            .open("up/file", OFlags::RDONLY)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Escape, "{e}");
    });
}
