/* The sandbox of a Lambda runtime process: namespaces, mounts, cgroup limits, seccomp.
 *
 * The manager thread prepares a plan (cgroups, host uid, mounts) before the fork; the forked shim
 * enters new mount, PID and IPC namespaces and forks the sandbox's init (PID 1 of the new
 * namespace), which builds a root of its own on a tmpfs (read-only binds of the system, the
 * function's code at /var/task and the bootstraps at /var/runtime, a private /tmp, a fresh /proc,
 * a minimal /dev), pivots into it, and forks the runtime, which drops to the function's user (a
 * user namespace whose 993 is a host uid of the account's own), loses every capability, installs
 * the seccomp filter and executes. Init only reaps; when the runtime ends it reports the wait
 * status and exits, and the kernel kills whatever else is left in the namespace.
 *
 * Everything between fork and execve makes system calls only (no allocation, no stdio). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/slice.h"
#include "lambda/internal.h"
#include "lambda/sandbox.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define S_MOUNT_ATTR_RDONLY 0x00000001
#define S_MOUNT_ATTR_NOSUID 0x00000002
#define S_MOUNT_ATTR_NODEV 0x00000004

struct s_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

#if defined(__x86_64__)
#define S_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define S_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* --- start-up ------------------------------------------------------------------------------- */

static bool s_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* True when path is base or lies under it. */
static bool s_under(const char *path, const char *base)
{
    size_t n = strlen(base);
    if (n == 1 && base[0] == '/')
        return true;
    return strncmp(path, base, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static bool s_add_mount(struct mg_lambda_mount *m, size_t *n, int kind, const char *src,
                        const char *dst)
{
    if (*n >= MG_LAMBDA_SANDBOX_MOUNTS || strlen(src) >= sizeof(m->src) ||
        strlen(dst) >= sizeof(m->dst))
        return false;
    m[*n].kind = kind;
    mg_lambda_strlcpy(m[*n].src, sizeof(m[*n].src), src);
    mg_lambda_strlcpy(m[*n].dst, sizeof(m[*n].dst), dst);
    (*n)++;
    return true;
}

/* /usr, /etc and the /bin, /lib... links or directories; then the prefix of each interpreter
 * that lives elsewhere (pyenv, nvm), at the same path. */
static bool s_system_mounts(struct mg_lambda_sandbox *sb, const char *const *interpreters)
{
    static const char *const dirs[] = {"/usr", "/etc"};
    static const char *const maybe_links[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64",
                                              "/libx32"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (s_is_dir(dirs[i]) && !s_add_mount(sb->sys, &sb->n_sys, MG_LAMBDA_M_BIND_RO, dirs[i],
                                              dirs[i]))
            return false;
    for (size_t i = 0; i < sizeof(maybe_links) / sizeof(maybe_links[0]); i++) {
        struct stat st;
        if (lstat(maybe_links[i], &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            char target[512];
            ssize_t r = readlink(maybe_links[i], target, sizeof(target) - 1);
            if (r <= 0)
                continue;
            target[r] = 0;
            if (!s_add_mount(sb->sys, &sb->n_sys, MG_LAMBDA_M_SYMLINK, target, maybe_links[i]))
                return false;
        } else if (S_ISDIR(st.st_mode)) {
            if (!s_add_mount(sb->sys, &sb->n_sys, MG_LAMBDA_M_BIND_RO, maybe_links[i],
                             maybe_links[i]))
                return false;
        }
    }
    for (size_t i = 0; interpreters && interpreters[i]; i++) {
        char real[4096];
        if (realpath(interpreters[i], real) == NULL)
            continue;
        /* PREFIX/bin/python3 -> PREFIX */
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(real, '/');
            if (slash == NULL || slash == real)
                break;
            *slash = 0;
        }
        bool covered = false;
        for (size_t k = 0; k < sb->n_sys; k++)
            if (sb->sys[k].kind == MG_LAMBDA_M_BIND_RO && s_under(real, sb->sys[k].src))
                covered = true;
        if (!covered && real[0] == '/' && real[1] &&
            !s_add_mount(sb->sys, &sb->n_sys, MG_LAMBDA_M_BIND_RO, real, real))
            return false;
    }
    return true;
}

/* The seccomp filter: what a function never needs fails with EPERM; clone with namespace flags
 * too; clone3 fails with ENOSYS so that libc falls back to clone, whose flags can be checked. */
static bool s_build_filter(struct mg_lambda_sandbox *sb)
{
#ifndef S_AUDIT_ARCH
    (void)sb;
    return false;
#else
    static const int denied[] = {
#define S_DENY(name) __NR_##name,
#ifdef __NR_mount
        S_DENY(mount)
#endif
#ifdef __NR_umount2
        S_DENY(umount2)
#endif
#ifdef __NR_pivot_root
        S_DENY(pivot_root)
#endif
#ifdef __NR_chroot
        S_DENY(chroot)
#endif
#ifdef __NR_swapon
        S_DENY(swapon) S_DENY(swapoff)
#endif
#ifdef __NR_reboot
        S_DENY(reboot)
#endif
#ifdef __NR_kexec_load
        S_DENY(kexec_load)
#endif
#ifdef __NR_kexec_file_load
        S_DENY(kexec_file_load)
#endif
#ifdef __NR_init_module
        S_DENY(init_module) S_DENY(finit_module) S_DENY(delete_module)
#endif
#ifdef __NR_acct
        S_DENY(acct)
#endif
#ifdef __NR_settimeofday
        S_DENY(settimeofday)
#endif
#ifdef __NR_clock_settime
        S_DENY(clock_settime) S_DENY(clock_adjtime) S_DENY(adjtimex)
#endif
#ifdef __NR_sethostname
        S_DENY(sethostname) S_DENY(setdomainname)
#endif
#ifdef __NR_keyctl
        S_DENY(keyctl) S_DENY(add_key) S_DENY(request_key)
#endif
#ifdef __NR_bpf
        S_DENY(bpf)
#endif
#ifdef __NR_perf_event_open
        S_DENY(perf_event_open)
#endif
#ifdef __NR_userfaultfd
        S_DENY(userfaultfd)
#endif
#ifdef __NR_unshare
        S_DENY(unshare) S_DENY(setns)
#endif
#ifdef __NR_open_by_handle_at
        S_DENY(open_by_handle_at) S_DENY(name_to_handle_at)
#endif
#ifdef __NR_quotactl
        S_DENY(quotactl)
#endif
#ifdef __NR_lookup_dcookie
        S_DENY(lookup_dcookie)
#endif
#ifdef __NR_vhangup
        S_DENY(vhangup)
#endif
#ifdef __NR_iopl
        S_DENY(iopl)
#endif
#ifdef __NR_ioperm
        S_DENY(ioperm)
#endif
#ifdef __NR_syslog
        S_DENY(syslog)
#endif
#ifdef __NR_ptrace
        S_DENY(ptrace) S_DENY(process_vm_readv) S_DENY(process_vm_writev)
#endif
#ifdef __NR_io_uring_setup
        S_DENY(io_uring_setup) S_DENY(io_uring_enter) S_DENY(io_uring_register)
#endif
#ifdef __NR_open_tree
        S_DENY(open_tree) S_DENY(move_mount) S_DENY(fsopen) S_DENY(fsconfig) S_DENY(fsmount)
        S_DENY(fspick)
#endif
#ifdef __NR_mount_setattr
        S_DENY(mount_setattr)
#endif
#ifdef __NR_uselib
        S_DENY(uselib)
#endif
#ifdef __NR_fanotify_init
        S_DENY(fanotify_init)
#endif
#ifdef __NR_pidfd_getfd
        S_DENY(pidfd_getfd)
#endif
#undef S_DENY
    };
    size_t nd = sizeof(denied) / sizeof(denied[0]);
    size_t cap = nd + 16;
    if (cap > MG_LAMBDA_SANDBOX_FILTER)
        return false;
    struct sock_filter *f = mg_calloc(cap, sizeof(*f));
    if (f == NULL)
        return false;
    size_t n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, S_AUDIT_ARCH, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, nr));
    /* the labels at the end: [allow] [clone check: load, jset, allow] [enosys] [deny] */
    size_t n_checks = nd + 2;
#if defined(__x86_64__)
    n_checks++;
#endif
    size_t at_allow = n + n_checks, at_clone = at_allow + 1, at_enosys = at_clone + 3,
           at_deny = at_enosys + 1;
#define S_JUMP_TO(target) (uint8_t)((target) - n - 1)
#if defined(__x86_64__)
    f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 0);
    f[n].jt = S_JUMP_TO(at_deny); /* x32 system calls */
    n++;
#endif
    f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 0);
    f[n].jt = S_JUMP_TO(at_enosys);
    n++;
    f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 0);
    f[n].jt = S_JUMP_TO(at_clone);
    n++;
    for (size_t i = 0; i < nd; i++) {
        f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)denied[i], 0, 0);
        f[n].jt = S_JUMP_TO(at_deny);
        n++;
    }
#undef S_JUMP_TO
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW); /* at_allow */
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, args[0]));
    uint32_t ns = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
                  CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME;
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, ns, 2, 0); /* to deny */
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & 0xffff));
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & 0xffff));
    if (n != at_deny + 1) {
        mg_free(f);
        return false;
    }
    sb->filter = f;
    sb->n_filter = (unsigned short)n;
    return true;
#endif
}

static bool s_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok;
}

/* True when the comma-separated list csv (a line of /proc/self/{cgroup,mounts}) holds item. */
static bool s_csv_has(const char *csv, const char *item)
{
    char list[2048];
    if (strlen(csv) >= sizeof(list))
        return false;
    mg_lambda_strlcpy(list, sizeof(list), csv);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (strcmp(t, item) == 0)
            return true;
    return false;
}

/* This process's cgroup under a v1 controller (or the v2 hierarchy when ctl is ""). */
static bool s_own_cgroup(const char *ctl, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (f == NULL)
        return false;
    char line[1024];
    bool found = false;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        char *a = strchr(line, ':');
        char *b = a ? strchr(a + 1, ':') : NULL;
        if (b == NULL)
            continue;
        *b = 0;
        const char *ctls = a + 1;
        bool match = false;
        if (ctl[0] == 0) {
            match = ctls[0] == 0 && a == line + 1 && line[0] == '0'; /* "0::/path" */
        } else {
            match = s_csv_has(ctls, ctl);
        }
        if (match && strlen(b + 1) < cap) {
            mg_lambda_strlcpy(out, cap, b + 1);
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

/* Where a cgroup filesystem with ctl is mounted (type "cgroup2" when ctl is ""). */
static bool s_cgroup_mount(const char *ctl, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/mounts", "re");
    if (f == NULL)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        char *save = NULL;
        char *dev = strtok_r(line, " ", &save), *dir = strtok_r(NULL, " ", &save),
             *type = strtok_r(NULL, " ", &save), *opts = strtok_r(NULL, " ", &save);
        if (dev == NULL || dir == NULL || type == NULL || opts == NULL || strlen(dir) >= cap)
            continue;
        if (ctl[0] == 0) {
            found = strcmp(type, "cgroup2") == 0;
        } else if (strcmp(type, "cgroup") == 0) {
            found = s_csv_has(opts, ctl);
        }
        if (found)
            mg_lambda_strlcpy(out, cap, dir);
    }
    fclose(f);
    return found;
}

static void s_cg_remove_tree(const char *parent);

/* Removes the cgroups that servers which are gone (killed, crashed) left under dir. */
static void s_cg_remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "mcpgate-", 8) != 0)
            continue;
        char *end;
        long pid = strtol(e->d_name + 8, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[1400];
        if (mg_fmt(path, sizeof(path), "%s/%s", dir, e->d_name))
            s_cg_remove_tree(path);
    }
    closedir(d);
}

/* A parent cgroup for this server under the hierarchy of ctl: MOUNT/OWN-CGROUP/mcpgate-PID. */
static bool s_make_parent(const char *ctl, char *out, size_t cap)
{
    char mnt[512], own[512], path[1100];
    if (!s_cgroup_mount(ctl, mnt, sizeof(mnt)))
        return false;
    if (!s_own_cgroup(ctl, own, sizeof(own)))
        own[0] = 0;
    if (!mg_fmt(path, sizeof(path), "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own) ||
        !s_is_dir(path))
        mg_lambda_strlcpy(path, sizeof(path), mnt); /* our cgroup is not visible: the root */
    s_cg_remove_stale(path);
    size_t l = strlen(path);
    if (!mg_fmt(path + l, sizeof(path) - l, "/mcpgate-%d", (int)getpid()) || strlen(path) >= cap ||
        (mkdir(path, 0755) != 0 && errno != EEXIST))
        return false;
    mg_lambda_strlcpy(out, cap, path);
    return true;
}

static void s_detect_cgroups(struct mg_lambda_sandbox *sb)
{
    /* v2, when its hierarchy has the memory and pids controllers */
    char mnt[512], own[512], path[1100], ctl[256] = "";
    if (s_cgroup_mount("", mnt, sizeof(mnt))) {
        FILE *f = mg_fmt(path, sizeof(path), "%s/cgroup.controllers", mnt) ? fopen(path, "re")
                                                                               : NULL;
        if (f) {
            if (fgets(ctl, sizeof(ctl), f) == NULL)
                ctl[0] = 0;
            fclose(f);
        }
        if (strstr(ctl, "memory") && strstr(ctl, "pids") && s_own_cgroup("", own, sizeof(own)) &&
            s_make_parent("", sb->cg_mem, sizeof(sb->cg_mem))) {
            if (mg_fmt(path, sizeof(path), "%s/cgroup.subtree_control", sb->cg_mem) &&
                s_write_file(path, "+memory +pids")) {
                sb->cg = MG_LAMBDA_CG_V2;
                return;
            }
            rmdir(sb->cg_mem);
            sb->cg_mem[0] = 0;
        }
    }
    /* v1: the memory and pids controllers, each where it is mounted */
    bool mem = s_make_parent("memory", sb->cg_mem, sizeof(sb->cg_mem));
    bool pids = s_make_parent("pids", sb->cg_pids, sizeof(sb->cg_pids));
    if (mem || pids) {
        sb->cg = MG_LAMBDA_CG_V1;
        if (!mem)
            sb->cg_mem[0] = 0;
        if (!pids)
            sb->cg_pids[0] = 0;
    }
}

/* Runs /bin/true in a sandbox: whether this host can isolate functions. */
static bool s_probe(struct mg_lambda_sandbox *sb, const char *runtimes_dir, char *why, size_t cap)
{
    struct mg_lambda_box box;
    struct mg_lambda_box_plan *plan = mg_calloc(1, sizeof(*plan));
    if (plan == NULL)
        return false;
    bool ok = false;
    int out[2] = {-1, -1};
    if (mg_lambda_box_prepare(sb, "000000000000", runtimes_dir, runtimes_dir, 128, 1, &box,
                              plan) != MG_E_OK) {
        snprintf(why, cap, "cannot prepare a sandbox");
        mg_free(plan);
        return false;
    }
    sb->n_accounts = 0; /* the probe's account is no account */
    char *argv[] = {(char *)(s_is_dir("/usr/bin") ? "/usr/bin/true" : "/bin/true"), NULL};
    char *env[] = {NULL};
    if (pipe2(out, O_CLOEXEC) != 0)
        goto done;
    pid_t pid = fork();
    if (pid == 0) {
        int status_fd = -1;
        pid_t init = mg_lambda_box_start(plan, -1, out[1], argv, env, &status_fd);
        if (init < 0)
            _exit(125);
        int st = 0;
        while (waitpid(init, &st, 0) < 0 && errno == EINTR) {
        }
        int rst = -1;
        if (read(status_fd, &rst, sizeof(rst)) != (ssize_t)sizeof(rst))
            _exit(124);
        _exit(WIFEXITED(rst) ? WEXITSTATUS(rst) : 123);
    }
    close(out[1]);
    out[1] = -1;
    if (pid < 0)
        goto done;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    char msg[256];
    ssize_t r = read(out[0], msg, sizeof(msg) - 1);
    msg[r > 0 ? r : 0] = 0;
    msg[strcspn(msg, "\n")] = 0;
    ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok)
        mg_lambda_strlcpy(why, cap, msg[0] ? msg : "the sandbox did not start");
done:
    if (out[0] >= 0)
        close(out[0]);
    if (out[1] >= 0)
        close(out[1]);
    mg_lambda_box_kill(&box);
    for (int i = 0; i < 50 && !mg_lambda_box_release(&box); i++)
        usleep(2000);
    mg_free(plan);
    return ok;
}

enum mg_err mg_lambda_sandbox_init(struct mg_lambda_sandbox *sb, enum mg_lambda_isolation mode,
                                   const char *runtimes_dir, const char *data_dir,
                                   const char *const *interpreters, struct mg_errinfo *ei)
{
    sb->mode = mode;
    sb->enabled = false;
    if (mode == MG_LAMBDA_ISOLATION_NONE) {
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
               "lambda isolation: none (--lambda-isolation none): every function runs as the "
               "server's user with its view of the file system, processes and data folder; "
               "functions of one account can read other accounts' secrets");
        return MG_E_OK;
    }
    sb->root = geteuid() == 0;
    bool ok = s_system_mounts(sb, interpreters);
    char real_data[4096];
    if (ok && data_dir && realpath(data_dir, real_data)) {
        for (size_t i = 0; i < sb->n_sys; i++)
            if (sb->sys[i].kind == MG_LAMBDA_M_BIND_RO && s_under(real_data, sb->sys[i].src)) {
                snprintf(sb->why, sizeof(sb->why), "the data folder lies inside %.100s",
                         sb->sys[i].src);
                ok = false;
            }
    } else if (ok) {
        snprintf(sb->why, sizeof(sb->why), "cannot resolve the data folder");
        ok = false;
    }
    if (ok) {
        sb->seccomp = s_build_filter(sb);
        s_detect_cgroups(sb);
        /* a user namespace per process, else (as root) a host uid per account */
        sb->userns = true;
        sb->enabled = true;
        ok = s_probe(sb, runtimes_dir, sb->why, sizeof(sb->why));
        if (!ok && sb->root) {
            sb->userns = false;
            ok = s_probe(sb, runtimes_dir, sb->why, sizeof(sb->why));
        }
        sb->enabled = ok;
    }
    if (!ok) {
        mg_lambda_sandbox_cleanup(sb);
        if (mode == MG_LAMBDA_ISOLATION_SANDBOX)
            return mg_errinfo_set(ei, MG_E_INTERNAL, "lambda: no sandbox on this host (%.90s)",
                                  sb->why);
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
               "lambda isolation: unavailable (%s): functions of one account only; "
               "--lambda-isolation none runs every account's functions without isolation",
               sb->why);
        return MG_E_OK;
    }
    const char *cg = sb->cg == MG_LAMBDA_CG_V2 ? "v2 (memory, pids)"
                     : sb->cg == MG_LAMBDA_CG_V1
                         ? (sb->cg_mem[0] && sb->cg_pids[0] ? "v1 (memory, pids)"
                            : sb->cg_mem[0]                ? "v1 (memory); pids by setrlimit"
                                                           : "v1 (pids); memory by setrlimit")
                         : "none (setrlimit: RLIMIT_DATA, RLIMIT_NPROC)";
    MG_LOG(MG_LOG_INFO, MG_SUB_LAMBDA,
           "lambda isolation: sandbox; namespaces %s, mount, pid, ipc; %s; cgroup %s; "
           "seccomp %s",
           sb->userns ? "user" : "no user (host uid per account)",
           sb->root ? "host root" : "unprivileged", cg, sb->seccomp ? "on" : "off");
    return MG_E_OK;
}

/* Kills what is in a cgroup and removes it; false while it is busy. */
/* SIGKILL to every process of the cgroup dir, the whole cgroup.procs read number by number (a
 * box may hold 1024 processes: a fixed read could cut a pid into another, host, pid). */
static void s_cg_kill_procs(const char *dir)
{
    char path[1800];
    FILE *f = mg_fmt(path, sizeof(path), "%s/cgroup.procs", dir) ? fopen(path, "re") : NULL;
    if (f == NULL)
        return;
    int pid;
    while (fscanf(f, "%d", &pid) == 1)
        if (pid > 0)
            kill(pid, SIGKILL);
    fclose(f);
}

static bool s_cg_remove(const char *dir)
{
    if (dir[0] == 0)
        return true;
    if (rmdir(dir) == 0 || errno == ENOENT)
        return true;
    s_cg_kill_procs(dir);
    return rmdir(dir) == 0 || errno == ENOENT;
}

static void s_cg_remove_tree(const char *parent)
{
    if (parent[0] == 0)
        return;
    DIR *d = opendir(parent);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_type != DT_DIR || e->d_name[0] != 'p')
                continue;
            char path[1800];
            if (!mg_fmt(path, sizeof(path), "%s/%s", parent, e->d_name))
                continue;
            for (int i = 0; i < 100 && !s_cg_remove(path); i++)
                usleep(5000);
        }
        closedir(d);
    }
    for (int i = 0; i < 100 && !s_cg_remove(parent); i++)
        usleep(5000);
}

void mg_lambda_sandbox_cleanup(struct mg_lambda_sandbox *sb)
{
    s_cg_remove_tree(sb->cg_mem);
    s_cg_remove_tree(sb->cg_pids);
    sb->cg_mem[0] = sb->cg_pids[0] = 0;
    sb->cg = MG_LAMBDA_CG_NONE;
    mg_free(sb->filter);
    sb->filter = NULL;
    sb->n_filter = 0;
    mg_free(sb->accounts);
    sb->accounts = NULL;
    sb->n_accounts = sb->cap_accounts = 0;
}

/* The account's index (added when new); -1 when out of memory. */
static long s_account_index(struct mg_lambda_sandbox *sb, const char *account)
{
    for (size_t i = 0; i < sb->n_accounts; i++)
        if (strcmp(sb->accounts[i], account) == 0)
            return (long)i;
    if (sb->n_accounts == sb->cap_accounts) {
        size_t nc = sb->cap_accounts ? sb->cap_accounts * 2 : 16;
        char(*na)[13] = mg_realloc(sb->accounts, nc * sizeof(*na));
        if (na == NULL)
            return -1;
        sb->accounts = na;
        sb->cap_accounts = nc;
    }
    mg_lambda_strlcpy(sb->accounts[sb->n_accounts], 13, account);
    return (long)sb->n_accounts++;
}

bool mg_lambda_sandbox_admits(struct mg_lambda_sandbox *sb, const char *account)
{
    if (sb->enabled || sb->mode == MG_LAMBDA_ISOLATION_NONE)
        return true;
    long i = s_account_index(sb, account);
    return i == 0;
}

/* --- one box -------------------------------------------------------------------------------- */

static bool s_cg_setf(const char *dir, const char *file, unsigned long long v)
{
    char path[700], text[32];
    return mg_fmt(path, sizeof(path), "%s/%s", dir, file) &&
           mg_fmt(text, sizeof(text), "%llu", v) && s_write_file(path, text);
}

enum mg_err mg_lambda_box_prepare(struct mg_lambda_sandbox *sb, const char *account,
                                  const char *code_dir, const char *runtimes_dir, int memory_mb,
                                  int tmp_mb, struct mg_lambda_box *box,
                                  struct mg_lambda_box_plan *plan)
{
    memset(box, 0, sizeof(*box));
    memset(plan, 0, sizeof(*plan));
    plan->sb = sb;
    long idx = s_account_index(sb, account);
    if (idx < 0 || (uint64_t)idx > 100000000u)
        return MG_E_NOMEM;
    box->uid = sb->root ? (uid_t)(MG_LAMBDA_SANDBOX_UID_BASE + (uint32_t)idx) : geteuid();
    plan->uid = box->uid;
    snprintf(plan->inner_map, sizeof(plan->inner_map), "%u %u 1\n", MG_LAMBDA_SANDBOX_INNER_ID,
             (unsigned)box->uid);
    uint64_t mem = (uint64_t)(memory_mb > 0 ? memory_mb : 128) * 1024u * 1024u;
    uint64_t seq = ++sb->seq;
    if (sb->cg == MG_LAMBDA_CG_V2) {
        if (!mg_fmt(box->cg_mem, sizeof(box->cg_mem), "%s/p%llu", sb->cg_mem,
                    (unsigned long long)seq) ||
            mkdir(box->cg_mem, 0755) != 0 || !s_cg_setf(box->cg_mem, "memory.max", mem) ||
            !s_cg_setf(box->cg_mem, "pids.max", MG_LAMBDA_SANDBOX_PIDS))
            goto fail;
        s_cg_setf(box->cg_mem, "memory.swap.max", 0);
        if (!mg_fmt(plan->cg_procs[0], sizeof(plan->cg_procs[0]), "%s/cgroup.procs",
                    box->cg_mem))
            goto fail;
    } else if (sb->cg == MG_LAMBDA_CG_V1) {
        if (sb->cg_mem[0]) {
            if (!mg_fmt(box->cg_mem, sizeof(box->cg_mem), "%s/p%llu", sb->cg_mem,
                        (unsigned long long)seq) ||
                mkdir(box->cg_mem, 0755) != 0 ||
                !s_cg_setf(box->cg_mem, "memory.limit_in_bytes", mem))
                goto fail;
            s_cg_setf(box->cg_mem, "memory.memsw.limit_in_bytes", mem); /* no swap either */
            if (!mg_fmt(plan->cg_procs[0], sizeof(plan->cg_procs[0]), "%s/cgroup.procs",
                        box->cg_mem))
                goto fail;
        }
        if (sb->cg_pids[0]) {
            if (!mg_fmt(box->cg_pids, sizeof(box->cg_pids), "%s/p%llu", sb->cg_pids,
                        (unsigned long long)seq) ||
                mkdir(box->cg_pids, 0755) != 0 ||
                !s_cg_setf(box->cg_pids, "pids.max", MG_LAMBDA_SANDBOX_PIDS))
                goto fail;
            if (!mg_fmt(plan->cg_procs[1], sizeof(plan->cg_procs[1]), "%s/cgroup.procs",
                        box->cg_pids))
                goto fail;
        }
    }
    if (box->cg_mem[0] == 0)
        plan->memory_bytes = mem;
    for (size_t i = 0; i < sb->n_sys; i++)
        plan->mounts[plan->n_mounts++] = sb->sys[i];
    char tmpopt[64];
    snprintf(tmpopt, sizeof(tmpopt), "size=%dm,nr_inodes=65536,mode=1777",
             tmp_mb > 0 ? tmp_mb : 512);
    if (!s_add_mount(plan->mounts, &plan->n_mounts, MG_LAMBDA_M_BIND_RO, code_dir, "/var/task") ||
        !s_add_mount(plan->mounts, &plan->n_mounts, MG_LAMBDA_M_BIND_RO, runtimes_dir,
                     "/var/runtime") ||
        !s_add_mount(plan->mounts, &plan->n_mounts, MG_LAMBDA_M_TMPFS, tmpopt, "/tmp"))
        goto fail;
    return MG_E_OK;
fail:
    mg_lambda_box_kill(box);
    mg_lambda_box_release(box);
    return MG_E_INTERNAL;
}

void mg_lambda_box_kill(const struct mg_lambda_box *box)
{
    const char *dirs[2] = {box->cg_mem, box->cg_pids};
    for (int k = 0; k < 2; k++) {
        if (dirs[k][0] == 0)
            continue;
        s_cg_kill_procs(dirs[k]);
    }
}

bool mg_lambda_box_release(struct mg_lambda_box *box)
{
    bool ok = true;
    if (box->cg_mem[0]) {
        if (rmdir(box->cg_mem) == 0 || errno == ENOENT)
            box->cg_mem[0] = 0;
        else
            ok = false;
    }
    if (box->cg_pids[0]) {
        if (rmdir(box->cg_pids) == 0 || errno == ENOENT)
            box->cg_pids[0] = 0;
        else
            ok = false;
    }
    return ok;
}

long mg_lambda_box_max_memory_mb(const struct mg_lambda_box *box)
{
    if (box->cg_mem[0] == 0)
        return -1;
    char path[700], text[64];
    int fd = mg_fmt(path, sizeof(path), "%s/memory.max_usage_in_bytes", box->cg_mem)
                 ? open(path, O_RDONLY | O_CLOEXEC)
                 : -1;
    if (fd < 0 && mg_fmt(path, sizeof(path), "%s/memory.peak", box->cg_mem))
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (r <= 0)
        return -1;
    text[r] = 0;
    unsigned long long b = strtoull(text, NULL, 10);
    return (long)((b + (1u << 20) - 1) >> 20);
}

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
        for (unsigned fd = from; fd < 65536u; fd++)
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
    struct s_mount_attr a = {S_MOUNT_ATTR_RDONLY | S_MOUNT_ATTR_NOSUID | S_MOUNT_ATTR_NODEV, 0,
                             0, 0};
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
    if (mkdir(path, 0755) != 0 ||
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC,
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
    if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
              NULL) != 0)
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
        for (int fd = 3; fd < 4096; fd++)
            close(fd);
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
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
                    &prog) != 0 &&
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

pid_t mg_lambda_box_start(const struct mg_lambda_box_plan *plan, int in_fd, int out_fd,
                          char **argv, char **env, int *status_fd)
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
