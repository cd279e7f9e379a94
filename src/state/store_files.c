/* src/state/store_files.c: the files of an embedded store: its directory (0700), the database
 * and its sidecar files (0600, readable by no one else), and durable directory entries. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "state/store_internal.h"

/* Creates dir and any missing parents 0700; an existing directory is left as it is. */
enum mg_err mg_store_make_dir(const char *dir)
{
    char *p = mg_strdup(dir);
    if (p == NULL)
        return mg_store_fail(MG_E_NOMEM, "out of memory");
    enum mg_err err = MG_E_OK;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) == 0) {
            if (chmod(p, 0700) != 0) {
                err = mg_store_fail(MG_E_IO, "cannot set permissions of %s: %s", p,
                                    strerror(errno));
                goto out;
            }
        } else if (errno != EEXIST) {
            err = mg_store_fail(MG_E_IO, "cannot create data directory %s: %s", p, strerror(errno));
            goto out;
        }
        p[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        err = mg_store_fail(MG_E_IO, "cannot use data directory %s: %s", dir, strerror(errno));
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        err = mg_store_fail(MG_E_IO, "data location %s exists and is not a directory", dir);
        goto out;
    }
    if ((st.st_mode & 077) != 0)
        MG_LOG(MG_LOG_WARN, MG_SUB_STORE,
               "data directory %s is accessible to other users (mode %03o); 0700 is advised", dir,
               (unsigned)(st.st_mode & 0777));
out:
    mg_free(p);
    return err;
}

/* Makes sure path (created when create is true) is a regular file no one else can read. */
enum mg_err mg_store_secure_file(const char *path, bool create)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (fd < 0) {
        if (!create && errno == ENOENT)
            return MG_E_OK;
        return mg_store_fail(MG_E_IO, "cannot open database %s: %s", path, strerror(errno));
    }
    enum mg_err err = MG_E_OK;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = mg_store_fail(MG_E_IO, "cannot stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = mg_store_fail(MG_E_IO, "%s is not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 0777) != 0600 && st.st_size == 0) {
        if (fchmod(fd, 0600) != 0)
            err = mg_store_fail(MG_E_IO, "cannot set permissions of %s: %s", path, strerror(errno));
    } else if ((st.st_mode & 077) != 0) {
        MG_LOG(MG_LOG_WARN, MG_SUB_STORE, "%s was readable by other users: now mode %03o", path,
               (unsigned)(st.st_mode & 0700));
        if (fchmod(fd, st.st_mode & 0700) != 0)
            err = mg_store_fail(MG_E_IO, "cannot set permissions of %s: %s", path, strerror(errno));
    }
out:
    close(fd);
    return err;
}

enum mg_err mg_store_secure_sidecars(const char *path)
{
    char side[4096];
    static const char *const suffixes[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        int n = snprintf(side, sizeof(side), "%s%s", path, suffixes[i]);
        if (n < 0 || (size_t)n >= sizeof(side))
            return mg_store_fail(MG_E_INVALID, "database path %s is too long", path);
        MG_TRY(mg_store_secure_file(side, false));
    }
    return MG_E_OK;
}

/* Makes the directory of a new database durable, so the file's name survives a power loss. */
void mg_store_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    (void)fsync(fd);
    close(fd);
}
