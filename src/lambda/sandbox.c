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
 * This file holds the start-up (the system mounts, the probe, what is in effect) and each box's
 * plan; sandbox_cgroup.c the cgroups, sandbox_seccomp.c the filter, sandbox_child.c everything
 * between fork and execve (system calls only: no allocation, no stdio). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/slice.h"
#include "base/util.h"
#include "lambda/internal.h"
#include "lambda/sandbox_internal.h"

/* --- start-up ------------------------------------------------------------------------------- */

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
    static const char *const maybe_links[] = {"/bin",   "/sbin",  "/lib",
                                              "/lib32", "/lib64", "/libx32"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (mg_lambda_is_dir(dirs[i]) &&
            !s_add_mount(sb->sys, &sb->n_sys, MG_LAMBDA_M_BIND_RO, dirs[i], dirs[i]))
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

static bool s_probe(struct mg_lambda_sandbox *sb, const char *runtimes_dir, char *why, size_t cap)
{
    struct mg_lambda_box box;
    struct mg_lambda_box_plan *plan = mg_calloc(1, sizeof(*plan));
    if (plan == NULL)
        return false;
    bool ok = false;
    int out[2] = {-1, -1};
    if (mg_lambda_box_prepare(sb, "000000000000", runtimes_dir, runtimes_dir, 128, 1, &box, plan) !=
        MG_E_OK) {
        snprintf(why, cap, "cannot prepare a sandbox");
        mg_free(plan);
        return false;
    }
    sb->n_accounts = 0; /* the probe's account is no account */
    char *argv[] = {(char *)(mg_lambda_is_dir("/usr/bin") ? "/usr/bin/true" : "/bin/true"), NULL};
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
        sb->seccomp = mg_lambda_seccomp_build(sb);
        mg_lambda_cg_detect(sb);
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
                            : sb->cg_mem[0]                 ? "v1 (memory); pids by setrlimit"
                                                            : "v1 (pids); memory by setrlimit")
                         : "none (setrlimit: RLIMIT_DATA, RLIMIT_NPROC)";
    MG_LOG(MG_LOG_INFO, MG_SUB_LAMBDA,
           "lambda isolation: sandbox; namespaces %s, mount, pid, ipc; %s; cgroup %s; "
           "seccomp %s",
           sb->userns ? "user" : "no user (host uid per account)",
           sb->root ? "host root" : "unprivileged", cg, sb->seccomp ? "on" : "off");
    return MG_E_OK;
}

void mg_lambda_sandbox_cleanup(struct mg_lambda_sandbox *sb)
{
    mg_lambda_cg_remove_tree(sb->cg_mem);
    mg_lambda_cg_remove_tree(sb->cg_pids);
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
    if (mg_lambda_cg_box_create(sb, mem, box, plan) != MG_E_OK)
        goto fail;
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
