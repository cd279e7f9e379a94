/* The code of the functions on this node, shared by the Lambda API and the manager thread:
 * deployment packages (their checks, the per-account code storage limit), the node's cache of
 * unpacked code, and the removal of what nothing uses.
 *
 * The packages live in the store (codeblob.c), so every node runs every function. The node's
 * cache DATA/lambda/cache/ACCOUNT/<hex>/ holds a package unpacked, made the first time the node
 * needs it (activation after an upload, a runtime process's start): fetched from the store,
 * checked against its SHA-256, unpacked under a temporary name and renamed. A sweep removes the
 * versions that no function of the account in the snapshot and no runtime process uses. Only the
 * manager thread writes the cache (jobs queued here under L->mu). */
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

/* Creates path and its missing parents 0700; an existing one must be a directory, not a link. */
static enum mg_err s_mkdir_p(const char *path)
{
    char tmp[1200];
    if (!mg_fmt(tmp, sizeof(tmp), "%s", path))
        return MG_E_TOO_LARGE;
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
    struct stat st;
    if (lstat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        return MG_E_IO;
    return MG_E_OK;
}

static bool s_is_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static enum mg_err s_read_file(const char *path, struct mg_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
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
 * parent, DATA/lambda/cache/A, stays 0700, so only the account's sandboxes reach it). The top
 * directory is opened last: its mode says the walk is done. */
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

void mg_lambda_code_rmtree(const char *path)
{
    nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Unpacks zip (already checked against hex) into the cache folder base/<hex>, through a
 * temporary name in the same folder. */
static enum mg_err s_unpack_into(const char *base, const char *hex, struct mg_slice zip, char *msg,
                                 size_t cap)
{
    char dir[1200], tmp[1200], rnd[9];
    mg_random_chars(rnd, 8, MG_ALPHA_LOWER_NUM);
    rnd[8] = 0;
    if (!mg_fmt(dir, sizeof(dir), "%s/%s", base, hex) ||
        !mg_fmt(tmp, sizeof(tmp), "%s/.tmp-%s", base, rnd))
        return MG_E_TOO_LARGE;
    enum mg_err e = s_mkdir_p(base);
    if (!e)
        e = mg_lambda_zip_extract(zip, tmp, MG_LAMBDA_UNZIPPED_MAX, msg, cap);
    if (!e && rename(tmp, dir) != 0 && !s_is_dir(dir))
        e = MG_E_IO;
    if (e)
        mg_lambda_code_rmtree(tmp); /* leave no half-written tree behind */
    return e;
}

enum mg_err mg_lambda_code_unpack(struct mg_lambda *L, const char *account, const char *sha_b64,
                                  char *dir, size_t cap, char *msg, size_t msg_cap)
{
    char base[1024], hex[65];
    if (msg_cap)
        msg[0] = 0;
    if (!mg_lambda_sha_hex(sha_b64, hex) ||
        !mg_lambda_cache_path(L->env->data_dir, account, NULL, base, sizeof(base)) ||
        !mg_fmt(dir, cap, "%s/%s", base, hex)) {
        snprintf(msg, msg_cap, "the function's code version cannot name a cache folder");
        return MG_E_INVALID;
    }
    if (s_is_dir(dir))
        return MG_E_OK;
    struct mg_buf z;
    mg_buf_init(&z, MG_LAMBDA_ZIP_MAX);
    enum mg_err e = mg_lambda_blob_read(L->env->store, account, hex, &z, msg, msg_cap);
    if (!e) {
        e = s_unpack_into(base, hex, mg_buf_slice(&z), msg, msg_cap);
        if (e == MG_E_IO && msg_cap && msg[0] == 0)
            snprintf(msg, msg_cap, "cannot write %s: %s", base, strerror(errno));
    }
    mg_buf_cleanup(&z);
    if (e)
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA, "code %s of account %s: cannot unpack it: %s (%s)", hex,
               account, mg_err_str(e), msg);
    return e;
}

/* --- checking an upload (the API) -------------------------------------------------------- */

MG_MUST_USE enum mg_lambda_code_status mg_lambda_code_check(
    struct mg_lambda *L, const struct mg_snapshot *snap, const char *account, const char *name,
    struct mg_slice zip_b64, struct mg_lambda_code *out, char *msg, size_t cap)
{
    memset(out, 0, sizeof(*out));
    mg_buf_init(&out->zip, MG_LAMBDA_ZIP_MAX);
    if (cap)
        msg[0] = 0;
    enum mg_err e = mg_base64_decode(&out->zip, zip_b64);
    if (e == MG_E_TOO_LARGE)
        return MG_LAMBDA_CODE_TOO_LARGE;
    struct mg_lambda_zip_info info;
    /* the declared sizes first (cheap), then the real ones: an archive whose entries inflate
     * past what they declare (a zip bomb) is refused here, not when it is unpacked */
    if (e ||
        mg_lambda_zip_check(mg_buf_slice(&out->zip), MG_LAMBDA_UNZIPPED_MAX, &info, msg, cap) ||
        mg_lambda_zip_verify(mg_buf_slice(&out->zip), MG_LAMBDA_UNZIPPED_MAX, msg, cap)) {
        if (e && cap)
            mg_lambda_strlcpy(msg, cap, "not base64");
        return strstr(msg, "size over") ? MG_LAMBDA_CODE_UNZIPPED_TOO_LARGE
                                        : MG_LAMBDA_CODE_INVALID_ZIP;
    }
    if (!mg_lambda_code_fits(L, snap, account, name, out->zip.len + info.total_uncompressed))
        return MG_LAMBDA_CODE_STORAGE_EXCEEDED;
    uint8_t digest[32];
    SHA256(out->zip.ptr, out->zip.len, digest);
    mg_hex_encode(digest, 32, out->hex);
    out->hex[64] = 0;
    struct mg_buf sha;
    mg_buf_init(&sha, 64);
    bool ok = mg_base64_encode(&sha, mg_slice_make(digest, 32)) == MG_E_OK && mg_buf_cstr(&sha) &&
              sha.len < sizeof(out->sha256);
    if (ok) {
        mg_lambda_strlcpy(out->sha256, sizeof(out->sha256), mg_buf_cstr(&sha));
        out->size = out->zip.len;
        out->unzipped_size = info.total_uncompressed;
    }
    mg_buf_cleanup(&sha);
    return ok ? MG_LAMBDA_CODE_OK : MG_LAMBDA_CODE_IO;
}

void mg_lambda_code_cleanup(struct mg_lambda_code *code)
{
    mg_buf_cleanup(&code->zip);
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
    char dir[1200], msg[256];
    enum mg_err e = mg_lambda_code_unpack(L, account, sha_b64, dir, sizeof(dir), msg, sizeof(msg));
    /* a store that cannot be read now says nothing about the code: the State stays, and the
     * first invocation unpacks it */
    if (e == MG_E_OK || e == MG_E_INVALID || e == MG_E_NOT_FOUND)
        s_set_state(L, account, name, sha_b64, e);
}

/* --- jobs for the manager thread --------------------------------------------------------- */

bool mg_lambda_code_push_job(struct mg_lambda *L, const char *account, const char *name,
                             const char *sha_b64)
{
    for (size_t i = 0; sha_b64[0] == 0 && i < L->n_jobs; i++)
        if (L->jobs[i].sha[0] == 0 && strcmp(L->jobs[i].account, account) == 0)
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

void mg_lambda_queue_sweep(struct mg_lambda *L, const char *account)
{
    pthread_mutex_lock(&L->mu);
    mg_lambda_code_push_job(L, account, "", "");
    pthread_mutex_unlock(&L->mu);
    mg_lambda_wake(L);
}

void mg_lambda_code_sweep_all(struct mg_lambda *L)
{
    char root[1100];
    if (!mg_fmt(root, sizeof(root), "%s/lambda/cache", L->env->data_dir))
        return;
    DIR *dh = opendir(root);
    struct dirent *de;
    char base[1200];
    while (dh && (de = readdir(dh)) != NULL)
        if (mg_lambda_cache_path(L->env->data_dir, de->d_name, NULL, base, sizeof(base)))
            (void)mg_lambda_code_push_job(L, de->d_name, "", "");
    if (dh)
        closedir(dh);
}

/* Whether name (an entry of an account's cache folder) is one of the versions in keep. */
static bool s_kept(const char *name, const char (*keep)[65], size_t n_keep)
{
    for (size_t i = 0; i < n_keep; i++)
        if (keep[i][0] && strcmp(name, keep[i]) == 0)
            return true;
    return false;
}

void mg_lambda_code_sweep(struct mg_lambda *L, const char *account, const char (*in_use)[65],
                          size_t n_in_use)
{
    char base[1024];
    if (!mg_lambda_cache_path(L->env->data_dir, account, NULL, base, sizeof(base)))
        return;
    size_t cap = n_in_use + 16, n_keep = 0;
    char(*keep)[65] = mg_malloc(cap * sizeof(*keep));
    if (keep == NULL)
        return; /* keep everything: a later sweep removes what is left */
    for (size_t i = 0; i < n_in_use; i++)
        mg_lambda_strlcpy(keep[n_keep++], 65, in_use[i]);
    pthread_mutex_unlock(&L->mu);
    /* then every function of the account the snapshot has: its code may be needed any time */
    struct mg_snapshot *snap = mg_state_acquire(L->env->state);
    size_t n = 0;
    const struct mg_snapshot_doc *d = mg_snapshot_range(snap, "function", account, &n);
    bool complete = true;
    for (size_t i = 0; i < n && complete; i++) {
        char cur[65];
        if (!mg_lambda_sha_hex(json_string_value(json_object_get(d[i].doc, "CodeSha256")), cur))
            continue;
        if (n_keep == cap) {
            char(*nk)[65] = mg_realloc(keep, cap * 2 * sizeof(*keep));
            if (nk == NULL) {
                complete = false;
                break;
            }
            keep = nk;
            cap *= 2;
        }
        mg_lambda_strlcpy(keep[n_keep++], 65, cur);
    }
    mg_snapshot_unref(snap);
    DIR *dh = complete ? opendir(base) : NULL;
    struct dirent *de;
    while (dh && (de = readdir(dh)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        /* <hex>/ kept or not, and .tmp-* (an unpacking this thread left: never in progress
         * during a sweep, which runs on the same thread) */
        if (de->d_name[0] != '.' && s_kept(de->d_name, (const char(*)[65])keep, n_keep))
            continue;
        char path[1400];
        if (mg_fmt(path, sizeof(path), "%s/%s", base, de->d_name))
            mg_lambda_code_rmtree(path);
    }
    if (dh)
        closedir(dh);
    mg_free(keep);
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

/* --- the older layout: DATA/lambda/ACCOUNT/NAME/<hex>.zip ---------------------------------- */

/* Copies one function's package from the older layout into the store, unless it is there.
 * false when it should be tried again at the next start (the store failed). */
static bool s_migrate_one(struct mg_lambda *L, const char *account, const char *name,
                          const char *sha_b64, uint64_t size)
{
    char hex[65], dir[1024], zip[1200];
    if (!mg_lambda_sha_hex(sha_b64, hex) ||
        !mg_lambda_code_dir(L->env->data_dir, account, name, dir, sizeof(dir)) ||
        !mg_fmt(zip, sizeof(zip), "%s/%s.zip", dir, hex))
        return true;
    struct mg_buf rec;
    mg_buf_init(&rec, 4096);
    enum mg_err have = mg_store_get(L->env->store, MG_LAMBDA_CODE_KIND, account, hex, &rec);
    mg_buf_cleanup(&rec);
    if (have == MG_E_OK)
        return true;
    struct mg_buf z;
    mg_buf_init(&z, MG_LAMBDA_ZIP_MAX);
    enum mg_err e = s_read_file(zip, &z);
    uint8_t digest[32];
    char got[65] = "";
    if (!e) {
        SHA256(z.ptr, z.len, digest);
        mg_hex_encode(digest, 32, got);
        got[64] = 0;
    }
    bool retry = false;
    if (e || strcmp(got, hex) != 0 || z.len != size) {
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
               "function %s/%s: its code is neither in the store nor intact in %s (%s): its "
               "invocations fail until UpdateFunctionCode uploads it again",
               account, name, zip, e ? mg_err_str(e) : "its SHA-256 or size differs");
    } else {
        struct mg_errinfo ei = {0};
        e = mg_state_write_begin(L->env->state);
        if (!e) {
            e = mg_lambda_blob_write(L->env->store, account, hex, mg_buf_slice(&z));
            if (e)
                mg_state_write_abort(L->env->state);
            else
                e = mg_state_write_commit(L->env->state, &ei);
        }
        if (e) {
            MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
                   "function %s/%s: cannot copy its code into the store (%s): tried again at the "
                   "next start",
                   account, name, mg_err_str(e));
            retry = true;
        } else {
            MG_LOG(MG_LOG_INFO, MG_SUB_LAMBDA, "function %s/%s: code copied into the store",
                   account, name);
        }
    }
    mg_buf_cleanup(&z);
    return !retry;
}

void mg_lambda_code_migrate(struct mg_lambda *L)
{
    char root[1100];
    if (!mg_fmt(root, sizeof(root), "%s/lambda", L->env->data_dir))
        return;
    DIR *dh = opendir(root);
    struct dirent *de;
    while (dh && (de = readdir(dh)) != NULL) {
        char adir[1200];
        if (strncmp(de->d_name, ".old-", 5) == 0) { /* a removal a stop interrupted */
            if (mg_fmt(adir, sizeof(adir), "%s/%s", root, de->d_name))
                mg_lambda_code_rmtree(adir);
            continue;
        }
        /* the older layout's folders are the accounts' (12 digits); "cache" is the new one */
        if (!mg_lambda_cache_path(L->env->data_dir, de->d_name, NULL, adir, sizeof(adir)) ||
            !mg_fmt(adir, sizeof(adir), "%s/%s", root, de->d_name) || !s_is_dir(adir))
            continue;
        const char *account = de->d_name;
        bool done = true;
        struct mg_snapshot *snap = mg_state_acquire(L->env->state);
        size_t n = 0;
        const struct mg_snapshot_doc *d = mg_snapshot_range(snap, "function", account, &n);
        for (size_t i = 0; i < n; i++) {
            const char *sha = json_string_value(json_object_get(d[i].doc, "CodeSha256"));
            if (sha && !s_migrate_one(L, account, d[i].key, sha, s_doc_u64(d[i].doc, "CodeSize")))
                done = false;
        }
        mg_snapshot_unref(snap);
        if (done) {
            char aside[1300], tag[9];
            mg_random_chars(tag, 8, MG_ALPHA_LOWER_NUM);
            tag[8] = 0;
            if (mg_fmt(aside, sizeof(aside), "%s/.old-%s-%s", root, account, tag) &&
                rename(adir, aside) == 0)
                mg_lambda_code_rmtree(aside);
        }
    }
    if (dh)
        closedir(dh);
}
