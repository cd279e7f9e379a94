/* src/lambda/sandbox.h: the sandbox each Lambda runtime process runs in (private to src/lambda/).
 *
 * A runtime process gets its own mount, PID and IPC namespaces, a user namespace (or, without
 * one, a host uid of its own per account), a read-only view of the system with its code at
 * /var/task and the bootstraps at /var/runtime, a private /tmp, memory and process limits from a
 * cgroup (v2, else v1's memory and pids controllers, else setrlimit), and a seccomp filter. The
 * PID namespace's init is a small reaper: when it dies, the kernel kills every process of the
 * sandbox, so nothing a function forks outlives it. */
#ifndef MG_LAMBDA_SANDBOX_H
#define MG_LAMBDA_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "base/err.h"

struct sock_filter;

/* What the operator asked for (--lambda-isolation). */
enum mg_lambda_isolation {
    MG_LAMBDA_ISOLATION_AUTO = 0, /* sandbox when the host allows, else one account only */
    MG_LAMBDA_ISOLATION_SANDBOX,  /* sandbox or refuse to start */
    MG_LAMBDA_ISOLATION_NONE,     /* no sandbox: every function runs as the server */
};

enum mg_lambda_cgroup { MG_LAMBDA_CG_NONE = 0, MG_LAMBDA_CG_V1, MG_LAMBDA_CG_V2 };

#define MG_LAMBDA_SANDBOX_MOUNTS 24
#define MG_LAMBDA_SANDBOX_FILTER 128
#define MG_LAMBDA_SANDBOX_PIDS 1024
#define MG_LAMBDA_SANDBOX_UID_BASE 1800000000u /* host uids of sandboxes: base + account index */
#define MG_LAMBDA_SANDBOX_INNER_ID 993u        /* the uid and gid a function sees */

/* One mount of a sandbox's file system, computed before the fork. */
struct mg_lambda_mount {
    enum { MG_LAMBDA_M_BIND_RO = 1, MG_LAMBDA_M_SYMLINK, MG_LAMBDA_M_TMPFS } kind;
    char src[1024]; /* host path (bind), link target (symlink), tmpfs options */
    char dst[512];  /* path inside the sandbox */
};

/* Host-wide: decided at start-up, then read by the manager thread. */
struct mg_lambda_sandbox {
    enum mg_lambda_isolation mode;
    bool enabled; /* every runtime process is sandboxed */
    bool root;    /* the server runs as root: namespaces without a user namespace first */
    bool userns;  /* a user namespace per runtime process */
    bool seccomp;
    enum mg_lambda_cgroup cg;
    char cg_mem[512], cg_pids[512]; /* this server's parent cgroups ("" when none) */
    char why[160];                  /* why isolation is off, for the log and refusals */
    /* system mounts every sandbox shares (/usr, /etc, /lib..., interpreter prefixes) */
    struct mg_lambda_mount sys[MG_LAMBDA_SANDBOX_MOUNTS];
    size_t n_sys;
    struct sock_filter *filter;
    unsigned short n_filter;
    /* accounts seen, in order: index -> host uid */
    char (*accounts)[13];
    size_t n_accounts, cap_accounts;
    uint64_t seq;
};

/* One runtime process's sandbox. */
struct mg_lambda_box {
    char cg_mem[600], cg_pids[600]; /* its cgroups ("" when none) */
    uid_t uid;
};

/* Everything the child needs, prepared before the fork (the child only makes system calls). */
struct mg_lambda_box_plan {
    const struct mg_lambda_sandbox *sb;
    struct mg_lambda_mount mounts[MG_LAMBDA_SANDBOX_MOUNTS];
    size_t n_mounts;
    char cg_procs[2][640]; /* cgroup.procs files to join ("" when none) */
    char inner_map[64], setgroups_path[32];
    uid_t uid;
    uint64_t memory_bytes; /* setrlimit floor when no memory cgroup (0: none) */
};

/* Probes what the host allows (runs one real sandbox on /bin/true) and logs what is in effect.
 * Fails only when mode is MG_LAMBDA_ISOLATION_SANDBOX and isolation cannot be had. */
MG_MUST_USE enum mg_err mg_lambda_sandbox_init(struct mg_lambda_sandbox *sb,
                                               enum mg_lambda_isolation mode,
                                               const char *runtimes_dir, const char *data_dir,
                                               const char *const *interpreters,
                                               struct mg_errinfo *ei);
/* Removes this server's cgroups (kills what is left in them). */
void mg_lambda_sandbox_cleanup(struct mg_lambda_sandbox *sb);

/* Whether account may run a function now: always with a sandbox or --lambda-isolation=none;
 * without them, only the first account that runs one. */
bool mg_lambda_sandbox_admits(struct mg_lambda_sandbox *sb, const char *account);

/* Prepares a runtime process's sandbox: its cgroups (limits from memory_mb), its uid, its
 * mounts. plan is filled for the child. Not for use when !sb->enabled. */
MG_MUST_USE enum mg_err mg_lambda_box_prepare(struct mg_lambda_sandbox *sb, const char *account,
                                              const char *code_dir, const char *runtimes_dir,
                                              int memory_mb, int tmp_mb, struct mg_lambda_box *box,
                                              struct mg_lambda_box_plan *plan);

/* In the forked shim (single-threaded, system calls only): enters the new namespaces and forks
 * the sandbox's init, which sets up the file system and runs argv/env as the function's user,
 * stdin from in_fd, stdout and stderr to out_fd. Returns init's pid (or -1) and, in *status_fd,
 * a pipe on which init writes the runtime's wait status (an int) when it ends. */
pid_t mg_lambda_box_start(const struct mg_lambda_box_plan *plan, int in_fd, int out_fd, char **argv,
                          char **env, int *status_fd);

/* Kills every process of the box (cgroup members; the PID namespace dies with its init). */
void mg_lambda_box_kill(const struct mg_lambda_box *box);
/* Removes the box's cgroups; false while processes remain. */
bool mg_lambda_box_release(struct mg_lambda_box *box);
/* The peak memory of the box in MB, from its memory cgroup (-1 when it has none). */
long mg_lambda_box_max_memory_mb(const struct mg_lambda_box *box);

/* One past the highest descriptor a freshly forked child may hold: the soft RLIMIT_NOFILE (the
 * server raises it to fit --max-connections), for the close loops that run where close_range(2)
 * is missing. Only getrlimit: safe between fork and exec. */
static inline unsigned mg_lambda_fd_ceiling(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > (1u << 20))
        return 1u << 20;
    return (unsigned)rl.rlim_cur;
}

#endif
