/* The sandbox's cgroups: finding the hierarchy (v2 with the memory and pids controllers, else
 * v1's), this server's parent cgroups and the stale ones of servers that are gone, one cgroup
 * per box with its limits, killing a box's processes, its peak memory, removal. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "lambda/internal.h"
#include "lambda/sandbox_internal.h"

/* --- this server's cgroups ------------------------------------------------------------------ */

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
            mg_lambda_cg_remove_tree(path);
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
        !mg_lambda_is_dir(path))
        mg_lambda_strlcpy(path, sizeof(path), mnt); /* our cgroup is not visible: the root */
    s_cg_remove_stale(path);
    size_t l = strlen(path);
    if (!mg_fmt(path + l, sizeof(path) - l, "/mcpgate-%d", (int)getpid()) || strlen(path) >= cap ||
        (mkdir(path, 0755) != 0 && errno != EEXIST))
        return false;
    mg_lambda_strlcpy(out, cap, path);
    return true;
}

void mg_lambda_cg_detect(struct mg_lambda_sandbox *sb)
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

/* SIGKILL to every process of the cgroup dir, the whole cgroup.procs read number by number (a
 * box may hold 1024 processes: a fixed read could cut a pid into another, host, pid). */
static void s_cg_kill_procs(const char *dir)
{
    char path[1800];
    FILE *f = mg_fmt(path, sizeof(path), "%s/cgroup.procs", dir) ? fopen(path, "re") : NULL;
    if (f == NULL)
        return;
    long pid;
    while (mg_read_long(f, &pid))
        if (pid > 0 && pid <= INT_MAX)
            kill((pid_t)pid, SIGKILL);
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

void mg_lambda_cg_remove_tree(const char *parent)
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

/* --- one box's cgroups ------------------------------------------------------------------------ */

static bool s_cg_setf(const char *dir, const char *file, unsigned long long v)
{
    char path[700], text[32];
    return mg_fmt(path, sizeof(path), "%s/%s", dir, file) &&
           mg_fmt(text, sizeof(text), "%llu", v) && s_write_file(path, text);
}

enum mg_err mg_lambda_cg_box_create(struct mg_lambda_sandbox *sb, uint64_t mem,
                                    struct mg_lambda_box *box, struct mg_lambda_box_plan *plan)
{
    uint64_t seq = ++sb->seq;
    if (sb->cg == MG_LAMBDA_CG_V2) {
        if (!mg_fmt(box->cg_mem, sizeof(box->cg_mem), "%s/p%llu", sb->cg_mem,
                    (unsigned long long)seq) ||
            mkdir(box->cg_mem, 0755) != 0 || !s_cg_setf(box->cg_mem, "memory.max", mem) ||
            !s_cg_setf(box->cg_mem, "pids.max", MG_LAMBDA_SANDBOX_PIDS))
            return MG_E_INTERNAL;
        s_cg_setf(box->cg_mem, "memory.swap.max", 0);
        if (!mg_fmt(plan->cg_procs[0], sizeof(plan->cg_procs[0]), "%s/cgroup.procs", box->cg_mem))
            return MG_E_INTERNAL;
    } else if (sb->cg == MG_LAMBDA_CG_V1) {
        if (sb->cg_mem[0]) {
            if (!mg_fmt(box->cg_mem, sizeof(box->cg_mem), "%s/p%llu", sb->cg_mem,
                        (unsigned long long)seq) ||
                mkdir(box->cg_mem, 0755) != 0 ||
                !s_cg_setf(box->cg_mem, "memory.limit_in_bytes", mem))
                return MG_E_INTERNAL;
            s_cg_setf(box->cg_mem, "memory.memsw.limit_in_bytes", mem); /* no swap either */
            if (!mg_fmt(plan->cg_procs[0], sizeof(plan->cg_procs[0]), "%s/cgroup.procs",
                        box->cg_mem))
                return MG_E_INTERNAL;
        }
        if (sb->cg_pids[0]) {
            if (!mg_fmt(box->cg_pids, sizeof(box->cg_pids), "%s/p%llu", sb->cg_pids,
                        (unsigned long long)seq) ||
                mkdir(box->cg_pids, 0755) != 0 ||
                !s_cg_setf(box->cg_pids, "pids.max", MG_LAMBDA_SANDBOX_PIDS))
                return MG_E_INTERNAL;
            if (!mg_fmt(plan->cg_procs[1], sizeof(plan->cg_procs[1]), "%s/cgroup.procs",
                        box->cg_pids))
                return MG_E_INTERNAL;
        }
    }
    return MG_E_OK;
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
