/* The raw baseline for benches/compare.sh: the same container as the linception
 * example, spawned with plain libc calls and no abstraction.
 *
 *   raw_container [--net] [--no-userns] ROOTFS PROGRAM [ARGS...]
 *
 * clone3 into new user, mount, pid, uts and ipc namespaces (and net with --net;
 * no user namespace with --no-userns, as root); the parent maps root inside to the
 * caller outside; the child binds ROOTFS,
 * mounts a new proc, pivot_roots into it, detaches the old root, sets the
 * hostname and execs PROGRAM. Errors are reported but not explained: this is the
 * floor to measure against, not a tool. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

int main(int argc, char **argv) {
    int net = 0, userns = 1, arg = 1;
    for (; arg < argc && strncmp(argv[arg], "--", 2) == 0; arg++) {
        if (strcmp(argv[arg], "--net") == 0)
            net = 1;
        else if (strcmp(argv[arg], "--no-userns") == 0)
            userns = 0;
        else
            break;
    }
    if (argc - arg < 2) {
        fprintf(stderr, "usage: %s [--net] [--no-userns] ROOTFS PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }
    const char *rootfs = argv[arg];
    char **program = &argv[arg + 1];
    char proc_dir[4096];
    snprintf(proc_dir, sizeof proc_dir, "%s/proc", rootfs);

    int sync_pipe[2];
    if (pipe2(sync_pipe, O_CLOEXEC) < 0)
        die("pipe2");
    uid_t uid = geteuid();
    gid_t gid = getegid();

    struct clone_args args = {0};
    args.flags = (userns ? CLONE_NEWUSER : 0) | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS |
                 CLONE_NEWIPC | (net ? CLONE_NEWNET : 0);
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        die("clone3");
    if (pid == 0) {
        char go;
        close(sync_pipe[1]);
        if (read(sync_pipe[0], &go, 1) != 1)
            _exit(127);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            die("make / private");
        if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
            die("bind rootfs");
        if (mount("proc", proc_dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            die("mount proc");
        if (chdir(rootfs) < 0)
            die("chdir rootfs");
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            die("pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
            die("detach old root");
        if (chdir("/") < 0)
            die("chdir /");
        if (sethostname("container", 9) < 0)
            die("sethostname");
        execv(program[0], program);
        die("execv");
    }
    close(sync_pipe[0]);
    if (userns) {
        char path[64], map[64];
        snprintf(path, sizeof path, "/proc/%ld/setgroups", pid);
        write_file(path, "deny");
        snprintf(map, sizeof map, "0 %u 1\n", uid);
        snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
        write_file(path, map);
        snprintf(map, sizeof map, "0 %u 1\n", gid);
        snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
        write_file(path, map);
    }
    if (write(sync_pipe[1], "g", 1) != 1)
        die("release child");
    int status;
    if (waitpid(pid, &status, 0) < 0)
        die("waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
