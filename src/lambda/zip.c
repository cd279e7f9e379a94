/* Zip archives: structural check and safe extraction (raw inflate with zlib). Only what Lambda
 * deployment packages need: stored and deflate entries, no encryption, no zip64, no multi-disk.
 * Entry names that could leave the target directory are refused; symbolic links are skipped;
 * inflated output is bounded by each entry's declared size and by a total limit. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/alloc.h"
#include "lambda/internal.h"

#define S_EOCD_SIG 0x06054b50u
#define S_CDIR_SIG 0x02014b50u
#define S_LOCAL_SIG 0x04034b50u

static uint16_t s_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t s_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

struct s_entry {
    struct mg_slice name;
    uint16_t method, flags, made_by;
    uint32_t crc, csize, usize, ext_attr, local_off;
};

struct s_zip {
    struct mg_slice z;
    size_t cd_off, cd_size, n;
};

static enum mg_err s_fail(char *msg, size_t cap, const char *why)
{
    if (msg && cap)
        snprintf(msg, cap, "%s", why);
    return MG_E_INVALID;
}

static enum mg_err s_open(struct mg_slice z, struct s_zip *zip, char *msg, size_t cap)
{
    if (z.len < 22)
        return s_fail(msg, cap, "too short for a zip archive");
    size_t lo = z.len > 22 + 65535 ? z.len - 22 - 65535 : 0;
    for (size_t i = z.len - 22 + 1; i-- > lo;) {
        const uint8_t *p = z.ptr + i;
        if (s_u32(p) != S_EOCD_SIG)
            continue;
        if (i + 22 + s_u16(p + 20) != z.len)
            continue;
        if (s_u16(p + 4) != 0 || s_u16(p + 6) != 0 || s_u16(p + 8) != s_u16(p + 10))
            return s_fail(msg, cap, "multi-disk archives are not supported");
        zip->z = z;
        zip->n = s_u16(p + 10);
        zip->cd_size = s_u32(p + 12);
        zip->cd_off = s_u32(p + 16);
        if (zip->n == 0xFFFF || zip->cd_off == 0xFFFFFFFFu)
            return s_fail(msg, cap, "zip64 archives are not supported");
        if (zip->cd_off > i || zip->cd_size > i - zip->cd_off)
            return s_fail(msg, cap, "central directory out of bounds");
        return MG_E_OK;
    }
    return s_fail(msg, cap, "no end of central directory record");
}

/* Reads entry at *off in the central directory. */
static enum mg_err s_entry(const struct s_zip *zip, size_t *off, struct s_entry *e, char *msg,
                           size_t cap)
{
    size_t end = zip->cd_off + zip->cd_size;
    if (*off + 46 > end)
        return s_fail(msg, cap, "truncated central directory");
    const uint8_t *p = zip->z.ptr + *off;
    if (s_u32(p) != S_CDIR_SIG)
        return s_fail(msg, cap, "bad central directory entry");
    e->made_by = s_u16(p + 4);
    e->flags = s_u16(p + 8);
    e->method = s_u16(p + 10);
    e->crc = s_u32(p + 16);
    e->csize = s_u32(p + 20);
    e->usize = s_u32(p + 24);
    size_t nl = s_u16(p + 28), xl = s_u16(p + 30), cl = s_u16(p + 32);
    e->ext_attr = s_u32(p + 38);
    e->local_off = s_u32(p + 42);
    if (*off + 46 + nl + xl + cl > end)
        return s_fail(msg, cap, "truncated central directory entry");
    e->name = mg_slice_make(p + 46, nl);
    *off += 46 + nl + xl + cl;
    if (e->csize == 0xFFFFFFFFu || e->usize == 0xFFFFFFFFu || e->local_off == 0xFFFFFFFFu)
        return s_fail(msg, cap, "zip64 entries are not supported");
    if (e->flags & 1u)
        return s_fail(msg, cap, "encrypted entries are not supported");
    if (e->method != 0 && e->method != 8)
        return s_fail(msg, cap, "compression method not supported");
    if (e->method == 0 && e->csize != e->usize)
        return s_fail(msg, cap, "stored entry with mismatched sizes");
    return MG_E_OK;
}

static bool s_name_safe(struct mg_slice n)
{
    if (n.len == 0 || n.len > 1024 || n.ptr[0] == '/')
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n.len; i++) {
        if (i < n.len && (n.ptr[i] == 0 || n.ptr[i] == '\\'))
            return false;
        if (i == n.len || n.ptr[i] == '/') {
            struct mg_slice comp = mg_slice_sub(n, start, i - start);
            if (mg_slice_eq_cstr(comp, ".."))
                return false;
            /* an empty component is fine only as the trailing slash of a directory */
            if (comp.len == 0 && i != n.len && i + 1 != n.len)
                return false;
            start = i + 1;
        }
    }
    /* "C:" drive prefixes */
    if (n.len >= 2 && n.ptr[1] == ':')
        return false;
    return true;
}

static bool s_is_symlink(const struct s_entry *e)
{
    return (e->made_by >> 8) == 3 && ((e->ext_attr >> 16) & 0170000u) == 0120000u;
}

static bool s_is_exec(const struct s_entry *e)
{
    return (e->made_by >> 8) == 3 && ((e->ext_attr >> 16) & 0111u) != 0;
}

enum mg_err mg_lambda_zip_check(struct mg_slice z, uint64_t max_total,
                                struct mg_lambda_zip_info *info, char *msg, size_t cap)
{
    struct s_zip zip;
    MG_TRY(s_open(z, &zip, msg, cap));
    if (zip.n > MG_LAMBDA_ZIP_ENTRIES_MAX)
        return s_fail(msg, cap, "too many entries");
    size_t off = zip.cd_off;
    uint64_t total = 0;
    for (size_t i = 0; i < zip.n; i++) {
        struct s_entry e;
        MG_TRY(s_entry(&zip, &off, &e, msg, cap));
        if (!s_name_safe(e.name))
            return s_fail(msg, cap, "entry name leaves the target directory");
        if ((size_t)e.local_off + 30 > zip.cd_off)
            return s_fail(msg, cap, "local header out of bounds");
        total += e.usize;
        if (total > max_total)
            return s_fail(msg, cap, "unzipped size over the limit");
    }
    if (info) {
        info->n_entries = zip.n;
        info->total_uncompressed = total;
    }
    return MG_E_OK;
}

/* Creates the parent directories of rel under dir. */
static enum mg_err s_mkdirs(const char *dir, struct mg_slice rel, bool include_last)
{
    char path[4096];
    size_t dl = strlen(dir);
    if (dl + 1 + rel.len + 1 > sizeof(path))
        return MG_E_TOO_LARGE;
    mg_memcpy(path, dir, dl);
    path[dl] = '/';
    for (size_t i = 0; i < rel.len; i++) {
        if (rel.ptr[i] == '/' || (include_last && i + 1 == rel.len)) {
            size_t n = rel.ptr[i] == '/' ? i : i + 1;
            mg_memcpy(path + dl + 1, rel.ptr, n);
            path[dl + 1 + n] = 0;
            if (mkdir(path, 0700) != 0 && errno != EEXIST)
                return MG_E_IO;
            struct stat st;
            if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
                return MG_E_INVALID;
        }
    }
    return MG_E_OK;
}

static enum mg_err s_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return MG_E_IO;
        p += w;
        n -= (size_t)w;
    }
    return MG_E_OK;
}

static enum mg_err s_extract_one(const struct s_zip *zip, const struct s_entry *e, int fd,
                                 uint64_t *total, uint64_t max_total, char *msg, size_t cap)
{
    const uint8_t *lh = zip->z.ptr + e->local_off;
    if (s_u32(lh) != S_LOCAL_SIG)
        return s_fail(msg, cap, "bad local header");
    size_t data = (size_t)e->local_off + 30 + s_u16(lh + 26) + s_u16(lh + 28);
    if (data > zip->cd_off || e->csize > zip->cd_off - data)
        return s_fail(msg, cap, "entry data out of bounds");
    struct mg_slice in = mg_slice_make(zip->z.ptr + data, e->csize);
    uLong crc = crc32(0L, Z_NULL, 0);
    if (e->method == 0) {
        *total += in.len;
        if (*total > max_total)
            return s_fail(msg, cap, "unzipped size over the limit");
        crc = crc32(crc, in.ptr, (uInt)in.len);
        if (fd >= 0 && s_write_all(fd, in.ptr, in.len))
            return s_fail(msg, cap, "write failed");
    } else {
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
            return MG_E_NOMEM;
        uint8_t buf[65536];
        uint64_t produced = 0;
        zs.next_in = (Bytef *)in.ptr;
        zs.avail_in = (uInt)in.len;
        enum mg_err err = MG_E_OK;
        for (;;) {
            zs.next_out = buf;
            zs.avail_out = sizeof(buf);
            int rc = inflate(&zs, Z_NO_FLUSH);
            size_t got = sizeof(buf) - zs.avail_out;
            produced += got;
            *total += got;
            if (produced > e->usize || *total > max_total) {
                err = s_fail(msg, cap, "inflated past the declared or total size");
                break;
            }
            crc = crc32(crc, buf, (uInt)got);
            if (got && fd >= 0 && s_write_all(fd, buf, got)) {
                err = s_fail(msg, cap, "write failed");
                break;
            }
            if (rc == Z_STREAM_END)
                break;
            if (rc != Z_OK || (got == 0 && zs.avail_in == 0)) {
                err = s_fail(msg, cap, "corrupt deflate data");
                break;
            }
        }
        inflateEnd(&zs);
        if (err)
            return err;
        if (produced != e->usize)
            return s_fail(msg, cap, "entry size does not match");
    }
    if ((uint32_t)crc != e->crc)
        return s_fail(msg, cap, "CRC mismatch");
    return MG_E_OK;
}

enum mg_err mg_lambda_zip_extract(struct mg_slice z, const char *dir, uint64_t max_total, char *msg,
                                  size_t cap)
{
    MG_TRY(mg_lambda_zip_check(z, max_total, NULL, msg, cap));
    struct s_zip zip;
    MG_TRY(s_open(z, &zip, msg, cap));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return s_fail(msg, cap, "cannot create the code directory");
    size_t off = zip.cd_off;
    uint64_t total = 0;
    for (size_t i = 0; i < zip.n; i++) {
        struct s_entry e;
        MG_TRY(s_entry(&zip, &off, &e, msg, cap));
        if (s_is_symlink(&e))
            continue;
        bool is_dir = e.name.ptr[e.name.len - 1] == '/';
        if (s_mkdirs(dir, e.name, is_dir))
            return s_fail(msg, cap, "cannot create a directory of the archive");
        if (is_dir)
            continue;
        char path[4096];
        int n = snprintf(path, sizeof(path), "%s/" MG_SLICE_FMT, dir, MG_SLICE_ARG(e.name));
        if (n < 0 || (size_t)n >= sizeof(path))
            return s_fail(msg, cap, "path too long");
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      s_is_exec(&e) ? 0700 : 0600);
        if (fd < 0)
            return s_fail(msg, cap, errno == EEXIST ? "duplicate entry" : "cannot create a file");
        enum mg_err err = s_extract_one(&zip, &e, fd, &total, max_total, msg, cap);
        if (close(fd) != 0 && !err)
            err = s_fail(msg, cap, "write failed");
        if (err)
            return err;
    }
    return MG_E_OK;
}

enum mg_err mg_lambda_zip_verify(struct mg_slice z, uint64_t max_total, char *msg, size_t cap)
{
    MG_TRY(mg_lambda_zip_check(z, max_total, NULL, msg, cap));
    struct s_zip zip;
    MG_TRY(s_open(z, &zip, msg, cap));
    size_t off = zip.cd_off;
    uint64_t total = 0;
    for (size_t i = 0; i < zip.n; i++) {
        struct s_entry e;
        MG_TRY(s_entry(&zip, &off, &e, msg, cap));
        if (s_is_symlink(&e) || e.name.ptr[e.name.len - 1] == '/')
            continue;
        MG_TRY(s_extract_one(&zip, &e, -1, &total, max_total, msg, cap));
    }
    return MG_E_OK;
}
