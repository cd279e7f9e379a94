/* The sandbox from the forked shim on: new mount, PID and IPC namespaces (and a user namespace),
 * the sandbox's init (PID 1), the root it builds on a tmpfs (read-only binds of the system, the
 * code at /var/task, the bootstraps at /var/runtime, a private /tmp, a fresh /proc, a minimal
 * /dev) and pivots into, and the runtime, which drops to the function's user, loses every
 * capability, installs the seccomp filter and executes.
 *
 * Everything here runs between fork and execve: system calls only (no allocation, no stdio). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lambda/sandbox_internal.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#define S_MOUNT_ATTR_RDONLY 0x00000001
#define S_MOUNT_ATTR_NOSUID 0x00000002
#define S_MOUNT_ATTR_NODEV 0x00000004

struct s_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* --- in the child: system calls only -------------------------------------------------------- */

static size_t s_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* Closes every descriptor but the (up to three) given ones, -1 standing for none. */
static void s_close_except(int a, int b, int c)
{
    int keep[3] = {a, b, c};
    for (int i = 0; i < 3; i++) /* sort */
        for (int j = i + 1; j < 3; j++)
            if (keep[j] < keep[i]) {
                int t = keep[i];
                keep[i] = keep[j];
                keep[j] = t;
            }
    unsigned from = 0;
    for (int i = 0; i < 3; i++) {
        if (keep[i] < 0 || (unsigned)keep[i] < from)
            continue;
        unsigned upto = (unsigned)keep[i];
        if (upto > from && syscall(SYS_close_range, from, upto - 1u, 0u) != 0)
            for (unsigned fd = from; fd < (unsigned)keep[i]; fd++)
                close((int)fd);
        from = (unsigned)keep[i] + 1u;
    }
    if (syscall(SYS_close_range, from, ~0u, 0u) != 0)
        for (unsigned fd = from, end = mg_lambda_fd_ceiling(); fd < end; fd++)
            close((int)fd);
}

/* dst = a + b (truncates to cap, which the plan's sizes never reach) */
static void s_join(char *dst, size_t cap, const char *a, const char *b)
{
    size_t n = 0;
    for (; *a && n + 1 < cap; a++)
        dst[n++] = *a;
    for (; *b && n + 1 < cap; b++)
        dst[n++] = *b;
    dst[n] = 0;
}

static void s_say(int fd, const char *step, int err)
{
    char msg[256], num[16];
    int k = 0;
    unsigned v = (unsigned)err;
    char rev[16];
    do {
        rev[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && k < 15);
    for (int i = 0; i < k; i++)
        num[i] = rev[k - 1 - i];
    num[k] = 0;
    s_join(msg, sizeof(msg), "mcpgate: sandbox: ", step);
    size_t l = s_len(msg);
    s_join(msg + l, sizeof(msg) - l, " failed, errno ", num);
    l = s_len(msg);
    if (l + 1 < sizeof(msg)) {
        msg[l++] = '\n';
        msg[l] = 0;
    }
    if (fd >= 0 && write(fd, msg, l) < 0) {
        /* nowhere else to say it */
    }
}

/* mkdir -p of path (whose parents may not exist) */
static int s_mkdirs(const char *path, mode_t mode)
{
    char p[1600];
    size_t n = s_len(path);
    if (n >= sizeof(p))
        return -1;
    for (size_t i = 0; i <= n; i++) {
        p[i] = path[i];
        if ((path[i] == '/' && i > 0) || path[i] == 0) {
            p[i] = 0;
            if (mkdir(p, mode) != 0 && errno != EEXIST)
                return -1;
            p[i] = path[i];
        }
    }
    return 0;
}

/* Makes a bind mount and everything under it read-only, nosuid, nodev. */
static int s_make_ro(const char *dst)
{
    struct s_mount_attr a = {S_MOUNT_ATTR_RDONLY | S_MOUNT_ATTR_NOSUID | S_MOUNT_ATTR_NODEV, 0, 0,
                             0};
    if (syscall(SYS_mount_setattr, AT_FDCWD, dst, AT_RECURSIVE, &a, sizeof(a)) == 0)
        return 0;
    return mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
}

static int s_bind_fd(int fd, const char *dst)
{
    char src[64] = "/proc/self/fd/";
    char num[16], rev[16];
    int k = 0;
    unsigned v = (unsigned)fd;
    do {
        rev[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && k < 15);
    for (int i = 0; i < k; i++)
        num[i] = rev[k - 1 - i];
    num[k] = 0;
    s_join(src, sizeof(src), "/proc/self/fd/", num);
    return mount(src, dst, NULL, MS_BIND | MS_REC, NULL);
}

#define S_NEWROOT "/tmp"

static const char *const s_devs[] = {"null", "zero", "full", "random", "urandom"};
#define S_NDEVS (sizeof(s_devs) / sizeof(s_devs[0]))

/* Builds the sandbox's root and pivots into it; the failing step's name, or NULL. */
static const char *s_build_root(const struct mg_lambda_box_plan *plan)
{
    int fds[MG_LAMBDA_SANDBOX_MOUNTS], devfds[S_NDEVS];
    char path[1600], dev[64];
    for (size_t i = 0; i < plan->n_mounts; i++) {
        fds[i] = -1;
        if (plan->mounts[i].kind == MG_LAMBDA_M_BIND_RO &&
            (fds[i] = open(plan->mounts[i].src, O_PATH | O_CLOEXEC)) < 0)
            return "open a mount source";
    }
    for (size_t i = 0; i < S_NDEVS; i++) {
        s_join(dev, sizeof(dev), "/dev/", s_devs[i]);
        if ((devfds[i] = open(dev, O_PATH | O_CLOEXEC)) < 0)
            return "open a device";
    }
    if (mount("tmpfs", S_NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV,
              "size=1m,nr_inodes=4096,mode=0755") != 0)
        return "mount the root tmpfs";
    for (size_t i = 0; i < plan->n_mounts; i++) {
        const struct mg_lambda_mount *m = &plan->mounts[i];
        s_join(path, sizeof(path), S_NEWROOT, m->dst);
        switch (m->kind) {
        case MG_LAMBDA_M_BIND_RO: {
            struct stat st;
            if (fstat(fds[i], &st) != 0)
                return "stat a mount source";
            if (S_ISDIR(st.st_mode)) {
                if (s_mkdirs(path, 0755) != 0)
                    return "make a mount point";
            } else {
                char *slash = strrchr(path, '/');
                *slash = 0;
                int rc = s_mkdirs(path, 0755);
                *slash = '/';
                int f = rc == 0 ? open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644) : -1;
                if (f < 0)
                    return "make a mount point";
                close(f);
            }
            if (s_bind_fd(fds[i], path) != 0)
                return "bind a directory";
            if (s_make_ro(path) != 0)
                return "make a bind read-only";
            break;
        }
        case MG_LAMBDA_M_SYMLINK:
            if (symlink(m->src, path) != 0)
                return "make a symlink";
            break;
        case MG_LAMBDA_M_TMPFS:
            if (s_mkdirs(path, 0755) != 0 ||
                mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, m->src) != 0)
                return "mount /tmp";
            break;
        }
        if (fds[i] >= 0)
            close(fds[i]);
    }
    /* /dev: the harmless character devices and the usual links */
    s_join(path, sizeof(path), S_NEWROOT, "/dev");
    if (mkdir(path, 0755) != 0 || mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC,
                                        "size=64k,nr_inodes=64,mode=0755") != 0)
        return "mount /dev";
    for (size_t i = 0; i < S_NDEVS; i++) {
        s_join(dev, sizeof(dev), S_NEWROOT "/dev/", s_devs[i]);
        int f = open(dev, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        if (f < 0)
            return "make a device node";
        close(f);
        if (s_bind_fd(devfds[i], dev) != 0)
            return "bind a device";
        close(devfds[i]);
    }
    static const char *const links[][2] = {{"/proc/self/fd", "/dev/fd"},
                                           {"/proc/self/fd/0", "/dev/stdin"},
                                           {"/proc/self/fd/1", "/dev/stdout"},
                                           {"/proc/self/fd/2", "/dev/stderr"}};
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        s_join(dev, sizeof(dev), S_NEWROOT, links[i][1]);
        if (symlink(links[i][0], dev) != 0)
            return "make a /dev link";
    }
    s_join(path, sizeof(path), S_NEWROOT, "/dev");
    if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) !=
        0)
        return "make /dev read-only";
    /* /proc of the new PID namespace; init (a copy of the server, with its command line) is
     * another user's, and hidepid hides it */
    s_join(path, sizeof(path), S_NEWROOT, "/proc");
    if (mkdir(path, 0555) != 0 ||
        mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") != 0)
        return "mount /proc";
    if (chdir(S_NEWROOT) != 0 || syscall(SYS_pivot_root, ".", ".") != 0)
        return "pivot_root";
    if (umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
        return "detach the host's root";
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
        return "make the root read-only";
    return NULL;
}

/* The runtime: becomes the function's user, loses every privilege, and executes. */
static void s_runtime(const struct mg_lambda_box_plan *plan, int in_fd, int out_fd, char **argv,
                      char **env) __attribute__((noreturn));
static void s_runtime(const struct mg_lambda_box_plan *plan, int in_fd, int out_fd, char **argv,
                      char **env)
{
    const struct mg_lambda_sandbox *sb = plan->sb;
    const char *step = NULL;
    int err = 0;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (in_fd >= 0)
        dup2(in_fd, 0);
    else
        close(0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
        for (unsigned fd = 3, end = mg_lambda_fd_ceiling(); fd < end; fd++)
            close((int)fd);
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    /* Lambda's 1024 file descriptors; it also bounds what the Runtime API's peer check walks */
    struct rlimit nofile = {1024, 1024};
    setrlimit(RLIMIT_NOFILE, &nofile);
    if (sb->cg == MG_LAMBDA_CG_NONE || (sb->cg == MG_LAMBDA_CG_V1 && sb->cg_pids[0] == 0)) {
        /* per host uid, so per account: a floor, not a per-process limit */
        struct rlimit np = {MG_LAMBDA_SANDBOX_PIDS * 4, MG_LAMBDA_SANDBOX_PIDS * 4};
        setrlimit(RLIMIT_NPROC, &np);
    }
    if (plan->memory_bytes) {
        /* no memory cgroup: bound the data segment (V8 reserves address space, so not AS) */
        struct rlimit dl = {plan->memory_bytes, plan->memory_bytes};
        setrlimit(RLIMIT_DATA, &dl);
    }
    if (sb->root) {
        gid_t g = (gid_t)plan->uid;
        if (setgroups(0, NULL) != 0 || setresgid(g, g, g) != 0 ||
            setresuid(plan->uid, plan->uid, plan->uid) != 0) {
            step = "drop to the function's user";
            goto fail;
        }
        if (sb->userns) {
            prctl(PR_SET_DUMPABLE, 1);
            if (unshare(CLONE_NEWUSER) != 0) {
                step = "unshare the user namespace";
                goto fail;
            }
            int fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
            bool ok = fd >= 0 && write(fd, "deny", 4) == 4;
            if (fd >= 0)
                close(fd);
            static const char *const maps[] = {"/proc/self/uid_map", "/proc/self/gid_map"};
            for (int i = 0; ok && i < 2; i++) {
                fd = open(maps[i], O_WRONLY | O_CLOEXEC);
                size_t n = s_len(plan->inner_map);
                ok = fd >= 0 && write(fd, plan->inner_map, n) == (ssize_t)n;
                if (fd >= 0)
                    close(fd);
            }
            if (!ok) {
                step = "map the function's user";
                goto fail;
            }
        }
    }
    /* no capability anywhere, none to regain */
    for (int c = 0; c <= 63; c++)
        prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capset, &hdr, data) != 0) {
        step = "drop capabilities";
        goto fail;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        step = "set no_new_privs";
        goto fail;
    }
    if (chdir("/var/task") != 0) {
        step = "enter /var/task";
        goto fail;
    }
    if (sb->seccomp && sb->filter) {
        struct sock_fprog prog = {sb->n_filter, sb->filter};
        /* without SPEC_ALLOW the kernel would also turn on its speculative store bypass
         * mitigation for the process, which slows interpreters down by several times */
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) !=
                0 &&
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
            step = "install the seccomp filter";
            goto fail;
        }
    }
    execve(argv[0], argv, env);
    step = "execute the runtime";
fail:
    err = errno;
    s_say(2, step, err);
    _exit(126);
}

/* PID 1 of the sandbox: builds the root, runs the runtime, reaps, reports, and exits (which
 * kills everything left in the namespace). */
static void s_init(const struct mg_lambda_box_plan *plan, int in_fd, int out_fd, char **argv,
                   char **env, int status_fd) __attribute__((noreturn));
static void s_init(const struct mg_lambda_box_plan *plan, int in_fd, int out_fd, char **argv,
                   char **env, int status_fd)
{
    int st = 126 << 8;
    /* the shim's handlers are the server's code: init, signalled from inside, runs none of it */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* nothing of the server's: its sockets would stay open as long as the sandbox */
    s_close_except(in_fd, out_fd, status_fd);
    for (int i = 0; i < 2; i++) {
        if (plan->cg_procs[i][0] == 0)
            continue;
        int fd = open(plan->cg_procs[i], O_WRONLY | O_CLOEXEC);
        bool ok = fd >= 0 && write(fd, "0", 1) == 1;
        if (fd >= 0)
            close(fd);
        if (!ok) {
            s_say(out_fd, "join the cgroup", errno);
            goto out;
        }
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        s_say(out_fd, "make the mounts private", errno);
        goto out;
    }
    const char *step = s_build_root(plan);
    if (step) {
        s_say(out_fd, step, errno);
        goto out;
    }
    pid_t rt = fork();
    if (rt == 0)
        s_runtime(plan, in_fd, out_fd, argv, env); /* does not return */
    if (rt < 0) {
        s_say(out_fd, "fork the runtime", errno);
        goto out;
    }
    /* init keeps no descriptor of the runtime's: its output ends when the runtime's does */
    if (in_fd >= 0)
        close(in_fd);
    close(out_fd);
    for (;;) {
        int s = 0;
        pid_t w = waitpid(-1, &s, 0);
        if (w == rt) {
            st = s;
            break;
        }
        if (w < 0 && errno != EINTR)
            break;
    }
out:
    if (write(status_fd, &st, sizeof(st)) < 0) {
        /* the shim is gone: so is everything else */
    }
    _exit(0);
}

pid_t mg_lambda_box_start(const struct mg_lambda_box_plan *plan, int in_fd, int out_fd, char **argv,
                          char **env, int *status_fd)
{
    const struct mg_lambda_sandbox *sb = plan->sb;
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC;
    if (!sb->root)
        flags |= CLONE_NEWUSER;
    uid_t outer = geteuid();
    gid_t outer_g = getegid();
    if (unshare(flags) != 0) {
        s_say(out_fd, "unshare the namespaces", errno);
        return -1;
    }
    if (!sb->root) {
        /* the server's own uid and gid are the function's 993 */
        char map[64];
        char num[16], rev[16];
        static const char *const files[] = {"/proc/self/uid_map", "/proc/self/gid_map"};
        int fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, "deny", 4) < 0) {
                /* gid_map says */
            }
            close(fd);
        }
        for (int i = 0; i < 2; i++) {
            unsigned v = i == 0 ? (unsigned)outer : (unsigned)outer_g;
            int k = 0;
            do {
                rev[k++] = (char)('0' + v % 10);
                v /= 10;
            } while (v && k < 15);
            for (int j = 0; j < k; j++)
                num[j] = rev[k - 1 - j];
            num[k] = 0;
            s_join(map, sizeof(map), "993 ", num);
            size_t l = s_len(map);
            s_join(map + l, sizeof(map) - l, " 1\n", "");
            fd = open(files[i], O_WRONLY | O_CLOEXEC);
            bool ok = fd >= 0 && write(fd, map, s_len(map)) == (ssize_t)s_len(map);
            if (fd >= 0)
                close(fd);
            if (!ok) {
                s_say(out_fd, "map the server's user", errno);
                return -1;
            }
        }
    }
    int sp[2];
    if (pipe2(sp, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(sp[0]);
        s_init(plan, in_fd, out_fd, argv, env, sp[1]); /* does not return */
    }
    close(sp[1]);
    if (pid < 0) {
        close(sp[0]);
        return -1;
    }
    *status_fd = sp[0];
    return pid;
}
