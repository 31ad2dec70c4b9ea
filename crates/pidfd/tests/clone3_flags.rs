//! `CloneArgs::validate` against the kernel itself: for every flag bit, every pair of
//! the bits clone3 knows and the combinations the kernel has rules for, a raw clone3
//! attempt is made with the same flags and exit signal, and its answer is compared
//! with what the builder's validation says.
//!
//! The raw attempts run in a forked child (a child subreaper, so that `CLONE_PARENT`
//! siblings are reaped there too); every task they create runs two instructions,
//! `exit(0)`, and touches no memory, so sharing memory, files or threads with the
//! forked child is harmless.
// Unsafe code here: the baseline is the kernel's own answer to a raw clone3 call with the same flags.
#![allow(unsafe_code)]
#![cfg(target_arch = "x86_64")]

use linception_pidfd::{CloneArgs, CloneFlags, ErrorKind, Signal};
use linception_testkit::{Feature, Fork, require};

const CLONE_PIDFD: u64 = 0x1000;
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const VM: u64 = libc::CLONE_VM as u64;
const SIGHAND: u64 = libc::CLONE_SIGHAND as u64;
const THREAD: u64 = libc::CLONE_THREAD as u64;
const PARENT: u64 = libc::CLONE_PARENT as u64;
/// The flags the builder refuses although the kernel takes them.
const SHARING: u64 = VM
    | SIGHAND
    | THREAD
    | libc::CLONE_SETTLS as u64
    | libc::CLONE_PARENT_SETTID as u64
    | libc::CLONE_CHILD_CLEARTID as u64
    | libc::CLONE_CHILD_SETTID as u64;
/// Namespace flags: refused with EPERM without CAP_SYS_ADMIN (all but CLONE_NEWUSER).
const NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWTIME) as u64;

/// clone3 with a 64-byte `clone_args` (`CLONE_ARGS_SIZE_VER0`) holding `flags |
/// CLONE_PIDFD` and `exit_signal`, nothing else. Returns 0 on success or the errno.
fn raw_clone3(flags: u64, exit_signal: u64) -> i32 {
    let mut pidfd: libc::c_int = -1;
    // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack,
    // stack_size, tls.
    let mut args = [0u64; 8];
    args[0] = flags | CLONE_PIDFD;
    args[1] = &raw mut pidfd as u64;
    args[4] = exit_signal;
    let ret: i64;
    // SAFETY: `args` is a live 64-byte clone_args and `pidfd` a live int the kernel
    // writes the new pidfd to. Whatever the flags make the new task share, it only
    // runs `mov eax, 60; xor edi, edi; syscall` (exit(0)) from registers, never
    // returning into Rust code or touching memory (not even the stack). The caller
    // resumes after the asm with rax = pid or -errno; syscall clobbers rcx and r11.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov eax, 60",
            "xor edi, edi",
            "syscall",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") args.as_mut_ptr(),
            in("rsi") 64usize,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    if ret > 0 {
        // SAFETY: the kernel installed a new pidfd that nothing else owns.
        drop(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(pidfd) });
        0
    } else {
        (-ret) as i32
    }
}

/// The kernel's answer for `flags`: in this process, or for `CLONE_PARENT` (whose
/// child would be a sibling of ours, a child of the test process) in a forked
/// grandchild whose sibling lands here (we are a child subreaper).
fn kernel_answer(flags: u64, exit_signal: u64) -> i32 {
    if flags & PARENT == 0 {
        return raw_clone3(flags, exit_signal);
    }
    // SAFETY: the test's forked child is single-threaded; the grandchild makes one
    // raw clone3 and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let e = raw_clone3(flags, exit_signal);
        // SAFETY: ends the grandchild without running anything of the parent's.
        unsafe { libc::_exit(e) };
    }
    assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
    let mut status = 0;
    // SAFETY: waiting for our own child into a local.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    libc::WEXITSTATUS(status)
}

/// Reaps every child left (all of them have exited or are about to).
fn reap_all() {
    loop {
        // SAFETY: waiting for any child, status not needed.
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::__WALL) };
        if r < 0 {
            break;
        }
    }
}

/// `None` if the builder's validation agrees with the kernel's answer for `flags`
/// and `exit_signal`, else a description of the disagreement.
fn disagreement(flags: u64, sig: Option<Signal>, kernel: i32, privileged: bool) -> Option<String> {
    let ours = CloneArgs::new()
        .flags(CloneFlags::from_bits_retain(flags))
        .exit_signal(sig)
        .validate();
    let msg = ours.as_ref().err().map(|e| e.to_string());
    let ok = match (kernel, &ours) {
        (0, Ok(())) => true,
        // The kernel takes it; the builder refuses it only for sharing.
        (0, Err(e)) => {
            e.kind() == ErrorKind::InvalidArgument
                && flags & SHARING != 0
                && e.to_string().contains("would share")
        }
        (libc::EINVAL, Err(e)) => {
            e.kind() == ErrorKind::InvalidArgument
                && (e.to_string().contains("the kernel refuses")
                    || (flags & CLONE_INTO_CGROUP != 0 && e.to_string().contains("into_cgroup")))
        }
        (libc::EINVAL, Ok(())) => false,
        // Without privileges the kernel refuses namespaces before it looks at some
        // flag combinations; that is a privilege answer, not a flag answer.
        (libc::EPERM, _) => !privileged && flags & NAMESPACES != 0,
        _ => false,
    };
    (!ok).then(|| {
        format!(
            "flags {flags:#x} exit_signal {sig:?}: kernel {} vs validate {msg:?}",
            if kernel == 0 {
                "accepts".to_string()
            } else {
                std::io::Error::from_raw_os_error(kernel).to_string()
            }
        )
    })
}

/// Every case, compared; returns the disagreements and how many cases ran.
fn compare_all(privileged: bool) -> (Vec<String>, u32) {
    // SAFETY: prctl with an integer argument, in the forked test child.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(r, 0);
    let mut cases: Vec<u64> = (0..64).map(|b| 1u64 << b).collect();
    // Every pair of the bits clone3 knows (0..=33).
    for a in 0..34 {
        for b in a + 1..34 {
            cases.push((1u64 << a) | (1u64 << b));
        }
    }
    // Combinations the kernel has rules for beyond pairs.
    let newpid = libc::CLONE_NEWPID as u64;
    let newuser = libc::CLONE_NEWUSER as u64;
    cases.extend([
        VM | SIGHAND,
        VM | SIGHAND | THREAD,
        VM | SIGHAND | CLONE_CLEAR_SIGHAND,
        VM | SIGHAND | THREAD | newpid,
        VM | SIGHAND | THREAD | newuser,
        (libc::CLONE_NEWIPC | libc::CLONE_SYSVSEM | libc::CLONE_NEWUSER) as u64,
        (libc::CLONE_NEWNS | libc::CLONE_FS | libc::CLONE_NEWUSER) as u64,
        (libc::CLONE_NEWTIME | libc::CLONE_NEWUSER | libc::CLONE_VFORK) as u64,
        newpid | newuser | libc::CLONE_NEWNS as u64,
    ]);
    let mut bad = Vec::new();
    let mut n = 0;
    for &flags in &cases {
        for sig in [Some(Signal::CHLD), None] {
            let raw_sig = sig.map_or(0, |s| s.as_raw() as u64);
            let kernel = kernel_answer(flags, raw_sig);
            n += 1;
            bad.extend(disagreement(flags, sig, kernel, privileged));
        }
        reap_all();
    }
    reap_all();
    (bad, n)
}

fn check(fork: Fork, privileged: bool) {
    let (bad, n) = fork.run(move || compare_all(privileged));
    assert!(n > 1200, "only {n} cases ran");
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn clone3_flags_agree_with_the_kernel_rootless() {
    require!(Feature::UserNs, Feature::Clone3);
    check(Fork::new().rootless(), true);
}

#[test]
fn clone3_flags_agree_with_the_kernel_unprivileged() {
    require!(Feature::Root, Feature::Clone3);
    check(Fork::new().unprivileged(), false);
}

/// As the caller is: root, or the unprivileged user who started the tests.
#[test]
fn clone3_flags_agree_with_the_kernel_as_the_caller() {
    require!(Feature::Clone3);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    check(Fork::new(), root);
}

#[test]
fn clone_newtime_is_expressible() {
    require!(Feature::TimeNs, Feature::Clone3);
    let args = CloneArgs::new().flags(CloneFlags::NEWTIME | CloneFlags::NEWUSER);
    assert!(args.validate().is_ok());
    let mut child = args
        .spawn(&linception_pidfd::Exec::new("/bin/true"))
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn new_pid_namespace_after_unshare_is_refused_like_the_kernel() {
    require!(Feature::Root, Feature::Clone3);
    let (kernel, ours) = Fork::new().unshare(libc::CLONE_NEWPID).run(|| {
        let kernel = raw_clone3(libc::CLONE_NEWPID as u64, libc::SIGCHLD as u64);
        reap_all();
        // Not checked before the call (that would cost two stats per clone): the
        // kernel's EINVAL is explained after it, and nothing was created.
        let args = CloneArgs::new().namespaces(linception_pidfd::Namespaces::PID);
        assert!(args.validate().is_ok());
        let ours = args
            .spawn(&linception_pidfd::Exec::new("/bin/true"))
            .map(drop)
            .map_err(|e| e.to_string());
        reap_all();
        (kernel, ours)
    });
    assert_eq!(kernel, libc::EINVAL);
    let msg = ours.unwrap_err();
    assert!(
        msg.contains("CLONE_NEWPID") && msg.contains("the kernel refuses"),
        "{msg}"
    );
}
