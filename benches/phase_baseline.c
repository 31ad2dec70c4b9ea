/* The phase baseline of issue 15: the container of the spawn benchmarks written the
 * obvious way in C, to judge linception's spawn against, phase by phase.
 *
 *   phase_baseline [--net] ROOTFS               one container, its exit status passed on
 *   phase_baseline [--net] --loop N ROOTFS      N containers in this process, one by one
 *   phase_baseline [--net] --loop N --threads T ROOTFS   T threads of N each (rate)
 *   phase_baseline [--net] --profile N ROOTFS   the same, timed phase by phase
 *   phase_baseline --startup-only               exits 0 at once (the start-up alone)
 *
 * The container: clone3 (no CLONE_VM: the child gets a copy of the address space)
 * into new user, mount, pid, uts and ipc namespaces (and net with --net); the parent
 * (root) writes the maps 0 -> 100000 x 65536 for uids and gids, then releases the
 * child over a pipe. The child becomes root inside (setgroups, setresgid, setresuid),
 * makes its mount tree private, binds ROOTFS onto itself, mounts a new proc on
 * ROOTFS/proc and a tmpfs on ROOTFS/dev (mount(2)), pivot_roots into ROOTFS, detaches
 * the old root, remounts the root read-only (keeping the flags the kernel locks in a
 * user namespace), sets no_new_privs, installs a 48-rule seccomp filter (classic BPF:
 * an architecture check, then EPERM for 48 syscalls a container normally may not
 * make) and execs /bin/true. The parent sees the exec as the EOF of a close-on-exec
 * pipe, then reaps the child with waitpid.
 *
 * With --profile the child writes CLOCK_MONOTONIC timestamps into a MAP_SHARED page
 * the parent reads after each spawn; the parent prints the median and 90th percentile
 * of each phase in microseconds. --loop prints only the mean per spawn. Run as root
 * (writing a 65536-id map needs CAP_SETUID and CAP_SETGID over the caller's
 * namespace). Errors are reported, not explained: this is the floor to measure
 * against, not a tool. x86_64 and aarch64. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_AARCH64
#else
#error "phase_baseline: x86_64 or aarch64 only"
#endif

/* The 48 denied syscalls (the same list as the Rust benches' DENIED in
 * benches/common/container.rs): module and kexec loading, kernel keyrings, clocks,
 * swap, reboot, accounting, quotas, ptrace and cross-process memory, BPF and perf,
 * NUMA policy, file handles, mounting, namespaces, userfaultfd, obsolete calls. */
static const int denied[] = {
    __NR_acct,          __NR_add_key,           __NR_bpf,
    __NR_clock_adjtime, __NR_clock_settime,     __NR_delete_module,
    __NR_finit_module,  __NR_get_mempolicy,     __NR_init_module,
    __NR_kcmp,          __NR_kexec_file_load,   __NR_kexec_load,
    __NR_keyctl,        __NR_mbind,             __NR_mount,
    __NR_move_pages,    __NR_open_by_handle_at, __NR_perf_event_open,
    __NR_name_to_handle_at, __NR_pivot_root,    __NR_process_vm_readv,
    __NR_process_vm_writev, __NR_ptrace,        __NR_quotactl,
    __NR_reboot,        __NR_request_key,       __NR_set_mempolicy,
    __NR_setns,         __NR_settimeofday,      __NR_swapoff,
    __NR_swapon,        __NR_umount2,           __NR_unshare,
    __NR_userfaultfd,   __NR_fsopen,            __NR_fsmount,
    __NR_move_mount,    __NR_lookup_dcookie,
#if defined(__x86_64__)
    __NR_create_module, __NR_get_kernel_syms,   __NR_ioperm,
    __NR_iopl,          __NR_nfsservctl,        __NR_query_module,
    __NR_sysfs,         __NR__sysctl,           __NR_uselib,
    __NR_ustat,
#else
    __NR_open_tree,     __NR_fspick,            __NR_fsconfig,
    __NR_mount_setattr, __NR_vhangup,           __NR_nfsservctl,
    __NR_syslog,        __NR_quotactl_fd,       __NR_pidfd_getfd,
    __NR_fanotify_init,
#endif
};
#define DENIED (sizeof denied / sizeof denied[0])
_Static_assert(DENIED == 48, "48 rules");

/* arch check (3), x32 check (2 on x86_64), load nr (1), 48 jumps, allow, errno. */
static struct sock_filter program[3 + 2 + 1 + DENIED + 2];
static struct sock_fprog fprog;

static void build_filter(void) {
    struct sock_filter *p = program;
    *p++ = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    *p++ = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_NATIVE, 1, 0);
    *p++ = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    *p++ = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
    /* x32 syscalls share the arch value: refuse the whole x32 range. */
    *p++ = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
    *p++ = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
    for (size_t i = 0; i < DENIED; i++)
        /* a match jumps over the rest of the list and the allow, to the errno */
        *p++ = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)denied[i],
                                            (uint8_t)(DENIED - i), 0);
    *p++ = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    *p++ = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    fprog.len = (unsigned short)(p - program);
    fprog.filter = program;
}

/* The timestamps of one spawn, in the order they are taken. */
enum {
    T_CLONE,    /* parent, just before clone3 */
    T_MAPS,     /* parent, both maps written */
    T_RELEASED, /* child, its read of the release pipe returned */
    T_MOUNTS,   /* child, root inside, tree private, rootfs bound, proc and /dev mounted */
    T_ROOT,     /* child, pivot_root, old root detached, root read-only */
    T_SECCOMP,  /* child, no_new_privs set and the filter installed */
    T_EXECVE,   /* child, just before execve */
    T_EXEC,     /* parent, the close-on-exec pipe's EOF */
    T_REAPED,   /* parent, waitpid returned */
    T_COUNT,
};
static const char *const phase_names[T_COUNT] = {
    "",
    "clone3 -> maps written (parent)",
    "maps written -> child released",
    "released -> mounts done (incl. setresuid/gid)",
    "mounts -> pivot_root done (+ detach, read-only)",
    "pivot_root -> seccomp installed (+ no_new_privs)",
    "seccomp -> just before execve",
    "execve -> exec observed (parent)",
    "exec observed -> exit reaped",
};

static volatile uint64_t *stamps; /* MAP_SHARED: T_COUNT slots, NULL unless profiling */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void stamp(int which) {
    if (stamps)
        stamps[which] = now_ns();
}

static void die(const char *what) {
    perror(what);
    _exit(127);
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        die(path);
    close(fd);
}

static const char *rootfs;
static char proc_dir[4096], dev_dir[4096];
static int net;

/* The child: everything between clone3 and execve. Never returns. */
static void child(int release_fd, int exec_fd) {
    (void)exec_fd; /* closed by the exec: the parent sees EOF */
    char go;
    if (read(release_fd, &go, 1) != 1)
        _exit(127);
    stamp(T_RELEASED);
    close(release_fd);
    /* Raw calls: after a raw clone3 from a threaded parent (--threads), glibc's
     * wrappers would try to change the ids of the parent's other threads too. */
    if (syscall(SYS_setgroups, 0, NULL) < 0)
        die("setgroups");
    if (syscall(SYS_setresgid, 0, 0, 0) < 0)
        die("setresgid");
    if (syscall(SYS_setresuid, 0, 0, 0) < 0)
        die("setresuid");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("make / private");
    if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        die("bind rootfs");
    if (mount("proc", proc_dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        die("mount proc");
    if (mount("tmpfs", dev_dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755") < 0)
        die("mount tmpfs on /dev");
    stamp(T_MOUNTS);
    if (chdir(rootfs) < 0)
        die("chdir rootfs");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        die("pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        die("detach old root");
    if (chdir("/") < 0)
        die("chdir /");
    /* A read-only remount in a user namespace must keep the flags the kernel locked
     * when the mount was copied into it (nosuid, nodev, noexec, atime). */
    struct statvfs sv;
    if (statvfs("/", &sv) < 0)
        die("statvfs /");
    unsigned long keep = 0;
    if (sv.f_flag & ST_NOSUID)
        keep |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        keep |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        keep |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        keep |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        keep |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        keep |= MS_RELATIME;
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL) < 0)
        die("remount / read-only");
    stamp(T_ROOT);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("no_new_privs");
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
        die("seccomp");
    stamp(T_SECCOMP);
    char *const argv[] = {"/bin/true", NULL};
    stamp(T_EXECVE);
    execve(argv[0], argv, environ);
    die("execve /bin/true");
}

/* One container, spawned and reaped; returns its wait status. */
static int spawn(void) {
    int release[2], exec_pipe[2];
    if (pipe2(release, O_CLOEXEC) < 0 || pipe2(exec_pipe, O_CLOEXEC) < 0)
        die("pipe2");
    struct clone_args args = {0};
    args.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
                 (net ? CLONE_NEWNET : 0);
    args.exit_signal = SIGCHLD;
    stamp(T_CLONE);
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        die("clone3");
    if (pid == 0) {
        close(release[1]);
        close(exec_pipe[0]);
        child(release[0], exec_pipe[1]);
    }
    close(release[0]);
    close(exec_pipe[1]);
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
    write_file(path, "0 100000 65536\n");
    snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
    write_file(path, "0 100000 65536\n");
    stamp(T_MAPS);
    if (write(release[1], "x", 1) != 1)
        die("release the child");
    close(release[1]);
    char byte;
    while (read(exec_pipe[0], &byte, 1) > 0) {
    }
    stamp(T_EXEC);
    close(exec_pipe[0]);
    int status;
    if (waitpid((pid_t)pid, &status, 0) < 0)
        die("waitpid");
    stamp(T_REAPED);
    return status;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The value at fraction q (0..1) of n sorted values, nearest rank. */
static double quantile_us(uint64_t *v, size_t n, double q) {
    qsort(v, n, sizeof *v, cmp_u64);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

static void check(int status, long i) {
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "phase_baseline: spawn %ld: the container failed (wait status %#x)\n",
                i, status);
        exit(1);
    }
}

static int profile(long n) {
    stamps = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (stamps == MAP_FAILED)
        die("mmap");
    uint64_t *phase = calloc((size_t)n * T_COUNT, sizeof *phase);
    if (!phase)
        die("calloc");
    for (long i = 0; i < n; i++) {
        memset((void *)stamps, 0, T_COUNT * sizeof *stamps);
        check(spawn(), i);
        for (int p = 1; p < T_COUNT; p++)
            phase[(size_t)p * (size_t)n + (size_t)i] = stamps[p] - stamps[p - 1];
        phase[(size_t)i] = stamps[T_REAPED] - stamps[T_CLONE]; /* slot 0: the whole spawn */
    }
    printf("phase_baseline --profile %ld%s: microseconds per phase\n", n, net ? " --net" : "");
    printf("| phase | median | p90 |\n|---|---|---|\n");
    for (int p = 1; p < T_COUNT; p++) {
        uint64_t *v = phase + (size_t)p * (size_t)n;
        double med = quantile_us(v, (size_t)n, 0.5), p90 = quantile_us(v, (size_t)n, 0.9);
        printf("| %s | %.1f | %.1f |\n", phase_names[p], med, p90);
    }
    double med = quantile_us(phase, (size_t)n, 0.5), p90 = quantile_us(phase, (size_t)n, 0.9);
    printf("| whole spawn: clone3 -> reaped | %.1f | %.1f |\n", med, p90);
    free(phase);
    return 0;
}

static void *spawn_n(void *n) {
    for (long i = 0; i < *(long *)n; i++)
        check(spawn(), i);
    return NULL;
}

static int loop(long n, long threads) {
    uint64_t start = now_ns();
    if (threads == 1) {
        spawn_n(&n);
        double per = (double)(now_ns() - start) / 1000.0 / (double)n;
        printf("phase_baseline --loop %ld%s: %.1f us per spawn + wait\n", n, net ? " --net" : "",
               per);
        return 0;
    }
    pthread_t tid[64];
    for (long t = 0; t < threads; t++)
        if (pthread_create(&tid[t], NULL, spawn_n, &n) != 0)
            die("pthread_create");
    for (long t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    double secs = (double)(now_ns() - start) / 1e9;
    printf("phase_baseline --loop %ld --threads %ld%s: %.0f containers/s\n", n, threads,
           net ? " --net" : "", (double)(n * threads) / secs);
    return 0;
}

static void usage(const char *self) {
    fprintf(stderr,
            "usage: %s [--net] [--loop N [--threads T] | --profile N] ROOTFS\n"
            "       %s --startup-only\n",
            self, self);
    exit(2);
}

int main(int argc, char **argv) {
    long loop_n = 0, profile_n = 0, threads = 1;
    int arg = 1, counted = 0;
    for (; arg < argc && strncmp(argv[arg], "--", 2) == 0; arg++) {
        if (strcmp(argv[arg], "--startup-only") == 0)
            return 0;
        else if (strcmp(argv[arg], "--net") == 0)
            net = 1;
        else if (strcmp(argv[arg], "--loop") == 0 && arg + 1 < argc && !counted++)
            loop_n = strtol(argv[++arg], NULL, 10);
        else if (strcmp(argv[arg], "--threads") == 0 && arg + 1 < argc)
            threads = strtol(argv[++arg], NULL, 10);
        else if (strcmp(argv[arg], "--profile") == 0 && arg + 1 < argc && !counted++)
            profile_n = strtol(argv[++arg], NULL, 10);
        else
            usage(argv[0]);
    }
    if (argc - arg != 1 || (counted && loop_n < 1 && profile_n < 1) || threads < 1 ||
        threads > 64 || (threads > 1 && loop_n < 1))
        usage(argv[0]);
    rootfs = argv[arg];
    snprintf(proc_dir, sizeof proc_dir, "%s/proc", rootfs);
    snprintf(dev_dir, sizeof dev_dir, "%s/dev", rootfs);
    if (geteuid() != 0) {
        fprintf(stderr, "phase_baseline: needs root (it writes the map 0 -> 100000 x 65536)\n");
        return 2;
    }
    build_filter();
    if (profile_n > 0)
        return profile(profile_n);
    if (loop_n > 0)
        return loop(loop_n, threads);
    int status = spawn();
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
