/* The code store, shared by the Lambda API and the manager thread: deployment packages (their
 * checks, their files, the per-account code storage limit), unpacking, and the removal of code
 * nothing uses.
 *
 * DATA/lambda/ACCOUNT/NAME holds <hex>.zip as uploaded and <hex>/ unpacked, one pair per code
 * version (hex: the package's SHA-256). A version being stored is "pending" until its document
 * is committed or not; a sweep removes the versions that neither the function's configuration, a
 * runtime process nor a pending store uses. The API thread stores packages; the manager thread
 * unpacks, activates and removes them (queued here as jobs, under L->mu). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "lambda/internal.h"

#define S_ZIP_MAX (50u * 1024u * 1024u) /* direct upload limit */

/* --- storage accounting ------------------------------------------------------------------ */

uint64_t mg_lambda_code_storage_max(const struct mg_lambda *L)
{
    if (L->code_storage)
        return L->code_storage;
    const char *v = getenv("MCPGATE_LAMBDA_CODE_STORAGE");
    if (v && v[0] >= '0' && v[0] <= '9') {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno == 0 && *end == 0 && n > 0)
            return n;
    }
    return MG_LAMBDA_CODE_STORAGE_DEFAULT;
}

static uint64_t s_doc_u64(const json_t *doc, const char *member)
{
    json_int_t v = json_integer_value(json_object_get(doc, member));
    return v > 0 ? (uint64_t)v : 0;
}

uint64_t mg_lambda_account_code_bytes(const struct mg_snapshot *snap, const char *account,
                                      const char *except_name)
{
    size_t n = 0;
    const struct mg_snapshot_doc *d = mg_snapshot_range(snap, "function", account, &n);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (except_name && strcmp(d[i].key, except_name) == 0)
            continue;
        total += s_doc_u64(d[i].doc, "CodeSize") + s_doc_u64(d[i].doc, "CodeUnzippedSize");
    }
    return total;
}

bool mg_lambda_code_fits(const struct mg_lambda *L, const struct mg_snapshot *snap,
                         const char *account, const char *name, uint64_t new_bytes)
{
    uint64_t used = mg_lambda_account_code_bytes(snap, account, name);
    uint64_t max = mg_lambda_code_storage_max(L);
    return used <= max && new_bytes <= max - used;
}

/* --- files ------------------------------------------------------------------------------- */

static enum mg_err s_mkdir_p(const char *path)
{
    char tmp[1200];
    mg_lambda_strlcpy(tmp, sizeof(tmp), path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return MG_E_IO;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return MG_E_IO;
    return MG_E_OK;
}

static enum mg_err s_write_file(const char *path, struct mg_slice data)
{
    char tmp[1300];
    if (!mg_fmt(tmp, sizeof(tmp), "%s.tmp", path))
        return MG_E_TOO_LARGE;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return MG_E_IO;
    size_t off = 0;
    while (off < data.len) {
        ssize_t w = write(fd, data.ptr + off, data.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return MG_E_IO;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return MG_E_IO;
    }
    return MG_E_OK;
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
enum mg_err mg_lambda_code_open(const char *dir)
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
enum mg_err mg_lambda_code_unpack(struct mg_lambda *L, const char *account, const char *name,
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

void mg_lambda_code_rmtree(const char *path)
{
    nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- storing (the API) ------------------------------------------------------------------- */

MG_MUST_USE enum mg_lambda_code_status mg_lambda_code_put(
    struct mg_lambda *L, const struct mg_snapshot *snap, const char *account, const char *name,
    struct mg_slice zip_b64, struct mg_lambda_code *out, char *msg, size_t cap)
{
    memset(out, 0, sizeof(*out));
    if (cap)
        msg[0] = 0;
    struct mg_buf zip;
    mg_buf_init(&zip, S_ZIP_MAX);
    enum mg_err e = mg_base64_decode(&zip, zip_b64);
    if (e == MG_E_TOO_LARGE) {
        mg_buf_cleanup(&zip);
        return MG_LAMBDA_CODE_TOO_LARGE;
    }
    struct mg_lambda_zip_info info;
    /* the declared sizes first (cheap), then the real ones: an archive whose entries inflate
     * past what they declare (a zip bomb) is refused here, not when it is unpacked */
    if (e || mg_lambda_zip_check(mg_buf_slice(&zip), MG_LAMBDA_UNZIPPED_MAX, &info, msg, cap) ||
        mg_lambda_zip_verify(mg_buf_slice(&zip), MG_LAMBDA_UNZIPPED_MAX, msg, cap)) {
        mg_buf_cleanup(&zip);
        if (e && cap)
            mg_lambda_strlcpy(msg, cap, "not base64");
        return strstr(msg, "size over") ? MG_LAMBDA_CODE_UNZIPPED_TOO_LARGE
                                        : MG_LAMBDA_CODE_INVALID_ZIP;
    }
    if (!mg_lambda_code_fits(L, snap, account, name, zip.len + info.total_uncompressed)) {
        mg_buf_cleanup(&zip);
        return MG_LAMBDA_CODE_STORAGE_EXCEEDED;
    }
    uint8_t digest[32];
    SHA256(zip.ptr, zip.len, digest);
    mg_hex_encode(digest, 32, out->hex);
    out->hex[64] = 0;
    struct mg_buf sha;
    mg_buf_init(&sha, 64);
    char dir[1024], path[1200];
    bool fits = mg_lambda_code_dir(L->env->data_dir, account, name, dir, sizeof(dir)) &&
                mg_fmt(path, sizeof(path), "%s/%s.zip", dir, out->hex);
    bool pending = mg_lambda_code_pending(L, account, name, out->hex);
    bool ok = pending && fits && mg_base64_encode(&sha, mg_slice_make(digest, 32)) == MG_E_OK &&
              mg_buf_cstr(&sha) && sha.len < sizeof(out->sha256) && s_mkdir_p(dir) == MG_E_OK &&
              s_write_file(path, mg_buf_slice(&zip)) == MG_E_OK;
    if (ok) {
        mg_lambda_strlcpy(out->sha256, sizeof(out->sha256), mg_buf_cstr(&sha));
        out->size = zip.len;
        out->unzipped_size = info.total_uncompressed;
    } else if (pending) {
        /* nothing may be left of this version if the function does not use it */
        mg_lambda_code_done(L, account, name, out->hex);
    }
    mg_buf_cleanup(&sha);
    mg_buf_cleanup(&zip);
    return ok ? MG_LAMBDA_CODE_OK : MG_LAMBDA_CODE_IO;
}

void mg_lambda_code_done(struct mg_lambda *L, const char *account, const char *name,
                         const char *hex)
{
    mg_lambda_code_stored(L, account, name, hex);
    mg_lambda_queue_sweep(L, account, name);
}

void mg_lambda_code_remove(struct mg_lambda *L, const char *account, const char *name)
{
    char dir[1024], aside[1100], tag[9];
    mg_random_chars(tag, 8, MG_ALPHA_LOWER_NUM);
    tag[8] = 0;
    /* a truncated path would name another function's code */
    if (!mg_lambda_code_dir(L->env->data_dir, account, name, dir, sizeof(dir)) ||
        !mg_fmt(aside, sizeof(aside), "%s.deleted-%s", dir, tag))
        return;
    if (rename(dir, aside) == 0)
        mg_lambda_queue_removal(L, aside);
}

/* --- activation (the manager thread, without L->mu) -------------------------------------- */

/* Sets the function's State after its code was unpacked (e: how that went), in the store, if
 * the function still has that code. */
static void s_set_state(struct mg_lambda *L, const char *account, const char *name,
                        const char *sha_b64, enum mg_err e)
{
    if (mg_state_write_begin(L->env->state) == MG_E_OK) {
        struct mg_buf b;
        mg_buf_init(&b, MG_STORE_DOC_MAX);
        json_t *doc = NULL;
        if (mg_store_get(L->env->store, "function", account, name, &b) == MG_E_OK)
            doc = json_loadb((const char *)b.ptr, b.len, 0, NULL);
        const char *sha = json_string_value(json_object_get(doc, "CodeSha256"));
        bool ok = false;
        if (sha && strcmp(sha, sha_b64) == 0) {
            bool set = true;
            if (e) {
                const char *state = json_string_value(json_object_get(doc, "State"));
                bool pending = state && strcmp(state, "Pending") == 0;
                const char *reason = "Could not unzip uploaded file.";
                set = !json_object_set_new(doc, "State",
                                           json_string(pending ? "Failed" : "Active")) &&
                      !json_object_set_new(doc, "LastUpdateStatus", json_string("Failed")) &&
                      !json_object_set_new(doc, "StateReason", json_string(reason)) &&
                      !json_object_set_new(doc, "StateReasonCode",
                                           json_string("InvalidZipFileException"));
            } else {
                set = !json_object_set_new(doc, "State", json_string("Active")) &&
                      !json_object_set_new(doc, "LastUpdateStatus", json_string("Successful"));
                json_object_del(doc, "StateReason");
                json_object_del(doc, "StateReasonCode");
                json_object_del(doc, "LastUpdateStatusReason");
                json_object_del(doc, "LastUpdateStatusReasonCode");
            }
            char *text = set ? json_dumps(doc, JSON_COMPACT) : NULL;
            ok = text && mg_store_put(L->env->store, "function", account, name,
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
}

void mg_lambda_code_activate(struct mg_lambda *L, const char *account, const char *name,
                             const char *sha_b64)
{
    char dir[1200];
    enum mg_err e = mg_lambda_code_unpack(L, account, name, sha_b64, dir, sizeof(dir));
    s_set_state(L, account, name, sha_b64, e);
}
/* --- jobs for the manager thread --------------------------------------------------------- */

/* Queues a job under L->mu: activation of sha_b64 (then a sweep), or a sweep alone (sha ""). A
 * sweep already queued for the function is not queued twice. */
bool mg_lambda_code_push_job(struct mg_lambda *L, const char *account, const char *name,
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
    mg_lambda_code_push_job(L, account, name, sha_b64 ? sha_b64 : "");
    pthread_mutex_unlock(&L->mu);
    mg_lambda_wake(L);
}

void mg_lambda_queue_sweep(struct mg_lambda *L, const char *account, const char *name)
{
    pthread_mutex_lock(&L->mu);
    mg_lambda_code_push_job(L, account, name, "");
    pthread_mutex_unlock(&L->mu);
    mg_lambda_wake(L);
}

static bool s_code_mark(struct mg_lambda *L, const char *account, const char *name, const char *hex,
                        bool add)
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
static bool s_kept(const char *name, const char (*keep)[65], size_t n_keep)
{
    for (size_t i = 0; i < n_keep; i++)
        if (keep[i][0] && strncmp(name, keep[i], 64) == 0)
            return true;
    return false;
}

void mg_lambda_code_sweep(struct mg_lambda *L, const char *account, const char *name,
                          const char (*in_use)[65], size_t n_in_use)
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
    for (size_t i = 0; i < n_in_use; i++) {
        if (n_keep == KEEP_MAX)
            overflow = true;
        else
            mg_lambda_strlcpy(keep[n_keep++], 65, in_use[i]);
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
        mg_lambda_code_rmtree(path);
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
    mg_lambda_wake(L);
}
