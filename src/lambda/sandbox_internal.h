/* src/lambda/sandbox_internal.h: the sandbox's parts (private to src/lambda/sandbox*.c).
 *
 *   sandbox.c          start-up (system mounts, probe, what is in effect), accounts, box plans
 *   sandbox_cgroup.c   cgroups: the hierarchy, this server's parents, a box's, kill, peak, removal
 *   sandbox_seccomp.c  the seccomp filter
 *   sandbox_child.c    namespaces, init, the root file system and the runtime (after the fork)
 * sandbox.c calls the other three; they call none of each other. */
#ifndef MG_LAMBDA_SANDBOX_INTERNAL_H
#define MG_LAMBDA_SANDBOX_INTERNAL_H

#include <stdbool.h>
#include <sys/stat.h>

#include "lambda/sandbox.h"

static inline bool mg_lambda_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --- sandbox_cgroup.c ----------------------------------------------------------------------- */

/* Finds the cgroup hierarchy and makes this server's parent cgroups (sb->cg, cg_mem, cg_pids);
 * MG_LAMBDA_CG_NONE when there is none to use. */
void mg_lambda_cg_detect(struct mg_lambda_sandbox *sb);
/* Kills what is in the cgroup parent and its children and removes them. */
void mg_lambda_cg_remove_tree(const char *parent);
/* Makes the box's cgroups with their limits (memory in bytes, MG_LAMBDA_SANDBOX_PIDS) and names
 * their cgroup.procs in plan; on failure the caller kills and releases the box. */
MG_MUST_USE enum mg_err mg_lambda_cg_box_create(struct mg_lambda_sandbox *sb, uint64_t mem,
                                                struct mg_lambda_box *box,
                                                struct mg_lambda_box_plan *plan);

/* --- sandbox_seccomp.c ---------------------------------------------------------------------- */

/* Builds sb->filter; false when this architecture has none (or out of memory). */
bool mg_lambda_seccomp_build(struct mg_lambda_sandbox *sb);

#endif
