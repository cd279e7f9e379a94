/* Runtime processes: spawning one (its environment, its role credentials, its Runtime API
 * listener, its sandbox), the shim that outlives no server, killing and freeing it, and reading
 * its output into the logs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "lambda/runtime.h"

/* --- output and the REPORT line ------------------------------------------------------------ */

void mg_lambda_proc_drain(struct mg_lambda_proc *p)
{
    if (p->out_fd < 0)
        return;
    uint8_t buf[16384];
    for (;;) {
        ssize_t r = read(p->out_fd, buf, sizeof(buf));
        if (r > 0) {
            mg_lambda_log(p->fn, p->inv, mg_slice_make(buf, (size_t)r));
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

static long s_max_rss_mb(const struct mg_lambda_proc *p)
{
    long cg = p->boxed ? mg_lambda_box_max_memory_mb(&p->box) : -1;
    if (cg >= 0)
        return cg;
    char path[96], line[256];
    pid_t shim = p->pid, pid = shim;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)shim, (int)shim);
    FILE *cf = fopen(path, "re");
    if (cf) {
        long child = 0;
        if (mg_read_long(cf, &child) && child > 0 && child <= INT_MAX)
            pid = (pid_t)child;
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

void mg_lambda_proc_finish(struct mg_lambda_proc *p, struct mg_lambda_done *d,
                           const char *status_note)
{
    struct mg_lambda_inv *inv = p->inv;
    if (inv == NULL)
        return;
    mg_lambda_proc_drain(p);
    double ms = (double)(mg_mono_ns() - inv->start_ns) / 1e6;
    long billed = (long)ms + 1;
    mg_lambda_logf(p->fn, inv, "END RequestId: %s\n", inv->request_id);
    char init[64] = "";
    if (inv->init_phase)
        snprintf(init, sizeof(init), "\tInit Duration: %.2f ms", p->init_ms);
    mg_lambda_logf(
        p->fn, inv,
        "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %ld ms\tMemory Size: %d MB"
        "\tMax Memory Used: %ld MB%s%s\t\n",
        inv->request_id, ms, billed, p->fn->memory, s_max_rss_mb(p), init,
        status_note ? status_note : "");
    p->inv = NULL;
    mg_lambda_done_push(d, inv);
}

/* --- kill and free ---------------------------------------------------------------------------- */

void mg_lambda_conn_close(struct mg_lambda_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    mg_buf_cleanup(&c->in);
    mg_buf_cleanup(&c->out);
    c->out_off = 0;
    c->parked = c->close_after = false;
}

void mg_lambda_proc_kill(struct mg_lambda_proc *p)
{
    if (p->state == MG_LAMBDA_P_DEAD)
        return;
    if (p->pid > 0 && !p->reaped) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
    }
    /* the sandbox's init dies with the shim, and its PID namespace with it; the cgroup holds
     * whatever else the box started */
    if (p->boxed)
        mg_lambda_box_kill(&p->box);
    p->state = MG_LAMBDA_P_DEAD;
    for (int i = 0; i < MG_LAMBDA_CONNS_MAX; i++)
        mg_lambda_conn_close(&p->conns[i]);
    if (p->lfd >= 0)
        close(p->lfd);
    p->lfd = -1;
}

void mg_lambda_proc_free(struct mg_lambda_proc *p)
{
    mg_lambda_proc_kill(p);
    if (p->boxed)
        mg_lambda_box_release(&p->box);
    if (p->out_fd >= 0)
        close(p->out_fd);
    mg_free(p);
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
static int64_t s_role_credentials(struct mg_lambda *L, struct mg_lambda_fn *fn, char **env,
                                  size_t *n, size_t cap)
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
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA, "function %s: no credentials for role %s: %s", fn->arn,
               role, ei.msg);
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

bool mg_lambda_runtime_missing(const struct mg_lambda *L, enum mg_lambda_runtime_kind kind,
                               char *out, size_t cap)
{
    const char *interp = NULL, *boot = NULL;
    switch (kind) {
    case MG_RT_PYTHON:
        interp = L->python;
        boot = "python/bootstrap.py";
        break;
    case MG_RT_NODE:
        interp = L->node;
        boot = "nodejs/bootstrap.mjs";
        break;
    case MG_RT_PROVIDED: return false; /* its bootstrap is in the function's code */
    }
    if (interp == NULL || boot == NULL)
        return false;
    if (interp[0] == 0 || access(interp, X_OK) != 0) {
        snprintf(out, cap, "%s", interp[0] ? interp : "(no interpreter)");
        return true;
    }
    char path[1400];
    snprintf(path, sizeof(path), "%s/%s", L->runtimes_dir, boot);
    if (access(path, R_OK) != 0) {
        snprintf(out, cap, "%s", path);
        return true;
    }
    return false;
}

static const char *s_runtime_version(const struct mg_lambda_fn *fn)
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

static void s_child(pid_t parent, int devnull, int out_fd, const char *dir, char **argv, char **env,
                    const struct mg_lambda_box_plan *plan) __attribute__((noreturn));
static void s_child(pid_t parent, int devnull, int out_fd, const char *dir, char **argv, char **env,
                    const struct mg_lambda_box_plan *plan)
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
            for (unsigned fd = 3, end = mg_lambda_fd_ceiling(); fd < end; fd++)
                close((int)fd);
        /* Lambda's 1024 file descriptors, as in a sandbox (the server's own soft limit may have
         * been raised to fit its connections) */
        struct rlimit nofile = {1024, 1024};
        (void)setrlimit(RLIMIT_NOFILE, &nofile);
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
        for (unsigned fd = 0, end = mg_lambda_fd_ceiling(); fd < end; fd++)
            if ((int)fd != status_fd)
                close((int)fd);
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

struct mg_lambda_proc *mg_lambda_proc_spawn(struct mg_lambda *L, struct mg_lambda_fn *fn)
{
    const char *sha = json_string_value(json_object_get(fn->conf, "CodeSha256"));
    char hex[65] = "";
    fn->code_err = MG_E_OK;
    if (mg_lambda_sha_hex(sha, hex) && strcmp(hex, fn->bad_hex) == 0 &&
        mg_now_ms() < fn->bad_until_ms) {
        fn->code_err = MG_E_INVALID; /* code_msg still says why */
        return NULL;
    }
    fn->code_err = mg_lambda_code_unpack(L, fn->account, sha, fn->code_dir, sizeof(fn->code_dir),
                                         fn->code_msg, sizeof(fn->code_msg));
    if (fn->code_err) {
        bool lasting = fn->code_err == MG_E_INVALID || fn->code_err == MG_E_NOT_FOUND;
        mg_lambda_strlcpy(fn->bad_hex, sizeof(fn->bad_hex), lasting ? hex : "");
        fn->bad_until_ms = mg_now_ms() + 10000;
        return NULL;
    }
    struct mg_lambda_proc *p = mg_calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->fn = fn;
    p->out_fd = p->lfd = -1;
    for (int i = 0; i < MG_LAMBDA_CONNS_MAX; i++)
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
        if (plan == NULL || mg_lambda_code_open(fn->code_dir) != MG_E_OK ||
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
    json_object_foreach(vars, k, v)
    {
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
              s_env_add(env, &ne, 256, "PATH", path ? path : "/usr/local/bin:/usr/bin:/bin") &&
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
    p->state = MG_LAMBDA_P_STARTING;
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
