/* The Lambda module: start/stop, the runtimes folder (built-in bootstraps, start-up checks),
 * interpreters, and the in-process invocation entry point. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "lambda/embedded.h"
#include "lambda/internal.h"

/* Creates dir (one level) and sets its mode: readable and searchable by everyone, writable by
 * the server only. */
static bool s_mkdir_mode(const char *dir, mode_t mode)
{
    if (mkdir(dir, mode) != 0 && errno != EEXIST)
        return false;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return false;
    return (st.st_mode & 07777) == mode || chmod(dir, mode) == 0;
}

/* True when path holds exactly data[0..len). */
static bool s_same_content(const char *path, const unsigned char *data, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    struct stat st;
    bool same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == len;
    unsigned char chunk[4096];
    size_t off = 0;
    while (same && off < len) {
        size_t want = len - off < sizeof(chunk) ? len - off : sizeof(chunk);
        ssize_t n = read(fd, chunk, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || mg_memcmp(chunk, data + off, (size_t)n) != 0)
            same = false;
        else
            off += (size_t)n;
    }
    close(fd);
    return same;
}

/* Writes one bootstrap (mode 0444) unless it is already there, byte for byte; a new copy goes to
 * a temporary file renamed over the old one, so a starting runtime never reads half a file. */
static bool s_install_file(const char *root, const struct mg_lambda_embedded_file *f)
{
    char path[1400], dir[1400], tmp[1500];
    int n = snprintf(path, sizeof(path), "%s/%s", root, f->path);
    if (n < 0 || (size_t)n >= sizeof(path))
        return false;
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return false;
    *slash = 0;
    if (!s_mkdir_mode(dir, 0755))
        return false;
    if (s_same_content(path, f->data, f->len)) {
        struct stat st;
        return stat(path, &st) == 0 && ((st.st_mode & 07777) == 0444 || chmod(path, 0444) == 0);
    }
    snprintf(tmp, sizeof(tmp), "%s.new-%ld", path, (long)getpid());
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0)
        return false;
    bool ok = fchmod(fd, 0444) == 0;
    size_t off = 0;
    while (ok && off < f->len) {
        ssize_t w = write(fd, f->data + off, f->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            ok = false;
        else
            off += (size_t)w;
    }
    if (close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok)
        unlink(tmp);
    return ok;
}

/* --runtimes-dir when given (already absolute), else DATA/runtimes, filled from the copies built
 * into the binary. */
static void s_setup_runtimes(struct mg_lambda *L, const char *configured, const char *data_dir)
{
    if (configured && configured[0]) {
        mg_lambda_strlcpy(L->runtimes_dir, sizeof(L->runtimes_dir), configured);
        return;
    }
    int n = snprintf(L->runtimes_dir, sizeof(L->runtimes_dir), "%s/runtimes", data_dir);
    if (n < 0 || (size_t)n >= sizeof(L->runtimes_dir)) {
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
               "the data folder path is too long for the Lambda "
               "runtimes: give --runtimes-dir");
        return;
    }
    if (!s_mkdir_mode(L->runtimes_dir, 0755)) {
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA, "cannot create the Lambda runtimes folder %s: %s",
               L->runtimes_dir, strerror(errno));
        return;
    }
    for (size_t i = 0; i < mg_lambda_embedded_count; i++)
        if (!s_install_file(L->runtimes_dir, &mg_lambda_embedded_files[i]))
            MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA, "cannot write the Lambda runtime file %s/%s: %s",
                   L->runtimes_dir, mg_lambda_embedded_files[i].path, strerror(errno));
}

/* Says at start-up what a Python or Node.js function would miss. */
static void s_check_runtimes(const struct mg_lambda *L)
{
    struct stat st;
    if (stat(L->runtimes_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
               "the Lambda runtimes folder %s does not exist: Python and Node.js functions cannot "
               "start (fix --runtimes-dir, or leave it out to use the built-in bootstraps)",
               L->runtimes_dir);
        return;
    }
    static const struct {
        enum mg_lambda_runtime_kind kind;
        const char *lang, *env;
    } kinds[] = {{MG_RT_PYTHON, "Python", "MCPGATE_PYTHON"},
                 {MG_RT_NODE, "Node.js", "MCPGATE_NODE"}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char missing[1400];
        if (!mg_lambda_runtime_missing(L, kinds[i].kind, missing, sizeof(missing)))
            continue;
        if (strncmp(missing, L->runtimes_dir, strlen(L->runtimes_dir)) == 0)
            MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
                   "the Lambda runtime file %s is missing: %s functions cannot start (fix "
                   "--runtimes-dir, or leave it out to use the built-in bootstraps)",
                   missing, kinds[i].lang);
        else
            MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
                   "the interpreter %s is missing: %s functions cannot start (install it, put it "
                   "on PATH or set %s)",
                   missing, kinds[i].lang, kinds[i].env);
    }
}

/* The first line a program prints (argv run without a shell, stderr discarded), or "" when it
 * cannot run or prints nothing. */
static void s_first_line(char *const argv[], char *out, size_t cap)
{
    out[0] = 0;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return;
    }
    size_t n = 0;
    bool done = false;
    while (!done && n + 1 < cap) {
        ssize_t r = read(fds[0], out + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        done = memchr(out, '\n', n) != NULL;
    }
    close(fds[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    out[n] = 0;
    char *nl = memchr(out, '\n', n);
    if (nl)
        *nl = 0;
    else if (n + 1 >= cap)
        out[0] = 0; /* a line that does not fit is not used */
}

/* The interpreter's real path: shims (pyenv) would need their own environment. */
static void s_find_interpreter(const char *env, char *const argv[], char *out, size_t cap,
                               const char *fallback)
{
    const char *v = getenv(env);
    if (v && v[0]) {
        /* made absolute: the runtime starts in its function's folder */
        char real[PATH_MAX];
        const char *use = v[0] != '/' && realpath(v, real) ? real : v;
        if (strlen(use) < cap) {
            snprintf(out, cap, "%s", use);
        } else {
            out[0] = 0;
            MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA, "%s is longer than %zu bytes: not used", env,
                   cap - 1);
        }
        return;
    }
    snprintf(out, cap, "%s", fallback);
    char line[1024];
    s_first_line(argv, line, sizeof(line));
    line[strcspn(line, "\r")] = 0;
    size_t n = strlen(line);
    if (line[0] == '/' && n < cap) { /* a path that does not fit is not used */
        mg_memcpy(out, line, n);
        out[n] = 0;
    }
}

struct s_find_job {
    const char *env;
    char *const *argv;
    char *out;
    size_t cap;
    const char *fallback;
};

static void *s_find_thread(void *arg)
{
    struct s_find_job *j = arg;
    s_find_interpreter(j->env, j->argv, j->out, j->cap, j->fallback);
    return NULL;
}

/* Both interpreters at once: each answer costs an interpreter's start-up, which a restart
 * otherwise waits for twice. */
static void s_find_interpreters(struct mg_lambda *L)
{
    static char *const py_argv[] = {"python3", "-c", "import sys; print(sys.executable)", NULL};
    static char *const node_argv[] = {"node", "-p", "process.execPath", NULL};
    struct s_find_job node = {"MCPGATE_NODE", node_argv, L->node, sizeof(L->node), "/usr/bin/node"};
    pthread_t t;
    bool threaded = pthread_create(&t, NULL, s_find_thread, &node) == 0;
    s_find_interpreter("MCPGATE_PYTHON", py_argv, L->python, sizeof(L->python), "/usr/bin/python3");
    if (threaded)
        pthread_join(t, NULL);
    else
        s_find_thread(&node);
}

static void s_stop(void *state);

/* Functions left Pending or InProgress by a stop before their code was unpacked: activated again
 * (on every node that starts; the first one to finish sets the State). */
static void s_resume_activations(struct mg_lambda *L)
{
    struct mg_snapshot *snap = mg_state_acquire(L->env->state);
    size_t n_all = 0;
    const struct mg_snapshot_doc **all = NULL;
    if (mg_snapshot_collect(snap, "function", &all, &n_all) == MG_E_OK) {
        for (size_t i = 0; i < n_all; i++) {
            const json_t *doc = all[i]->doc;
            const char *state = json_string_value(json_object_get(doc, "State"));
            const char *last = json_string_value(json_object_get(doc, "LastUpdateStatus"));
            const char *sha = json_string_value(json_object_get(doc, "CodeSha256"));
            if (sha && ((state && strcmp(state, "Pending") == 0) ||
                        (last && strcmp(last, "InProgress") == 0)))
                (void)mg_lambda_code_push_job(L, all[i]->account, all[i]->key, sha);
        }
    }
    mg_free(all);
    mg_snapshot_unref(snap);
}

static enum mg_err s_start(const struct mg_env *env, const void *config, void **state,
                           struct mg_errinfo *ei)
{
    static const struct mg_lambda_config s_defaults;
    const struct mg_lambda_config *cfg = config ? config : &s_defaults;
    *state = NULL;
    mg_lambda_init();
    /* the extension registered after the first snapshot: build one that has it */
    MG_TRY(mg_state_extend(env->state, ei));
    struct mg_lambda *L = mg_calloc(1, sizeof(*L));
    if (L == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    L->env = env;
    L->code_storage = cfg->code_storage;
    L->wake_fd = -1;
    pthread_mutex_init(&L->mu, NULL);
    mg_map_init(&L->fns);
    L->concurrency = cfg->concurrency > 0 ? cfg->concurrency : 10;
    L->queue_max = cfg->queue > 0 ? cfg->queue : 100;
    L->idle_ms = (cfg->idle_seconds > 0 ? cfg->idle_seconds : 300) * 1000;
    s_setup_runtimes(L, cfg->runtimes_dir, env->data_dir);
    s_find_interpreters(L);
    MG_LOG(MG_LOG_INFO, MG_SUB_LAMBDA, "runtimes from %s; python %s; node %s", L->runtimes_dir,
           L->python, L->node);
    s_check_runtimes(L);
    const char *interpreters[] = {L->python, L->node, NULL};
    enum mg_err e = mg_lambda_sandbox_init(&L->sandbox, cfg->isolation, L->runtimes_dir,
                                           env->data_dir, interpreters, ei);
    if (e) {
        s_stop(L);
        return e;
    }
    /* code kept in the data folder by an older mcpgate goes into the store, once */
    mg_lambda_code_migrate(L);
    s_resume_activations(L);
    e = mg_lambda_manager_start(L, ei);
    if (e) {
        s_stop(L);
        return e;
    }
    *state = L;
    return MG_E_OK;
}

static void s_stop(void *state)
{
    struct mg_lambda *L = state;
    if (L == NULL)
        return;
    mg_lambda_manager_stop(L);
    mg_lambda_sandbox_cleanup(&L->sandbox);
    pthread_mutex_destroy(&L->mu);
    mg_free(L);
}

const struct mg_service mg_lambda_service = {"lambda", MG_SERVICE_REST_JSON, mg_lambda_handle,
                                             s_start, s_stop};

enum mg_err mg_lambda_invoke_async(struct mg_lambda *L, const char *function, const char *account,
                                   struct mg_slice payload, struct mg_slice client_context_json,
                                   mg_lambda_done_fn done, void *user)
{
    if (L == NULL)
        return MG_E_INTERNAL;
    struct mg_lambda_name n;
    if (!mg_lambda_parse_name(function, &n))
        return MG_E_INVALID;
    /* Callers check this first; a function of another region, partition or qualifier is never the
     * local one of the same name. */
    char why[256];
    if (!mg_lambda_name_is_local(&n, function, L->env->region, why, sizeof(why)) ||
        (n.qualifier[0] && strcmp(n.qualifier, "$LATEST") != 0))
        return MG_E_INVALID;
    const char *acct = n.account[0] ? n.account : account;
    if (acct == NULL || strlen(acct) != 12)
        return MG_E_INVALID;
    if (payload.len > MG_LAMBDA_PAYLOAD_MAX)
        return MG_E_TOO_LARGE;
    struct mg_lambda_inv *inv = mg_lambda_inv_new(acct, n.name, payload, client_context_json, done,
                                                  user);
    if (inv == NULL)
        return MG_E_NOMEM;
    mg_lambda_submit(L, inv);
    return MG_E_OK;
}
