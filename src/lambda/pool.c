/* The process pool: one manager thread owns every runtime process, serves the Lambda Runtime API
 * to them, enforces timeouts and concurrency, and finishes invocations.
 *
 * Each runtime process gets its own loopback listener (127.0.0.1, port chosen by the kernel), so
 * the manager knows which process every Runtime API request comes from: that is what timeouts,
 * crash detection and logs need. The listener speaks the small HTTP/1.1 subset the Runtime API
 * uses (Content-Length or chunked bodies, keep-alive). Everything here runs on the manager thread
 * under L->mu; other threads only queue invocations and wake it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "lambda/internal.h"

#define S_MAX_CONNS 4
#define S_CONN_IN_MAX (MG_LAMBDA_PAYLOAD_MAX + 64u * 1024u)
#define S_FN_LOG_BYTES (256u * 1024u)
#define S_INV_LOG_BYTES 4096u
#define S_INIT_TIMEOUT_MS 10000

enum s_pstate { P_STARTING, P_READY, P_WAITING, P_BUSY, P_DEAD };

struct s_conn {
    int fd;
    struct mg_buf in, out;
    size_t out_off;
    bool parked, close_after;
};

struct s_proc {
    struct s_fn *fn;
    char rev[64];
    pid_t pid;
    bool reaped;
    int status;
    int out_fd, lfd;
    uint16_t port;
    struct s_conn conns[S_MAX_CONNS];
    enum s_pstate state;
    struct mg_lambda_inv *inv;
    uint64_t spawned_ns;
    bool initialized;
    double init_ms;
    int64_t idle_since_ms;
    bool retire;
    int64_t creds_expire; /* epoch seconds when its role credentials expire (0: none) */
    char code_hex[65];    /* the code version it runs (its directory's name) */
    bool refused_logged;  /* a foreign connection was refused and logged */
    bool boxed;           /* runs in a sandbox (sandbox.c) */
    struct mg_lambda_box box;
};

struct s_fn {
    char account[13], name[65], arn[256];
    char rev[64];
    json_t *conf;
    enum mg_lambda_runtime_kind kind;
    char handler[256];
    int timeout_s, memory;
    char code_dir[1024];
    char stream[128];
    struct s_proc **procs;
    size_t n_procs, cap_procs;
    struct mg_lambda_inv *q_head, *q_tail;
    size_t q_len;
    struct mg_lambda_ring log;
};

/* --- invocations ---------------------------------------------------------------------------- */

struct mg_lambda_inv *mg_lambda_inv_new(const char *account, const char *name,
                                        struct mg_slice payload, struct mg_slice client_context,
                                        mg_lambda_done_fn done, void *user)
{
    struct mg_lambda_inv *inv = mg_calloc(1, sizeof(*inv));
    if (inv == NULL)
        return NULL;
    mg_request_id(inv->request_id);
    mg_lambda_strlcpy(inv->account, sizeof(inv->account), account);
    mg_lambda_strlcpy(inv->name, sizeof(inv->name), name);
    mg_buf_init(&inv->payload, MG_LAMBDA_PAYLOAD_MAX);
    mg_buf_init(&inv->result, MG_LAMBDA_PAYLOAD_MAX + 1024);
    inv->done = done;
    inv->user = user;
    inv->queued_ns = mg_mono_ns();
    if (mg_buf_append_slice(&inv->payload, payload) != MG_E_OK ||
        mg_lambda_ring_init(&inv->log, S_INV_LOG_BYTES) != MG_E_OK)
        goto fail;
    if (client_context.len) {
        /* It goes into a Runtime API header: re-serialized compactly with every non-ASCII and
         * control character escaped, so no whitespace of the caller's JSON (CR, LF) reaches the
         * header block. Not a JSON object: refused. */
        json_t *cj = json_loadb((const char *)client_context.ptr, client_context.len, 0, NULL);
        char *text = json_is_object(cj) ? json_dumps(cj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(cj);
        if (text)
            inv->client_context = mg_strdup(text);
        mg_free(text);
        if (inv->client_context == NULL)
            goto fail;
    }
    return inv;
fail:
    mg_lambda_inv_free(inv);
    return NULL;
}

void mg_lambda_inv_free(struct mg_lambda_inv *inv)
{
    if (inv == NULL)
        return;
    mg_buf_cleanup(&inv->payload);
    mg_buf_cleanup(&inv->result);
    mg_lambda_ring_cleanup(&inv->log);
    mg_free(inv->client_context);
    mg_free(inv);
}

/* Finished invocations are collected under the lock and reported after it is released. */
struct s_done_list {
    struct mg_lambda_inv *head, *tail;
};

static void s_done_push(struct s_done_list *d, struct mg_lambda_inv *inv)
{
    inv->next = NULL;
    if (d->tail)
        d->tail->next = inv;
    else
        d->head = inv;
    d->tail = inv;
}

static void s_report(struct mg_lambda *L, struct s_done_list *d)
{
    struct mg_lambda_inv *inv = d->head;
    while (inv) {
        struct mg_lambda_inv *next = inv->next;
        struct mg_buf tail;
        mg_buf_init(&tail, S_INV_LOG_BYTES);
        if (mg_lambda_ring_tail(&inv->log, S_INV_LOG_BYTES, &tail) != MG_E_OK)
            mg_buf_reset(&tail);
        char arn[256];
        mg_lambda_function_arn(L->env->region, inv->account, inv->name, arn, sizeof(arn));
        const char *msg = inv->error_type[0] ? inv->error_type : NULL;
        struct mg_lambda_result r = {
            .outcome = inv->outcome,
            .payload = mg_buf_slice(&inv->result),
            .error_type = inv->outcome == MG_LAMBDA_OK ? NULL : inv->error_type,
            .error_message = NULL,
            .function_arn = inv->outcome == MG_LAMBDA_NOT_FOUND ? NULL : arn,
            .executed_version = inv->start_ns ? "$LATEST" : NULL,
            .request_id = inv->request_id,
            .log_tail = mg_buf_slice(&tail),
        };
        /* error_message: the payload's errorMessage when it is JSON, else the type */
        json_t *j = NULL;
        if (inv->outcome != MG_LAMBDA_OK && inv->result.len)
            j = json_loadb((const char *)inv->result.ptr, inv->result.len, 0, NULL);
        const char *em = json_string_value(json_object_get(j, "errorMessage"));
        r.error_message = em ? em : msg ? msg : "";
        if (inv->outcome != MG_LAMBDA_OK && r.error_type == NULL)
            r.error_type = "";
        if (inv->done)
            inv->done(inv->user, &r);
        json_decref(j);
        mg_buf_cleanup(&tail);
        mg_lambda_inv_free(inv);
        inv = next;
    }
    d->head = d->tail = NULL;
}

/* Sets an error outcome with Lambda's error payload. */
static void s_set_error(struct mg_lambda_inv *inv, enum mg_lambda_outcome o, const char *type,
                        const char *message)
{
    inv->outcome = o;
    mg_lambda_strlcpy(inv->error_type, sizeof(inv->error_type), type);
    mg_buf_reset(&inv->result);
    if (mg_buf_append_cstr(&inv->result, "{\"errorMessage\":\"") ||
        mg_buf_append_json_str(&inv->result, mg_slice_cstr(message)) ||
        mg_buf_append_cstr(&inv->result, "\",\"errorType\":\"") ||
        mg_buf_append_json_str(&inv->result, mg_slice_cstr(type)) ||
        mg_buf_append_cstr(&inv->result, "\"}"))
        mg_buf_reset(&inv->result);
}

/* Ends an invocation that never ran (not found, throttled, internal). */
static void s_fail_inv(struct s_done_list *d, struct mg_lambda_inv *inv,
                       enum mg_lambda_outcome o, const char *type, const char *message)
{
    s_set_error(inv, o, type, message);
    s_done_push(d, inv);
}

/* --- logs --------------------------------------------------------------------------------- */

static void s_log(struct s_fn *fn, struct mg_lambda_inv *inv, struct mg_slice s)
{
    mg_lambda_ring_append(&fn->log, s);
    if (inv)
        mg_lambda_ring_append(&inv->log, s);
}

static void s_logf(struct s_fn *fn, struct mg_lambda_inv *inv, const char *fmt, ...)
    MG_PRINTF(3, 4);
static void s_logf(struct s_fn *fn, struct mg_lambda_inv *inv, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    s_log(fn, inv, mg_slice_make(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1));
}

/* Reads whatever the process wrote to stdout/stderr. */
static void s_drain_output(struct s_proc *p)
{
    if (p->out_fd < 0)
        return;
    uint8_t buf[16384];
    for (;;) {
        ssize_t r = read(p->out_fd, buf, sizeof(buf));
        if (r > 0) {
            s_log(p->fn, p->inv, mg_slice_make(buf, (size_t)r));
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            close(p->out_fd);
            p->out_fd = -1;
        }
        break;
    }
}

static long s_max_rss_mb(const struct s_proc *p)
{
    long cg = p->boxed ? mg_lambda_box_max_memory_mb(&p->box) : -1;
    if (cg >= 0)
        return cg;
    char path[96], line[256];
    pid_t shim = p->pid, pid = shim;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)shim, (int)shim);
    FILE *cf = fopen(path, "re");
    if (cf) {
        int child = 0;
        if (fscanf(cf, "%d", &child) == 1 && child > 0)
            pid = child;
        fclose(cf);
    }
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    long kb = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return (kb + 1023) / 1024;
}

/* Finishes the running invocation of p with the outcome already set in inv. */
static void s_finish(struct s_proc *p, struct s_done_list *d, const char *status_note)
{
    struct mg_lambda_inv *inv = p->inv;
    if (inv == NULL)
        return;
    s_drain_output(p);
    double ms = (double)(mg_mono_ns() - inv->start_ns) / 1e6;
    long billed = (long)ms + 1;
    s_logf(p->fn, inv, "END RequestId: %s\n", inv->request_id);
    char init[64] = "";
    if (inv->init_phase)
        snprintf(init, sizeof(init), "\tInit Duration: %.2f ms", p->init_ms);
    s_logf(p->fn, inv,
           "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %ld ms\tMemory Size: %d MB"
           "\tMax Memory Used: %ld MB%s%s\t\n",
           inv->request_id, ms, billed, p->fn->memory, s_max_rss_mb(p), init,
           status_note ? status_note : "");
    p->inv = NULL;
    s_done_push(d, inv);
}

/* --- processes ---------------------------------------------------------------------------- */

static void s_conn_close(struct s_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    mg_buf_cleanup(&c->in);
    mg_buf_cleanup(&c->out);
    c->out_off = 0;
    c->parked = c->close_after = false;
}

static void s_kill(struct s_proc *p)
{
    if (p->state == P_DEAD)
        return;
    if (p->pid > 0 && !p->reaped) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
    }
    /* the sandbox's init dies with the shim, and its PID namespace with it; the cgroup holds
     * whatever else the box started */
    if (p->boxed)
        mg_lambda_box_kill(&p->box);
    p->state = P_DEAD;
    for (int i = 0; i < S_MAX_CONNS; i++)
        s_conn_close(&p->conns[i]);
    if (p->lfd >= 0)
        close(p->lfd);
    p->lfd = -1;
}

static void s_proc_free(struct s_proc *p)
{
    s_kill(p);
    if (p->boxed)
        mg_lambda_box_release(&p->box);
    if (p->out_fd >= 0)
        close(p->out_fd);
    mg_free(p);
}

static bool s_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static enum mg_err s_read_file(const char *path, struct mg_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return MG_E_NOT_FOUND;
    enum mg_err e = MG_E_OK;
    uint8_t buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = MG_E_IO;
            break;
        }
        if (r == 0)
            break;
        if ((e = mg_buf_append(out, buf, (size_t)r)) != MG_E_OK)
            break;
    }
    close(fd);
    return e;
}

static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int s_open_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_D || flag == FTW_DP)
        chmod(path, 0755);
    else if (flag == FTW_F)
        chmod(path, (st->st_mode & 0100) ? 0755 : 0644);
    return 0;
}

/* A sandbox's user is not the tree's owner: the unzipped code becomes readable by all (its
 * parent, DATA/lambda/A/N, stays 0700, so only the function's own sandbox reaches it). The
 * top directory is opened last: its mode says the walk is done. */
static enum mg_err s_open_code(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return MG_E_NOT_FOUND;
    if ((st.st_mode & 0005) == 0005)
        return MG_E_OK;
    if (nftw(dir, s_open_one, 16, FTW_PHYS | FTW_DEPTH) != 0)
        return MG_E_IO;
    return MG_E_OK;
}

/* Makes sure DATA/lambda/A/N/<sha> holds the unzipped code. */
static enum mg_err s_ensure_code(struct mg_lambda *L, const char *account, const char *name,
                                 const char *sha_b64, char *dir, size_t cap)
{
    char base[1024], hex[65];
    if (!mg_lambda_sha_hex(sha_b64, hex))
        return MG_E_INVALID;
    mg_lambda_code_dir(L->env->data_dir, account, name, base, sizeof(base));
    snprintf(dir, cap, "%s/%s", base, hex);
    if (s_exists(dir))
        return MG_E_OK;
    char zip[1200], tmp[1200], msg[128] = "";
    snprintf(zip, sizeof(zip), "%s/%s.zip", base, hex);
    char rnd[9];
    mg_random_chars(rnd, 8, MG_ALPHA_LOWER_NUM);
    rnd[8] = 0;
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", base, rnd);
    struct mg_buf z;
    mg_buf_init(&z, 64u * 1024u * 1024u);
    enum mg_err e = s_read_file(zip, &z);
    if (!e)
        e = mg_lambda_zip_extract(mg_buf_slice(&z), tmp, MG_LAMBDA_UNZIPPED_MAX, msg, sizeof(msg));
    mg_buf_cleanup(&z);
    if (!e && rename(tmp, dir) != 0 && !s_exists(dir))
        e = MG_E_IO;
    if (e) {
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA, "function %s/%s: cannot unpack its code: %s (%s)",
               account, name, mg_err_str(e), msg);
        /* leave no half-written tree behind */
        nftw(tmp, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    return e;
}

static bool s_env_add(char **env, size_t *n, size_t cap, const char *k, const char *v)
{
    if (*n + 1 >= cap || k == NULL || v == NULL)
        return false;
    size_t kl = strlen(k), vl = strlen(v);
    char *s = mg_malloc(kl + vl + 2);
    if (s == NULL)
        return false;
    mg_memcpy(s, k, kl);
    s[kl] = '=';
    mg_memcpy(s + kl + 1, v, vl + 1);
    /* a later value replaces an earlier one */
    for (size_t i = 0; i < *n; i++) {
        if (strncmp(env[i], s, kl + 1) == 0) {
            mg_free(env[i]);
            env[i] = s;
            return true;
        }
    }
    env[(*n)++] = s;
    env[*n] = NULL;
    return true;
}

/* The execution role's temporary credentials, from mcpgate's STS; returns when they expire
 * (0 without credentials). */
static int64_t s_role_credentials(struct mg_lambda *L, struct s_fn *fn, char **env, size_t *n,
                                  size_t cap)
{
    const char *role = json_string_value(json_object_get(fn->conf, "Role"));
    if (role == NULL)
        return 0;
    struct mg_snapshot *snap = mg_state_acquire(L->env->state);
    char akid[32], secret[64];
    struct mg_buf token;
    mg_buf_init(&token, 16384);
    struct mg_errinfo ei = {0};
    int64_t exp = 0;
    if (mg_call_assume_role_as_service(L->env, snap, role, "lambda.amazonaws.com", fn->name, 43200,
                                      NULL, akid, secret, &token, &exp, &ei) == MG_E_OK &&
        mg_buf_cstr(&token)) {
        s_env_add(env, n, cap, "AWS_ACCESS_KEY_ID", akid);
        s_env_add(env, n, cap, "AWS_SECRET_ACCESS_KEY", secret);
        s_env_add(env, n, cap, "AWS_SESSION_TOKEN", mg_buf_cstr(&token));
    } else {
        exp = 0;
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA, "function %s: no credentials for role %s: %s",
               fn->arn, role, ei.msg);
    }
    mg_memzero(secret, sizeof(secret));
    if (token.ptr)
        mg_memzero(token.ptr, token.len);
    mg_buf_cleanup(&token);
    mg_snapshot_unref(snap);
    return exp;
}

static int s_listen_loopback(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &sl) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static const char *s_runtime_version(const struct s_fn *fn)
{
    return json_string_value(json_object_get(fn->conf, "Runtime"));
}

/* The forked child (async-signal-safe calls only). It leads a new process group and stays as a
 * small shim around the runtime: when mcpgate dies (even by SIGKILL) the shim gets SIGTERM and
 * kills the whole group, so no function process outlives the server. Its exit status mirrors the
 * runtime's. */
static void s_shim_term(int sig)
{
    (void)sig;
    kill(0, SIGKILL);
}

static void s_child(pid_t parent, int devnull, int out_fd, const char *dir, char **argv,
                    char **env, const struct mg_lambda_box_plan *plan) __attribute__((noreturn));
static void s_child(pid_t parent, int devnull, int out_fd, const char *dir, char **argv,
                    char **env, const struct mg_lambda_box_plan *plan)
{
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_shim_term;
    sigaction(SIGTERM, &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (getppid() != parent)
        _exit(127);
    int status_fd = -1;
    pid_t rt = plan ? mg_lambda_box_start(plan, devnull, out_fd, argv, env, &status_fd) : fork();
    if (rt == 0 && plan == NULL) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGTERM, &sa, NULL);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(out_fd, 1);
        dup2(out_fd, 2);
        if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
            for (int fd = 3; fd < 4096; fd++)
                close(fd);
        if (chdir(dir) != 0)
            _exit(126);
        execve(argv[0], argv, env);
        static const char m[] = "mcpgate: cannot execute the runtime\n";
        if (write(2, m, sizeof(m) - 1) < 0) {
            /* nothing more to say */
        }
        _exit(127);
    }
    /* the shim keeps no descriptor but the sandbox's status pipe: the output pipe ends when
     * the runtime's copies close */
    unsigned keep = status_fd >= 0 ? (unsigned)status_fd : ~0u;
    if ((keep > 0 && syscall(SYS_close_range, 0u, keep - 1u, 0u) != 0) ||
        (keep != ~0u && syscall(SYS_close_range, keep + 1u, ~0u, 0u) != 0))
        for (int fd = 0; fd < 4096; fd++)
            if (fd != status_fd)
                close(fd);
    if (rt < 0)
        _exit(127);
    int st = 0;
    while (waitpid(rt, &st, 0) < 0) {
        /* EINTR only */
    }
    /* a sandbox's init reports the runtime's wait status (init itself always exits 0) */
    int rst;
    if (status_fd >= 0 && read(status_fd, &rst, sizeof(rst)) == (ssize_t)sizeof(rst))
        st = rst;
    if (WIFSIGNALED(st)) {
        sa.sa_handler = SIG_DFL;
        sigaction(WTERMSIG(st), &sa, NULL);
        kill(getpid(), WTERMSIG(st));
    }
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* Starts one runtime process for fn. Returns NULL on failure (logged). */
static struct s_proc *s_spawn(struct mg_lambda *L, struct s_fn *fn)
{
    const char *sha = json_string_value(json_object_get(fn->conf, "CodeSha256"));
    if (s_ensure_code(L, fn->account, fn->name, sha, fn->code_dir, sizeof(fn->code_dir)))
        return NULL;
    struct s_proc *p = mg_calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->fn = fn;
    p->out_fd = p->lfd = -1;
    for (int i = 0; i < S_MAX_CONNS; i++)
        p->conns[i].fd = -1;
    mg_lambda_strlcpy(p->rev, sizeof(p->rev), fn->rev);
    const char *slash = strrchr(fn->code_dir, '/');
    mg_lambda_strlcpy(p->code_hex, sizeof(p->code_hex), slash ? slash + 1 : "");
    p->lfd = s_listen_loopback(&p->port);
    int pfd[2] = {-1, -1};
    char *env[256] = {0};
    size_t ne = 0;
    char prog[1400], script[1400];
    char *argv[4] = {0};
    struct mg_lambda_box_plan *plan = NULL;
    if (p->lfd < 0 || pipe2(pfd, O_CLOEXEC) != 0)
        goto fail;
    /* in a sandbox, the code is at /var/task and the bootstraps at /var/runtime */
    p->boxed = L->sandbox.enabled;
    const char *task_root = p->boxed ? "/var/task" : fn->code_dir;
    const char *rt_root = p->boxed ? "/var/runtime" : L->runtimes_dir;
    if (p->boxed) {
        json_t *eph = json_object_get(json_object_get(fn->conf, "EphemeralStorage"), "Size");
        plan = mg_calloc(1, sizeof(*plan));
        if (plan == NULL || s_open_code(fn->code_dir) != MG_E_OK ||
            mg_lambda_box_prepare(&L->sandbox, fn->account, fn->code_dir, L->runtimes_dir,
                                  fn->memory, (int)json_integer_value(eph), &p->box,
                                  plan) != MG_E_OK) {
            p->boxed = false;
            goto fail;
        }
    }
    if (fn->kind == MG_RT_PYTHON) {
        mg_lambda_strlcpy(prog, sizeof(prog), L->python);
        snprintf(script, sizeof(script), "%s/python/bootstrap.py", rt_root);
        argv[0] = prog;
        argv[1] = script;
    } else if (fn->kind == MG_RT_NODE) {
        mg_lambda_strlcpy(prog, sizeof(prog), L->node);
        snprintf(script, sizeof(script), "%s/nodejs/bootstrap.mjs", rt_root);
        argv[0] = prog;
        argv[1] = script;
    } else {
        snprintf(prog, sizeof(prog), "%s/bootstrap", task_root);
        argv[0] = prog;
    }
    /* environment: the function's variables, then Lambda's own (which win) */
    json_t *vars = json_object_get(json_object_get(fn->conf, "Environment"), "Variables");
    const char *k;
    json_t *v;
    json_object_foreach(vars, k, v) {
        if (json_is_string(v))
            s_env_add(env, &ne, 256, k, json_string_value(v));
    }
    char api[64], mem[16], rtdir[1200], execenv[64];
    snprintf(api, sizeof(api), "127.0.0.1:%u", p->port);
    snprintf(mem, sizeof(mem), "%d", fn->memory);
    snprintf(execenv, sizeof(execenv), "AWS_Lambda_%s", s_runtime_version(fn));
    snprintf(rtdir, sizeof(rtdir), "%s/%s", rt_root,
             fn->kind == MG_RT_PYTHON ? "python" : "nodejs");
    const char *path = getenv("PATH");
    char lg[128];
    snprintf(lg, sizeof(lg), "/aws/lambda/%s", fn->name);
    bool ok = s_env_add(env, &ne, 256, "AWS_LAMBDA_RUNTIME_API", api) &&
              s_env_add(env, &ne, 256, "_HANDLER", fn->handler) &&
              s_env_add(env, &ne, 256, "LAMBDA_TASK_ROOT", task_root) &&
              s_env_add(env, &ne, 256, "LAMBDA_RUNTIME_DIR", rtdir) &&
              s_env_add(env, &ne, 256, "AWS_LAMBDA_FUNCTION_NAME", fn->name) &&
              s_env_add(env, &ne, 256, "AWS_LAMBDA_FUNCTION_VERSION", "$LATEST") &&
              s_env_add(env, &ne, 256, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", mem) &&
              s_env_add(env, &ne, 256, "AWS_LAMBDA_LOG_GROUP_NAME", lg) &&
              s_env_add(env, &ne, 256, "AWS_LAMBDA_LOG_STREAM_NAME", fn->stream) &&
              s_env_add(env, &ne, 256, "AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand") &&
              s_env_add(env, &ne, 256, "AWS_EXECUTION_ENV", execenv) &&
              s_env_add(env, &ne, 256, "AWS_REGION", L->env->region) &&
              s_env_add(env, &ne, 256, "AWS_DEFAULT_REGION", L->env->region) &&
              s_env_add(env, &ne, 256, "AWS_ENDPOINT_URL", L->env->public_url) &&
              s_env_add(env, &ne, 256, "TZ", ":UTC") &&
              s_env_add(env, &ne, 256, "LANG", "en_US.UTF-8") &&
              s_env_add(env, &ne, 256, "PATH",
                        path ? path : "/usr/local/bin:/usr/bin:/bin") &&
              s_env_add(env, &ne, 256, "PYTHONUNBUFFERED", "1") &&
              s_env_add(env, &ne, 256, "PYTHONDONTWRITEBYTECODE", "1");
    if (!ok)
        goto fail;
    if (getenv("HOME"))
        s_env_add(env, &ne, 256, "HOME", getenv("HOME"));
    p->creds_expire = s_role_credentials(L, fn, env, &ne, 256);

    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        s_child(parent, devnull, pfd[1], fn->code_dir, argv, env, plan); /* does not return */
    if (devnull >= 0)
        close(devnull);
    mg_free(plan);
    plan = NULL;
    for (size_t i = 0; i < ne; i++) {
        if (strncmp(env[i], "AWS_SECRET_ACCESS_KEY=", 22) == 0 ||
            strncmp(env[i], "AWS_SESSION_TOKEN=", 18) == 0)
            mg_memzero(env[i], strlen(env[i]));
        mg_free(env[i]);
    }
    ne = 0;
    close(pfd[1]);
    pfd[1] = -1;
    if (pid < 0) {
        close(pfd[0]);
        goto fail;
    }
    setpgid(pid, pid);
    p->pid = pid;
    p->out_fd = pfd[0];
    fcntl(p->out_fd, F_SETFL, fcntl(p->out_fd, F_GETFL) | O_NONBLOCK);
    p->state = P_STARTING;
    p->spawned_ns = mg_mono_ns();
    MG_LOG(MG_LOG_DEBUG, MG_SUB_LAMBDA, "function %s: started runtime process %d (port %u)",
           fn->arn, (int)pid, p->port);
    return p;
fail:
    for (size_t i = 0; i < ne; i++)
        mg_free(env[i]);
    mg_free(plan);
    if (p->boxed) {
        mg_lambda_box_kill(&p->box);
        mg_lambda_box_release(&p->box);
    }
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (p->lfd >= 0)
        close(p->lfd);
    mg_free(p);
    MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA, "function %s: cannot start a runtime process", fn->arn);
    return NULL;
}

/* --- the Runtime API (HTTP/1.1 subset) ------------------------------------------------------ */

static void s_respond(struct s_conn *c, int status, const char *reason,
                      const char *extra_headers, struct mg_slice body)
{
    if (mg_buf_printf(&c->out,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "%s%s\r\n",
                      status, reason, body.len, extra_headers ? extra_headers : "",
                      c->close_after ? "Connection: close\r\n" : "") ||
        mg_buf_append_slice(&c->out, body))
        c->close_after = true;
}

static void s_respond_json(struct s_conn *c, int status, const char *reason, const char *json)
{
    s_respond(c, status, reason, NULL, mg_slice_cstr(json));
}

static const char *s_reason(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}

/* A header value: printable ASCII only (no CR, LF or other control character). */
static bool s_header_safe(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e)
            return false;
    return true;
}

static void s_assign(struct mg_lambda *L, struct s_proc *p, struct s_conn *c,
                     struct mg_lambda_inv *inv)
{
    struct s_fn *fn = p->fn;
    p->inv = inv;
    p->state = P_BUSY;
    c->parked = false;
    inv->start_ns = mg_mono_ns();
    inv->deadline_ms = mg_now_ms() + (int64_t)fn->timeout_s * 1000;
    inv->init_phase = !p->initialized;
    p->initialized = true;
    char trace[96], hex[25];
    mg_random_chars(hex, 24, "0123456789abcdef");
    hex[24] = 0;
    snprintf(trace, sizeof(trace), "Root=1-%08llx-%s;Sampled=0",
             (unsigned long long)(mg_now() & 0xffffffffll), hex);
    struct mg_buf h;
    mg_buf_init(&h, 64 * 1024);
    /* every value below is ours or validated; checked again so that none can end a header */
    bool safe = s_header_safe(inv->request_id) && s_header_safe(fn->arn) && s_header_safe(trace) &&
                (inv->client_context == NULL || s_header_safe(inv->client_context));
    enum mg_err e = safe ? MG_E_OK : MG_E_INVALID;
    if (!safe)
        MG_LOG(MG_LOG_ERROR, MG_SUB_LAMBDA,
               "function %s: invocation %s: a Runtime API header value is not printable ASCII; "
               "the event goes without headers",
               fn->name, inv->request_id);
    if (!e)
        e = mg_buf_printf(&h,
                          "Lambda-Runtime-Aws-Request-Id: %s\r\n"
                          "Lambda-Runtime-Deadline-Ms: %lld\r\n"
                          "Lambda-Runtime-Invoked-Function-Arn: %s\r\n"
                          "Lambda-Runtime-Trace-Id: %s\r\n",
                          inv->request_id, (long long)inv->deadline_ms, fn->arn, trace);
    if (!e && inv->client_context)
        e = mg_buf_printf(&h, "Lambda-Runtime-Client-Context: %s\r\n", inv->client_context);
    const char *hs = e ? NULL : mg_buf_cstr(&h);
    s_respond(c, 200, "OK", hs, mg_buf_slice(&inv->payload));
    mg_buf_cleanup(&h);
    s_logf(fn, inv, "START RequestId: %s Version: $LATEST\n", inv->request_id);
    (void)L;
}

/* The error payload of /error and /init/error: the body when it is a JSON object with an
 * errorType, else one built from the Lambda-Runtime-Function-Error-Type header (hdr_type). */
static void s_error_payload(struct mg_lambda_inv *inv, struct mg_slice hdr_type,
                            struct mg_slice body)
{
    json_t *j = json_loadb((const char *)body.ptr, body.len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "errorType"));
    mg_buf_reset(&inv->result);
    if (json_is_object(j)) {
        if (mg_buf_append_slice(&inv->result, body))
            mg_buf_reset(&inv->result);
        snprintf(inv->error_type, sizeof(inv->error_type), "%s",
                 type ? type : hdr_type.len ? "" : "Unhandled");
        if (type == NULL && hdr_type.len)
            snprintf(inv->error_type, sizeof(inv->error_type), MG_SLICE_FMT,
                     MG_SLICE_ARG(hdr_type));
    } else {
        snprintf(inv->error_type, sizeof(inv->error_type), MG_SLICE_FMT,
                 MG_SLICE_ARG(hdr_type.len ? hdr_type : MG_SLICE_LIT("Unhandled")));
        if (mg_buf_append_cstr(&inv->result, "{\"errorMessage\":\"") ||
            mg_buf_append_json_str(&inv->result, body) ||
            mg_buf_append_cstr(&inv->result, "\",\"errorType\":\"") ||
            mg_buf_append_json_str(&inv->result, mg_slice_cstr(inv->error_type)) ||
            mg_buf_append_cstr(&inv->result, "\"}"))
            mg_buf_reset(&inv->result);
    }
    json_decref(j);
    inv->outcome = MG_LAMBDA_FUNCTION_ERROR;
}

static struct mg_lambda_inv *s_pop(struct s_fn *fn)
{
    struct mg_lambda_inv *inv = fn->q_head;
    if (inv) {
        fn->q_head = inv->next;
        if (fn->q_head == NULL)
            fn->q_tail = NULL;
        fn->q_len--;
        inv->next = NULL;
    }
    return inv;
}

/* Handles one complete request. */
static void s_handle_request(struct mg_lambda *L, struct s_proc *p, struct s_conn *c,
                             const struct mg_rtapi_request *req, struct s_done_list *d)
{
    (void)L;
    struct mg_slice method = req->method, path = req->path, body = req->body;
    static const char pre[] = "/2018-06-01/runtime/";
    if (!mg_slice_starts_with(path, pre)) {
        s_respond_json(c, 404, "Not Found", "{\"errorMessage\":\"not found\",\"errorType\":\"NotFound\"}");
        return;
    }
    struct mg_slice rest = mg_slice_sub(path, sizeof(pre) - 1, path.len);
    if (mg_slice_eq_cstr(rest, "invocation/next") && mg_slice_eq_cstr(method, "GET")) {
        c->parked = true;
        if (p->inv) {
            /* As Lambda does, a /next while an invocation is in flight waits for the next
             * event: the invocation in flight keeps running and may still be answered (or
             * time out); the process takes new work only once it has. */
            return;
        }
        if (!p->initialized)
            p->init_ms = (double)(mg_mono_ns() - p->spawned_ns) / 1e6;
        p->state = P_WAITING;
        p->idle_since_ms = mg_now_ms();
        return;
    }
    if (mg_slice_eq_cstr(rest, "init/error") && mg_slice_eq_cstr(method, "POST")) {
        struct mg_lambda_inv *inv = p->inv ? p->inv : s_pop(p->fn);
        if (inv) {
            if (inv->start_ns == 0) {
                inv->start_ns = mg_mono_ns();
                inv->init_phase = false;
                p->inv = inv;
                s_logf(p->fn, inv, "START RequestId: %s Version: $LATEST\n", inv->request_id);
            }
            s_error_payload(inv, req->error_type, body);
            s_finish(p, d, "\tStatus: error\tError Type: Runtime.InitError");
        }
        s_respond_json(c, 202, "Accepted", "{\"status\":\"OK\"}");
        p->retire = true;
        return;
    }
    static const char inv_pre[] = "invocation/";
    if (mg_slice_starts_with(rest, inv_pre) && mg_slice_eq_cstr(method, "POST")) {
        struct mg_slice tail = mg_slice_sub(rest, sizeof(inv_pre) - 1, rest.len);
        long slash = mg_slice_find(tail, '/');
        if (slash > 0) {
            struct mg_slice id = mg_slice_sub(tail, 0, (size_t)slash);
            struct mg_slice what = mg_slice_sub(tail, (size_t)slash + 1, tail.len);
            bool is_resp = mg_slice_eq_cstr(what, "response");
            bool is_err = mg_slice_eq_cstr(what, "error");
            if (is_resp || is_err) {
                if (p->inv == NULL || !mg_slice_eq_cstr(id, p->inv->request_id)) {
                    s_respond_json(c, 400, "Bad Request",
                                   "{\"errorMessage\":\"Invalid request ID\","
                                   "\"errorType\":\"InvalidRequestID\"}");
                    return;
                }
                struct mg_lambda_inv *inv = p->inv;
                const char *note = NULL;
                if (is_resp && body.len > MG_LAMBDA_PAYLOAD_MAX) {
                    char m[160];
                    snprintf(m, sizeof(m),
                             "Response payload size exceeded maximum allowed payload size (%u "
                             "bytes).",
                             MG_LAMBDA_PAYLOAD_MAX);
                    mg_buf_reset(&inv->result);
                    inv->outcome = MG_LAMBDA_FUNCTION_ERROR;
                    snprintf(inv->error_type, sizeof(inv->error_type),
                             "Function.ResponseSizeTooLarge");
                    if (mg_buf_printf(&inv->result,
                                      "{\"errorMessage\":\"%s\",\"errorType\":\"%s\"}", m,
                                      inv->error_type))
                        mg_buf_reset(&inv->result);
                    s_respond_json(c, 413, "Payload Too Large",
                                   "{\"errorMessage\":\"Payload too large\","
                                   "\"errorType\":\"RequestEntityTooLarge\"}");
                    note = "\tStatus: error\tError Type: Function.ResponseSizeTooLarge";
                } else if (is_resp) {
                    mg_buf_reset(&inv->result);
                    if (mg_buf_append_slice(&inv->result, body))
                        mg_buf_reset(&inv->result);
                    inv->outcome = MG_LAMBDA_OK;
                    s_respond_json(c, 202, "Accepted", "{\"status\":\"OK\"}");
                } else {
                    s_error_payload(inv, req->error_type, body);
                    s_respond_json(c, 202, "Accepted", "{\"status\":\"OK\"}");
                }
                s_finish(p, d, note);
                p->state = P_READY;
                for (int i = 0; i < S_MAX_CONNS; i++) {
                    if (p->conns[i].fd >= 0 && p->conns[i].parked) {
                        /* a /next that came while the invocation was in flight */
                        p->state = P_WAITING;
                        p->idle_since_ms = mg_now_ms();
                    }
                }
                return;
            }
        }
    }
    s_respond_json(c, 404, "Not Found",
                   "{\"errorMessage\":\"Unknown Runtime API path\",\"errorType\":\"NotFound\"}");
}

/* Parses and handles every complete request buffered on c. */
static void s_conn_process(struct mg_lambda *L, struct s_proc *p, struct s_conn *c,
                           struct s_done_list *d)
{
    /* after a refusal or a Connection: close, nothing more is read from the connection */
    while (c->fd >= 0 && !c->parked && !c->close_after && c->in.len) {
        struct mg_rtapi_request req;
        struct mg_buf body;
        mg_buf_init(&body, MG_RTAPI_BODY_MAX);
        enum mg_rtapi_status r = mg_lambda_rtapi_parse(mg_buf_slice(&c->in), &req, &body);
        if (r == MG_RTAPI_INCOMPLETE) {
            mg_buf_cleanup(&body);
            return;
        }
        if (r == MG_RTAPI_ERROR) {
            mg_buf_cleanup(&body);
            c->close_after = true;
            s_respond_json(c, req.status, s_reason(req.status), "{}");
            break;
        }
        if (req.close)
            c->close_after = true;
        s_handle_request(L, p, c, &req, d);
        mg_buf_cleanup(&body);
        /* drop the consumed request */
        mg_memmove(c->in.ptr, c->in.ptr + req.used, c->in.len - req.used);
        c->in.len -= req.used;
    }
    if (c->close_after)
        c->in.len = 0;
}

static void s_conn_read(struct mg_lambda *L, struct s_proc *p, struct s_conn *c,
                        struct s_done_list *d)
{
    for (;;) {
        if (mg_buf_reserve(&c->in, 65536) != MG_E_OK) {
            s_conn_close(c);
            return;
        }
        ssize_t r = read(c->fd, c->in.ptr + c->in.len, c->in.cap - c->in.len);
        if (r > 0) {
            c->in.len += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            s_conn_close(c);
            if (p->state == P_WAITING) {
                bool any = false;
                for (int i = 0; i < S_MAX_CONNS; i++)
                    any |= p->conns[i].parked;
                if (!any)
                    p->state = P_READY;
            }
            return;
        }
        break;
    }
    s_conn_process(L, p, c, d);
}

static void s_conn_write(struct s_conn *c)
{
    while (c->fd >= 0 && c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.ptr + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w <= 0) {
            s_conn_close(c);
            return;
        }
        c->out_off += (size_t)w;
    }
    if (c->fd >= 0 && c->out_off == c->out.len) {
        mg_buf_reset(&c->out);
        c->out_off = 0;
        if (c->close_after)
            s_conn_close(c);
    }
}

/* --- who is calling: the Runtime API answers only its own runtime --------------------------- *
 *
 * A listener on 127.0.0.1 is reachable by every local process (functions included: they share
 * the host's network). Every accepted connection is therefore traced to the process that holds
 * its other end: the kernel's socket table names the client socket's inode (sock_diag, or
 * /proc/net/tcp where netlink is not available), and that inode must be among the open files of
 * the runtime's own process tree (the shim and its descendants). Anything else is refused before
 * a byte of it is read. This needs no cooperation from the client, so every Runtime API client
 * works unchanged (our bootstraps, a provided.* bootstrap with curl, aws-lambda-ric). */

#define S_TREE_PROCS_MAX 256
#define S_TREE_FDS_MAX 65536

/* The client socket's inode from sock_diag (exact 4-tuple lookup); 0 when unknown. */
static unsigned long s_peer_inode_diag(const struct sockaddr_in *peer,
                                       const struct sockaddr_in *self)
{
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return 0;
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof(req));
    req.nlh.nlmsg_len = sizeof(req);
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST;
    req.r.sdiag_family = AF_INET;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = ~0u;
    /* the client's socket: its local end is our peer, its remote end is us */
    req.r.id.idiag_sport = peer->sin_port;
    req.r.id.idiag_dport = self->sin_port;
    req.r.id.idiag_src[0] = peer->sin_addr.s_addr;
    req.r.id.idiag_dst[0] = self->sin_addr.s_addr;
    req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    unsigned long inode = 0;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (sendto(nl, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) ==
        (ssize_t)sizeof(req)) {
        long buf[2048];
        ssize_t n = recv(nl, buf, sizeof(buf), 0);
        struct nlmsghdr *h = (struct nlmsghdr *)buf;
        if (n > 0 && NLMSG_OK(h, (size_t)n) && h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
            h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            if (m->id.idiag_sport == peer->sin_port && m->id.idiag_dport == self->sin_port &&
                m->id.idiag_src[0] == peer->sin_addr.s_addr &&
                m->id.idiag_dst[0] == self->sin_addr.s_addr)
                inode = m->idiag_inode;
        }
    }
    close(nl);
    return inode;
}

/* The same from /proc/net/tcp: "sl local rem st ... uid timeout inode", addresses as the kernel
 * prints them (%08X of the network-order word, %04X of the host-order port). */
static unsigned long s_peer_inode_proc(const struct sockaddr_in *peer,
                                       const struct sockaddr_in *self)
{
    FILE *f = fopen("/proc/net/tcp", "re");
    if (f == NULL)
        return 0;
    char want_local[32], want_rem[32], line[512];
    snprintf(want_local, sizeof(want_local), "%08X:%04X", (unsigned)peer->sin_addr.s_addr,
             (unsigned)ntohs(peer->sin_port));
    snprintf(want_rem, sizeof(want_rem), "%08X:%04X", (unsigned)self->sin_addr.s_addr,
             (unsigned)ntohs(self->sin_port));
    unsigned long inode = 0;
    while (inode == 0 && fgets(line, sizeof(line), f)) {
        char local[64], rem[64];
        unsigned long ino;
        if (sscanf(line, " %*s %63s %63s %*s %*s %*s %*s %*s %*s %lu", local, rem, &ino) == 3 &&
            strcmp(local, want_local) == 0 && strcmp(rem, want_rem) == 0)
            inode = ino;
    }
    fclose(f);
    return inode;
}

/* Adds the children of every thread of pid to the queue. */
static void s_tree_children(pid_t pid, pid_t *q, size_t *qn)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && *qn < S_TREE_PROCS_MAX) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char cp[160];
        snprintf(cp, sizeof(cp), "/proc/%d/task/%.16s/children", (int)pid, de->d_name);
        FILE *f = fopen(cp, "re");
        if (f == NULL)
            continue;
        int child;
        while (*qn < S_TREE_PROCS_MAX && fscanf(f, "%d", &child) == 1)
            if (child > 0)
                q[(*qn)++] = child;
        fclose(f);
    }
    closedir(d);
}

/* Whether a process of the tree rooted at root has socket:[inode] open. */
static bool s_tree_holds(pid_t root, unsigned long inode)
{
    pid_t q[S_TREE_PROCS_MAX];
    size_t qn = 0, fds = 0;
    q[qn++] = root;
    char want[48];
    int wl = snprintf(want, sizeof(want), "socket:[%lu]", inode);
    for (size_t i = 0; i < qn; i++) {
        char path[96];
        snprintf(path, sizeof(path), "/proc/%d/fd", (int)q[i]);
        DIR *d = opendir(path);
        if (d) {
            int dfd = dirfd(d);
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                    continue;
                if (++fds > S_TREE_FDS_MAX) {
                    closedir(d);
                    return false;
                }
                char target[64];
                ssize_t n = readlinkat(dfd, de->d_name, target, sizeof(target));
                if (n > 0 && mg_slice_eq(mg_slice_make(target, (size_t)n),
                                         mg_slice_make(want, (size_t)wl))) {
                    closedir(d);
                    return true;
                }
            }
            closedir(d);
        }
        s_tree_children(q[i], q, &qn);
    }
    return false;
}

/* Whether the connection fd comes from a process of p's runtime. */
static bool s_conn_is_runtime(const struct s_proc *p, int fd)
{
    struct sockaddr_in peer, self;
    socklen_t pl = sizeof(peer), sl = sizeof(self);
    if (p->pid <= 0 || p->reaped || getpeername(fd, (struct sockaddr *)&peer, &pl) != 0 ||
        getsockname(fd, (struct sockaddr *)&self, &sl) != 0 || peer.sin_family != AF_INET ||
        self.sin_family != AF_INET)
        return false;
    unsigned long inode = s_peer_inode_diag(&peer, &self);
    if (inode == 0)
        inode = s_peer_inode_proc(&peer, &self);
    return inode != 0 && s_tree_holds(p->pid, inode);
}

/* Answers a foreign connection 403 and closes it; nothing it sent is read as a request. */
static void s_refuse(struct s_proc *p, int fd)
{
    static const char body[] = "{\"errorMessage\":\"This Runtime API endpoint serves only its own "
                               "runtime process.\",\"errorType\":\"AccessDeniedException\"}";
    char resp[512];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof(body) - 1, body);
    if (n > 0 && send(fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* the connection is closed below either way */
    }
    shutdown(fd, SHUT_WR);
    /* read what already arrived, so that closing does not reset the answer away */
    char sink[4096];
    for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++) {
    }
    close(fd);
    if (!p->refused_logged) {
        p->refused_logged = true;
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
               "function %s: refused a Runtime API connection from a process that is not its "
               "runtime (further ones of this process are not logged)",
               p->fn->arn);
    }
}

static void s_accept(struct s_proc *p)
{
    for (int accepted = 0; accepted < 64; accepted++) {
        int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (!s_conn_is_runtime(p, fd)) {
            s_refuse(p, fd);
            continue;
        }
        int slot = -1;
        for (int i = 0; i < S_MAX_CONNS; i++)
            if (p->conns[i].fd < 0) {
                slot = i;
                break;
            }
        if (slot < 0) {
            close(fd);
            continue;
        }
        struct s_conn *c = &p->conns[slot];
        memset(c, 0, sizeof(*c));
        c->fd = fd;
        mg_buf_init(&c->in, S_CONN_IN_MAX);
        mg_buf_init(&c->out, S_CONN_IN_MAX + 64u * 1024u);
    }
}

/* --- functions ------------------------------------------------------------------------------ */

static void s_fn_key(const char *account, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s\x1f%s", account, name);
}

static struct s_fn *s_fn_get(struct mg_lambda *L, const char *account, const char *name,
                             bool create)
{
    char key[96];
    s_fn_key(account, name, key, sizeof(key));
    struct s_fn *fn = mg_map_get(&L->fns, mg_slice_cstr(key));
    if (fn || !create)
        return fn;
    fn = mg_calloc(1, sizeof(*fn));
    if (fn == NULL)
        return NULL;
    if (L->n_fns == L->cap_fns) {
        size_t nc = L->cap_fns ? L->cap_fns * 2 : 16;
        struct s_fn **nl = mg_realloc(L->fn_list, nc * sizeof(*nl));
        if (nl == NULL) {
            mg_free(fn);
            return NULL;
        }
        L->fn_list = nl;
        L->cap_fns = nc;
    }
    if (mg_lambda_ring_init(&fn->log, S_FN_LOG_BYTES) != MG_E_OK ||
        mg_map_put(&L->fns, mg_slice_cstr(key), fn) != MG_E_OK) {
        mg_lambda_ring_cleanup(&fn->log);
        mg_free(fn);
        return NULL;
    }
    mg_lambda_strlcpy(fn->account, sizeof(fn->account), account);
    mg_lambda_strlcpy(fn->name, sizeof(fn->name), name);
    L->fn_list[L->n_fns++] = fn;
    return fn;
}

/* Retires processes of older revisions: idle ones now, busy ones after their invocation. */
static void s_fn_retire_all(struct s_fn *fn)
{
    for (size_t i = 0; i < fn->n_procs; i++) {
        struct s_proc *p = fn->procs[i];
        p->retire = true;
        if (p->state != P_BUSY)
            s_kill(p);
    }
}

/* Brings fn's configuration up to date with the snapshot; false when the function is gone. */
static bool s_fn_refresh(struct mg_lambda *L, struct s_fn *fn, const json_t *doc)
{
    const char *rev = json_string_value(json_object_get(doc, "RevisionId"));
    if (rev == NULL)
        return false;
    if (strcmp(rev, fn->rev) == 0 && fn->conf)
        return true;
    s_fn_retire_all(fn);
    json_decref(fn->conf);
    fn->conf = json_deep_copy(doc);
    if (fn->conf == NULL)
        return false;
    mg_lambda_strlcpy(fn->rev, sizeof(fn->rev), rev);
    const char *runtime = json_string_value(json_object_get(doc, "Runtime"));
    if (runtime == NULL || !mg_lambda_runtime_known(runtime, &fn->kind))
        fn->kind = MG_RT_PROVIDED;
    const char *h = json_string_value(json_object_get(doc, "Handler"));
    mg_lambda_strlcpy(fn->handler, sizeof(fn->handler), h ? h : "");
    fn->timeout_s = (int)json_integer_value(json_object_get(doc, "Timeout"));
    if (fn->timeout_s <= 0)
        fn->timeout_s = 3;
    fn->memory = (int)json_integer_value(json_object_get(doc, "MemorySize"));
    if (fn->memory <= 0)
        fn->memory = 128;
    mg_lambda_function_arn(L->env->region, fn->account, fn->name, fn->arn, sizeof(fn->arn));
    char day[21], hex[33];
    mg_time_iso8601(mg_now(), day);
    mg_random_chars(hex, 32, "0123456789abcdef");
    hex[32] = 0;
    snprintf(fn->stream, sizeof(fn->stream), "%.4s/%.2s/%.2s/[$LATEST]%s", day, day + 5, day + 8,
             hex);
    return true;
}

static bool s_push_job(struct mg_lambda *L, const char *account, const char *name,
                       const char *sha_b64);
static void s_sweep(struct mg_lambda *L, const char *account, const char *name);

static void s_fn_remove_dead(struct mg_lambda *L, struct s_fn *fn)
{
    size_t o = 0;
    char cur[65] = "";
    if (!mg_lambda_sha_hex(json_string_value(json_object_get(fn->conf, "CodeSha256")), cur))
        cur[0] = 0;
    for (size_t i = 0; i < fn->n_procs; i++) {
        struct s_proc *p = fn->procs[i];
        /* a sandbox's cgroups go once the last of its processes is gone */
        if (p->state == P_DEAD && p->reaped && p->out_fd < 0 && p->inv == NULL &&
            (!p->boxed || mg_lambda_box_release(&p->box))) {
            /* the last user of an older code version may be gone: sweep it */
            if (strcmp(p->code_hex, cur) != 0)
                s_push_job(L, fn->account, fn->name, "");
            s_proc_free(p);
            continue;
        }
        fn->procs[o++] = p;
    }
    fn->n_procs = o;
}

static bool s_fn_add_proc(struct s_fn *fn, struct s_proc *p)
{
    if (fn->n_procs == fn->cap_procs) {
        size_t nc = fn->cap_procs ? fn->cap_procs * 2 : 8;
        struct s_proc **np = mg_realloc(fn->procs, nc * sizeof(*np));
        if (np == NULL)
            return false;
        fn->procs = np;
        fn->cap_procs = nc;
    }
    fn->procs[fn->n_procs++] = p;
    return true;
}

/* --- the manager loop ---------------------------------------------------------------------- */

static void s_route_new(struct mg_lambda *L, struct s_done_list *d)
{
    if (L->new_head == NULL)
        return;
    struct mg_snapshot *snap = mg_state_acquire(L->env->state);
    while (L->new_head) {
        struct mg_lambda_inv *inv = L->new_head;
        L->new_head = inv->next;
        inv->next = NULL;
        L->n_new--;
        const struct mg_snapshot_doc *doc = mg_snapshot_get(snap, "function", inv->account,
                                                            inv->name);
        char arn[256];
        mg_lambda_function_arn(L->env->region, inv->account, inv->name, arn, sizeof(arn));
        if (doc == NULL) {
            char m[320];
            snprintf(m, sizeof(m), "Function not found: %s", arn);
            s_fail_inv(d, inv, MG_LAMBDA_NOT_FOUND, "ResourceNotFoundException", m);
            continue;
        }
        if (!mg_lambda_sandbox_admits(&L->sandbox, inv->account)) {
            /* no sandbox on this host: one account's functions only */
            s_fail_inv(d, inv, MG_LAMBDA_INTERNAL, "ServiceException",
                       "This server cannot isolate functions of different accounts: it runs "
                       "one account's functions only (see --lambda-isolation).");
            continue;
        }
        struct s_fn *fn = s_fn_get(L, inv->account, inv->name, true);
        if (fn == NULL || !s_fn_refresh(L, fn, doc->doc)) {
            s_fail_inv(d, inv, MG_LAMBDA_INTERNAL, "ServiceException", "out of memory");
            continue;
        }
        /* Invocations that a process can take now, or once started within the concurrency
         * limit, are not "waiting": only the ones beyond go against the queue. */
        size_t busy = 0;
        for (size_t i = 0; i < fn->n_procs; i++)
            if (fn->procs[i]->state == P_BUSY)
                busy++;
        size_t room = (size_t)L->concurrency > busy ? (size_t)L->concurrency - busy : 0;
        if (fn->q_len >= (size_t)L->queue_max + room) {
            s_fail_inv(d, inv, MG_LAMBDA_THROTTLED, "TooManyRequestsException", "Rate Exceeded.");
            continue;
        }
        if (fn->q_tail)
            fn->q_tail->next = inv;
        else
            fn->q_head = inv;
        fn->q_tail = inv;
        fn->q_len++;
    }
    L->new_tail = NULL;
    mg_snapshot_unref(snap);
}

static void s_schedule(struct mg_lambda *L, struct s_fn *fn)
{
    /* hand queued invocations to waiting processes */
    for (size_t i = 0; i < fn->n_procs && fn->q_head; i++) {
        struct s_proc *p = fn->procs[i];
        if (p->state != P_WAITING || p->retire || strcmp(p->rev, fn->rev) != 0)
            continue;
        for (int k = 0; k < S_MAX_CONNS; k++) {
            if (p->conns[k].fd >= 0 && p->conns[k].parked) {
                s_assign(L, p, &p->conns[k], s_pop(fn));
                s_conn_write(&p->conns[k]);
                break;
            }
        }
    }
    if (fn->q_len == 0)
        return;
    /* start processes for the rest, within the concurrency limit */
    size_t live = 0, coming = 0;
    for (size_t i = 0; i < fn->n_procs; i++) {
        struct s_proc *p = fn->procs[i];
        if (p->state == P_DEAD)
            continue;
        live++;
        if (!p->retire && strcmp(p->rev, fn->rev) == 0 && p->state != P_BUSY)
            coming++;
    }
    while (coming < fn->q_len && live < (size_t)L->concurrency) {
        struct s_proc *p = s_spawn(L, fn);
        if (p == NULL || !s_fn_add_proc(fn, p)) {
            if (p)
                s_proc_free(p);
            break;
        }
        live++;
        coming++;
    }
}

/* Process exits, timeouts, idle reaping. */
static void s_housekeeping(struct mg_lambda *L, struct s_fn *fn, struct s_done_list *d)
{
    int64_t now = mg_now_ms();
    for (size_t i = 0; i < fn->n_procs; i++) {
        struct s_proc *p = fn->procs[i];
        if (!p->reaped && p->pid > 0) {
            int st;
            pid_t r = waitpid(p->pid, &st, WNOHANG);
            if (r == p->pid || (r < 0 && errno == ECHILD)) {
                p->reaped = true;
                p->status = r == p->pid ? st : 0;
                kill(-p->pid, SIGKILL); /* anything it left behind */
            }
        }
        if (p->reaped && p->state != P_DEAD) {
            s_drain_output(p);
            char m[1400], why[64], missing[1100] = "";
            if (WIFSIGNALED(p->status))
                snprintf(why, sizeof(why), "signal: %s",
                         WTERMSIG(p->status) == SIGKILL ? "killed" : strsignal(WTERMSIG(p->status)));
            else
                snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(p->status));
            /* a runtime that could not start: say which file it lacks */
            if (!p->initialized && mg_lambda_runtime_missing(L, fn->kind, missing, sizeof(missing)))
                MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA, "function %s: cannot start the runtime: %s is "
                       "missing (see --runtimes-dir)", fn->arn, missing);
            struct mg_lambda_inv *inv = p->inv;
            if (inv == NULL && !p->initialized && !p->retire && fn->q_head) {
                /* died during init with work waiting: that work gets the error */
                inv = s_pop(fn);
                inv->start_ns = mg_mono_ns();
                p->inv = inv;
                s_logf(fn, inv, "START RequestId: %s Version: $LATEST\n", inv->request_id);
            }
            if (inv) {
                snprintf(m, sizeof(m), "RequestId: %s Error: Runtime exited with error: %s%s%s%s",
                         inv->request_id, why,
                         missing[0] ? " (cannot start the runtime: " : "", missing,
                         missing[0] ? " is missing; see --runtimes-dir)" : "");
                s_logf(fn, inv, "%s\nRuntime.ExitError\n", m);
                s_set_error(inv, MG_LAMBDA_FUNCTION_ERROR, "Runtime.ExitError", m);
                s_finish(p, d, "\tStatus: error\tError Type: Runtime.ExitError");
            }
            s_kill(p);
            continue;
        }
        if (p->state == P_BUSY && p->inv && now >= p->inv->deadline_ms) {
            struct mg_lambda_inv *inv = p->inv;
            char m[200], ts[25];
            mg_time_iso8601_ms(now, ts);
            snprintf(m, sizeof(m), "RequestId: %s Error: Task timed out after %d.00 seconds",
                     inv->request_id, fn->timeout_s);
            s_drain_output(p);
            s_logf(fn, inv, "%s %s Task timed out after %d.00 seconds\n", ts, inv->request_id,
                   fn->timeout_s);
            inv->outcome = MG_LAMBDA_TIMEOUT;
            snprintf(inv->error_type, sizeof(inv->error_type), "Sandbox.Timedout");
            mg_buf_reset(&inv->result);
            if (mg_buf_printf(&inv->result,
                              "{\"errorType\":\"Sandbox.Timedout\",\"errorMessage\":\"%s\"}", m))
                mg_buf_reset(&inv->result);
            s_finish(p, d, "\tStatus: timeout");
            s_kill(p);
            continue;
        }
        if (p->state == P_STARTING && !p->initialized &&
            (int64_t)((mg_mono_ns() - p->spawned_ns) / 1000000) > S_INIT_TIMEOUT_MS + fn->timeout_s * 1000) {
            s_kill(p);
            continue;
        }
        /* A process whose role credentials end within five minutes takes no more work: the
         * next invocation starts a process with fresh ones. */
        if (p->creds_expire && mg_now() > p->creds_expire - 300)
            p->retire = true;
        if ((p->state == P_WAITING || p->state == P_READY) &&
            (p->retire || strcmp(p->rev, fn->rev) != 0 ||
             (now - p->idle_since_ms > L->idle_ms && p->state == P_WAITING))) {
            s_kill(p);
            continue;
        }
    }
    s_fn_remove_dead(L, fn);
}

static void *s_manager_main(void *arg)
{
    struct mg_lambda *L = arg;
    struct pollfd *pfds = NULL;
    size_t cap_pfds = 0;
    struct s_done_list d = {0};
    pthread_mutex_lock(&L->mu);
    while (!L->stopping) {
        /* deleted functions' code, without the lock: a tree can be large */
        while (L->n_trash) {
            char *path = L->trash[--L->n_trash];
            pthread_mutex_unlock(&L->mu);
            nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
            mg_free(path);
            pthread_mutex_lock(&L->mu);
        }
        /* activation jobs run without the lock: unzipping can take a while */
        while (L->n_jobs) {
            struct s_job job = L->jobs[--L->n_jobs];
            if (job.sha[0] == 0) {
                s_sweep(L, job.account, job.name);
                continue;
            }
            pthread_mutex_unlock(&L->mu);
            char dir[1200];
            enum mg_err e = s_ensure_code(L, job.account, job.name, job.sha, dir, sizeof(dir));
            /* flip the state in the store */
            if (mg_state_write_begin(L->env->state) == MG_E_OK) {
                struct mg_buf b;
                mg_buf_init(&b, MG_STORE_DOC_MAX);
                json_t *doc = NULL;
                if (mg_store_get(L->env->store, "function", job.account, job.name, &b) == MG_E_OK)
                    doc = json_loadb((const char *)b.ptr, b.len, 0, NULL);
                const char *sha = json_string_value(json_object_get(doc, "CodeSha256"));
                bool ok = false;
                if (sha && strcmp(sha, job.sha) == 0) {
                    bool set = true;
                    if (e) {
                        const char *state = json_string_value(json_object_get(doc, "State"));
                        bool pending = state && strcmp(state, "Pending") == 0;
                        const char *reason = "Could not unzip uploaded file.";
                        set = !json_object_set_new(doc, "State",
                                                   json_string(pending ? "Failed" : "Active")) &&
                              !json_object_set_new(doc, "LastUpdateStatus",
                                                   json_string("Failed")) &&
                              !json_object_set_new(doc, "StateReason", json_string(reason)) &&
                              !json_object_set_new(doc, "StateReasonCode",
                                                   json_string("InvalidZipFileException"));
                    } else {
                        set = !json_object_set_new(doc, "State", json_string("Active")) &&
                              !json_object_set_new(doc, "LastUpdateStatus",
                                                   json_string("Successful"));
                        json_object_del(doc, "StateReason");
                        json_object_del(doc, "StateReasonCode");
                        json_object_del(doc, "LastUpdateStatusReason");
                        json_object_del(doc, "LastUpdateStatusReasonCode");
                    }
                    char *text = set ? json_dumps(doc, JSON_COMPACT) : NULL;
                    ok = text && mg_store_put(L->env->store, "function", job.account, job.name,
                                              mg_slice_cstr(text)) == MG_E_OK;
                    mg_free(text);
                }
                json_decref(doc);
                mg_buf_cleanup(&b);
                struct mg_errinfo ei = {0};
                if (ok) {
                    if (mg_state_write_commit(L->env->state, &ei) != MG_E_OK)
                        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA, "function state update: %s", ei.msg);
                } else {
                    mg_state_write_abort(L->env->state);
                }
            }
            pthread_mutex_lock(&L->mu);
            /* idle processes of the previous code stop now (busy ones after their invocation),
             * so that its files can go without waiting for the next invocation */
            struct s_fn *jfn = s_fn_get(L, job.account, job.name, false);
            if (jfn && jfn->conf) {
                struct mg_snapshot *snap = mg_state_acquire(L->env->state);
                const struct mg_snapshot_doc *jd = mg_snapshot_get(snap, "function", job.account,
                                                                   job.name);
                if (jd)
                    (void)s_fn_refresh(L, jfn, jd->doc);
                mg_snapshot_unref(snap);
            }
            s_sweep(L, job.account, job.name);
        }
        s_route_new(L, &d);
        int64_t now = mg_now_ms();
        int timeout = 250;
        size_t n = 1;
        for (size_t f = 0; f < L->n_fns; f++) {
            struct s_fn *fn = L->fn_list[f];
            s_housekeeping(L, fn, &d);
            s_schedule(L, fn);
            n += fn->n_procs * (2 + S_MAX_CONNS);
        }
        if (n > cap_pfds) {
            struct pollfd *np = mg_realloc(pfds, n * 2 * sizeof(*np));
            if (np == NULL) {
                pthread_mutex_unlock(&L->mu);
                usleep(10000);
                pthread_mutex_lock(&L->mu);
                continue;
            }
            pfds = np;
            cap_pfds = n * 2;
        }
        size_t k = 0;
        pfds[k++] = (struct pollfd){.fd = L->wake_fd, .events = POLLIN};
        for (size_t f = 0; f < L->n_fns; f++) {
            struct s_fn *fn = L->fn_list[f];
            for (size_t i = 0; i < fn->n_procs; i++) {
                struct s_proc *p = fn->procs[i];
                pfds[k++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
                pfds[k++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
                for (int c = 0; c < S_MAX_CONNS; c++) {
                    struct s_conn *cn = &p->conns[c];
                    short ev = POLLIN;
                    if (cn->out.len > cn->out_off)
                        ev |= POLLOUT;
                    pfds[k++] = (struct pollfd){.fd = cn->fd, .events = ev};
                }
                if (p->inv && p->inv->deadline_ms - now < timeout)
                    timeout = p->inv->deadline_ms - now < 0 ? 0 : (int)(p->inv->deadline_ms - now);
                if (!p->reaped && p->state == P_DEAD && timeout > 20)
                    timeout = 20;
            }
        }
        pthread_mutex_unlock(&L->mu);
        s_report(L, &d);
        int pr = poll(pfds, k, timeout);
        pthread_mutex_lock(&L->mu);
        if (pr < 0)
            continue;
        if (pfds[0].revents & POLLIN) {
            uint64_t v;
            if (read(L->wake_fd, &v, sizeof(v)) < 0) {
                /* spurious */
            }
        }
        /* the process set cannot change between unlock and here (only this thread changes it) */
        k = 1;
        for (size_t f = 0; f < L->n_fns; f++) {
            struct s_fn *fn = L->fn_list[f];
            for (size_t i = 0; i < fn->n_procs; i++) {
                struct s_proc *p = fn->procs[i];
                short out_ev = pfds[k++].revents, l_ev = pfds[k++].revents;
                if (out_ev)
                    s_drain_output(p);
                if (l_ev && p->lfd >= 0)
                    s_accept(p);
                for (int c = 0; c < S_MAX_CONNS; c++) {
                    short ev = pfds[k++].revents;
                    struct s_conn *cn = &p->conns[c];
                    if (cn->fd < 0)
                        continue;
                    if (ev & (POLLIN | POLLHUP | POLLERR))
                        s_conn_read(L, p, cn, &d);
                    if (cn->fd >= 0 && cn->out.len > cn->out_off)
                        s_conn_write(cn);
                }
                if (l_ev && p->lfd >= 0) {
                    /* new connections may already carry a request */
                    for (int c = 0; c < S_MAX_CONNS; c++)
                        if (p->conns[c].fd >= 0)
                            s_conn_read(L, p, &p->conns[c], &d);
                }
            }
        }
    }
    /* stopping: kill everything, fail what is left */
    for (size_t f = 0; f < L->n_fns; f++) {
        struct s_fn *fn = L->fn_list[f];
        for (size_t i = 0; i < fn->n_procs; i++) {
            struct s_proc *p = fn->procs[i];
            if (p->inv) {
                s_fail_inv(&d, p->inv, MG_LAMBDA_INTERNAL, "ServiceException",
                           "The server is stopping.");
                p->inv = NULL;
            }
            s_kill(p);
            if (!p->reaped && p->pid > 0)
                waitpid(p->pid, NULL, 0);
            p->reaped = true;
        }
        struct mg_lambda_inv *inv;
        while ((inv = s_pop(fn)) != NULL)
            s_fail_inv(&d, inv, MG_LAMBDA_INTERNAL, "ServiceException", "The server is stopping.");
    }
    while (L->new_head) {
        struct mg_lambda_inv *inv = L->new_head;
        L->new_head = inv->next;
        s_fail_inv(&d, inv, MG_LAMBDA_INTERNAL, "ServiceException", "The server is stopping.");
    }
    L->new_tail = NULL;
    pthread_mutex_unlock(&L->mu);
    s_report(L, &d);
    mg_free(pfds);
    return NULL;
}

static void s_wake(struct mg_lambda *L)
{
    uint64_t one = 1;
    if (write(L->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is saturated: the manager is awake anyway */
    }
}

void mg_lambda_submit(struct mg_lambda *L, struct mg_lambda_inv *inv)
{
    pthread_mutex_lock(&L->mu);
    inv->next = NULL;
    if (L->new_tail)
        L->new_tail->next = inv;
    else
        L->new_head = inv;
    L->new_tail = inv;
    L->n_new++;
    pthread_mutex_unlock(&L->mu);
    s_wake(L);
}

/* Queues a job under L->mu: activation of sha_b64 (then a sweep), or a sweep alone (sha ""). A
 * sweep already queued for the function is not queued twice. */
static bool s_push_job(struct mg_lambda *L, const char *account, const char *name,
                       const char *sha_b64)
{
    for (size_t i = 0; sha_b64[0] == 0 && i < L->n_jobs; i++)
        if (strcmp(L->jobs[i].account, account) == 0 && strcmp(L->jobs[i].name, name) == 0)
            return true;
    if (L->n_jobs == L->cap_jobs) {
        size_t nc = L->cap_jobs ? L->cap_jobs * 2 : 16;
        struct s_job *nj = mg_realloc(L->jobs, nc * sizeof(*nj));
        if (nj == NULL)
            return false;
        L->jobs = nj;
        L->cap_jobs = nc;
    }
    struct s_job *j = &L->jobs[L->n_jobs++];
    mg_lambda_strlcpy(j->account, sizeof(j->account), account);
    mg_lambda_strlcpy(j->name, sizeof(j->name), name);
    mg_lambda_strlcpy(j->sha, sizeof(j->sha), sha_b64);
    return true;
}

void mg_lambda_queue_activation(struct mg_lambda *L, const char *account, const char *name,
                                const char *sha_b64)
{
    pthread_mutex_lock(&L->mu);
    s_push_job(L, account, name, sha_b64 ? sha_b64 : "");
    pthread_mutex_unlock(&L->mu);
    s_wake(L);
}

void mg_lambda_queue_sweep(struct mg_lambda *L, const char *account, const char *name)
{
    pthread_mutex_lock(&L->mu);
    s_push_job(L, account, name, "");
    pthread_mutex_unlock(&L->mu);
    s_wake(L);
}

static bool s_code_mark(struct mg_lambda *L, const char *account, const char *name,
                        const char *hex, bool add)
{
    char key[150];
    snprintf(key, sizeof(key), "%s/%s/%s", account, name, hex);
    bool ok = true;
    pthread_mutex_lock(&L->mu);
    size_t i = 0;
    while (i < L->n_pending && strcmp(L->pending[i].key, key) != 0)
        i++;
    if (add) {
        if (i == L->n_pending && L->n_pending == L->cap_pending) {
            size_t nc = L->cap_pending ? L->cap_pending * 2 : 8;
            struct s_pending_code *np = mg_realloc(L->pending, nc * sizeof(*np));
            if (np == NULL) {
                ok = false;
            } else {
                L->pending = np;
                L->cap_pending = nc;
            }
        }
        if (ok && i == L->n_pending) {
            mg_lambda_strlcpy(L->pending[i].key, sizeof(L->pending[i].key), key);
            L->pending[i].n = 0;
            L->n_pending++;
        }
        if (ok)
            L->pending[i].n++;
    } else if (i < L->n_pending && --L->pending[i].n == 0) {
        L->pending[i] = L->pending[--L->n_pending];
    }
    pthread_mutex_unlock(&L->mu);
    return ok;
}

bool mg_lambda_code_pending(struct mg_lambda *L, const char *account, const char *name,
                            const char *hex)
{
    return s_code_mark(L, account, name, hex, true);
}

void mg_lambda_code_stored(struct mg_lambda *L, const char *account, const char *name,
                           const char *hex)
{
    s_code_mark(L, account, name, hex, false);
}

/* Whether name (an entry of a code directory) belongs to one of the versions in keep. */
static bool s_kept(const char *name, char (*keep)[65], size_t n_keep)
{
    for (size_t i = 0; i < n_keep; i++)
        if (keep[i][0] && strncmp(name, keep[i], 64) == 0)
            return true;
    return false;
}

/* Removes the code versions of a function that nothing uses: not its configuration, not a
 * runtime process, not a store in progress. Called on the manager thread with L->mu held; the
 * removal itself runs without it. */
static void s_sweep(struct mg_lambda *L, const char *account, const char *name)
{
    enum { KEEP_MAX = 64 };
    char keep[KEEP_MAX][65];
    size_t n_keep = 0;
    bool overflow = false;
    /* first what is pending (a store commits before it stops being pending) ... */
    char prefix[96];
    int pl = snprintf(prefix, sizeof(prefix), "%s/%s/", account, name);
    for (size_t i = 0; i < L->n_pending; i++) {
        if (strncmp(L->pending[i].key, prefix, (size_t)pl) != 0)
            continue;
        if (n_keep == KEEP_MAX)
            overflow = true;
        else
            mg_lambda_strlcpy(keep[n_keep++], 65, L->pending[i].key + pl);
    }
    struct s_fn *fn = s_fn_get(L, account, name, false);
    for (size_t i = 0; fn && i < fn->n_procs; i++) {
        if (n_keep == KEEP_MAX)
            overflow = true;
        else
            mg_lambda_strlcpy(keep[n_keep++], 65, fn->procs[i]->code_hex);
    }
    if (overflow)
        return; /* keep everything: a later sweep removes what is left */
    pthread_mutex_unlock(&L->mu);
    /* ... then the configuration, which a store that was pending above has committed to */
    struct mg_snapshot *snap = mg_state_acquire(L->env->state);
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, "function", account, name);
    char cur[65] = "";
    if (d && mg_lambda_sha_hex(json_string_value(json_object_get(d->doc, "CodeSha256")), cur) &&
        n_keep < KEEP_MAX)
        mg_lambda_strlcpy(keep[n_keep++], 65, cur);
    mg_snapshot_unref(snap);
    char dir[1024];
    mg_lambda_code_dir(L->env->data_dir, account, name, dir, sizeof(dir));
    DIR *dh = opendir(dir);
    struct dirent *de;
    while (dh && (de = readdir(dh)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        /* <hex>.zip, <hex>.zip.tmp, <hex>/, and .tmp-* (an unpacking this thread left) */
        if (de->d_name[0] != '.' && s_kept(de->d_name, keep, n_keep))
            continue;
        char path[1400];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (dh)
        closedir(dh);
    pthread_mutex_lock(&L->mu);
}

void mg_lambda_queue_removal(struct mg_lambda *L, const char *path)
{
    char *copy = mg_strdup(path);
    if (copy == NULL)
        return;
    pthread_mutex_lock(&L->mu);
    if (L->n_trash == L->cap_trash) {
        size_t cap = L->cap_trash ? L->cap_trash * 2 : 8;
        char **t = mg_realloc(L->trash, cap * sizeof(*t));
        if (t == NULL) {
            pthread_mutex_unlock(&L->mu);
            mg_free(copy);
            return;
        }
        L->trash = t;
        L->cap_trash = cap;
    }
    L->trash[L->n_trash++] = copy;
    pthread_mutex_unlock(&L->mu);
    s_wake(L);
}

void mg_lambda_forget(struct mg_lambda *L, const char *account, const char *name)
{
    pthread_mutex_lock(&L->mu);
    struct s_fn *fn = s_fn_get(L, account, name, false);
    if (fn) {
        s_fn_retire_all(fn);
        fn->rev[0] = 0;
        /* queued work goes back to routing, which finds the function gone (the manager reports
         * it: callbacks never run on the caller's thread) */
        struct mg_lambda_inv *inv;
        while ((inv = s_pop(fn)) != NULL) {
            inv->next = NULL;
            if (L->new_tail)
                L->new_tail->next = inv;
            else
                L->new_head = inv;
            L->new_tail = inv;
            L->n_new++;
        }
    }
    pthread_mutex_unlock(&L->mu);
    s_wake(L);
}

enum mg_err mg_lambda_recent_log(struct mg_lambda *L, const char *account, const char *name,
                                 size_t n, struct mg_buf *out)
{
    pthread_mutex_lock(&L->mu);
    struct s_fn *fn = s_fn_get(L, account, name, false);
    enum mg_err e = fn ? mg_lambda_ring_tail(&fn->log, n, out) : MG_E_NOT_FOUND;
    pthread_mutex_unlock(&L->mu);
    return e;
}

enum mg_err mg_lambda_manager_start(struct mg_lambda *L, struct mg_errinfo *ei)
{
    L->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (L->wake_fd < 0)
        return mg_errinfo_set(ei, MG_E_INTERNAL, "lambda: cannot create an eventfd");
    if (pthread_create(&L->thread, NULL, s_manager_main, L) != 0)
        return mg_errinfo_set(ei, MG_E_INTERNAL, "lambda: cannot start the manager thread");
    L->thread_started = true;
    return MG_E_OK;
}

void mg_lambda_manager_stop(struct mg_lambda *L)
{
    if (L->thread_started) {
        pthread_mutex_lock(&L->mu);
        L->stopping = true;
        pthread_mutex_unlock(&L->mu);
        s_wake(L);
        pthread_join(L->thread, NULL);
        L->thread_started = false;
    }
    for (size_t f = 0; f < L->n_fns; f++) {
        struct s_fn *fn = L->fn_list[f];
        for (size_t i = 0; i < fn->n_procs; i++)
            s_proc_free(fn->procs[i]);
        mg_free(fn->procs);
        json_decref(fn->conf);
        mg_lambda_ring_cleanup(&fn->log);
        mg_free(fn);
    }
    mg_free(L->fn_list);
    L->fn_list = NULL;
    L->n_fns = 0;
    mg_map_cleanup(&L->fns);
    mg_free(L->jobs);
    L->jobs = NULL;
    mg_free(L->pending);
    L->pending = NULL;
    L->n_pending = L->cap_pending = 0;
    /* trees not removed before the stop: remove them now, the loops are gone */
    for (size_t i = 0; i < L->n_trash; i++) {
        nftw(L->trash[i], s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
        mg_free(L->trash[i]);
    }
    mg_free(L->trash);
    L->trash = NULL;
    L->n_trash = L->cap_trash = 0;
    if (L->wake_fd >= 0)
        close(L->wake_fd);
    L->wake_fd = -1;
}
