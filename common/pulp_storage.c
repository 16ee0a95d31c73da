#include "pulp_storage.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <createrepo_c/checksum.h>
#include <glib.h>

struct pulp_storage_file {
    int fd;
    int committed;
    /* 1 for a file without a name (O_TMPFILE), which commit links into place. */
    int anonymous;
    uint64_t size;
    /* The temporary file's name, or /proc/self/fd/<fd> for an anonymous file. */
    char temp_path[PATH_MAX];
    /* How messages name the file: its quoted path, or "a temporary file in <directory>". */
    char label[PATH_MAX + 32];
    char storage_dir[PATH_MAX];
    cr_ChecksumCtx *sha256;
    /* The checksum of the metadata's type when it is not SHA-256, else NULL. */
    cr_ChecksumCtx *extra;
    cr_ChecksumType extra_type;
    char *extra_hex;
    char *checksum_type;
    char sha256_hex[PULP_SHA256_HEX_LENGTH + 1];
};

/* --- paths ---------------------------------------------------------------------------- */

/* Writes "<directory>/<name>" into out; returns 0, or -1 when it does not fit. */
static int join_path(char *out, size_t out_size, const char *directory, const char *name)
{
    size_t directory_length = strlen(directory);
    size_t name_length = strlen(name);

    if (directory_length + 1 + name_length + 1 > out_size)
        return -1;
    memcpy(out, directory, directory_length);
    out[directory_length] = '/';
    memcpy(out + directory_length + 1, name, name_length + 1);
    return 0;
}

static int is_forbidden_char(unsigned char c)
{
    return c < 0x20 || c == 0x7f || c == '\\';
}

pulp_status_t pulp_storage_path_normalize(const char *path, size_t length, char *out,
                                          size_t out_size, pulp_error_t *error)
{
    size_t written = 0;
    size_t start = 0;

    if (!path || length == 0)
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid path \"\": it is empty");
    if (strnlen(path, length) != length)
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "invalid path \"%s\": it contains a NUL byte", path);
    if (path[0] == '/')
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "invalid path \"%s\": it is absolute", path);

    for (size_t i = 0; i <= length; i++) {
        size_t segment;

        if (i < length && path[i] != '/') {
            if (is_forbidden_char((unsigned char)path[i]))
                return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                                      "invalid path \"%s\": it contains a control character "
                                      "or a backslash", path);
            continue;
        }
        segment = i - start;
        if (segment == 2 && path[start] == '.' && path[start + 1] == '.')
            return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                                  "invalid path \"%s\": it contains a \"..\" segment", path);
        if (segment > 0 && !(segment == 1 && path[start] == '.')) {
            if (written + (written > 0) + segment + 1 > out_size)
                return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                                      "invalid path \"%s\": it is too long", path);
            if (written > 0)
                out[written++] = '/';
            memcpy(out + written, path + start, segment);
            written += segment;
        }
        start = i + 1;
    }

    if (written == 0)
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "invalid path \"%s\": it names no file", path);
    out[written] = '\0';
    return PULP_OK;
}

int pulp_storage_name_is_valid(const char *name)
{
    size_t length;

    if (!name)
        return 0;
    length = strlen(name);
    if (length == 0 || length > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (size_t i = 0; i < length; i++) {
        if (name[i] == '/' || is_forbidden_char((unsigned char)name[i]))
            return 0;
    }
    return 1;
}

static int is_sha256_hex(const char *digest)
{
    if (!digest || strlen(digest) != PULP_SHA256_HEX_LENGTH)
        return 0;
    for (const char *c = digest; *c; c++) {
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return 0;
    }
    return 1;
}

/* Returns how many bytes of name go into a store path: all of them, or as many whole UTF-8
 * characters as keep "<sha256>-<name>" within the 255 bytes of a file name (NAME_MAX). */
static size_t stored_name_length(const char *name)
{
    size_t max = NAME_MAX - PULP_SHA256_HEX_LENGTH - 1;
    size_t length = strlen(name);

    if (length <= max)
        return length;
    length = max;
    while (length > 0 && ((unsigned char)name[length] & 0xC0) == 0x80)
        length--;
    return length;
}

pulp_status_t pulp_storage_content_path(const char *type_id, const char *sha256,
                                        const char *name, char *out, size_t out_size,
                                        pulp_error_t *error)
{
    int length;

    if (!pulp_storage_name_is_valid(type_id))
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid content type \"%s\"",
                              type_id ? type_id : "");
    if (!pulp_storage_name_is_valid(name))
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid file name \"%s\"",
                              name ? name : "");
    if (!is_sha256_hex(sha256))
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "invalid SHA-256 digest \"%s\": expected 64 lower-case hex digits",
                              sha256 ? sha256 : "");

    length = snprintf(out, out_size, "content/%s/%.2s/%s-%.*s", type_id, sha256, sha256,
                      (int)stored_name_length(name), name);
    if (length < 0 || (size_t)length >= out_size)
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "invalid file name \"%s\": the store path is too long", name);
    return PULP_OK;
}

/* --- checksums ------------------------------------------------------------------------ */

/* createrepo_c's checksums run on OpenSSL, several times faster than GLib's. */
static int checksum_from_name(const char *name, cr_ChecksumType *type)
{
    if (!name)
        return 0;
    *type = cr_checksum_type(name);
    return *type != CR_CHECKSUM_UNKNOWN;
}

int pulp_storage_checksum_type_is_supported(const char *checksum_type)
{
    cr_ChecksumType type;

    return checksum_from_name(checksum_type, &type);
}

/* Finishes a checksum and returns its hex digest (g_free it); the context is freed. */
static char *checksum_finish(cr_ChecksumCtx *context)
{
    return cr_checksum_final(context, NULL);
}

/* --- files on their way in ------------------------------------------------------------ */

pulp_status_t pulp_storage_mkdirs(const char *path, int mode, pulp_error_t *error)
{
    char buffer[PATH_MAX];
    size_t length = strlen(path);

    if (length == 0 || length >= sizeof buffer)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not create directory \"%s\": "
                              "invalid path", path);
    memcpy(buffer, path, length + 1);

    for (char *slash = buffer + 1; ; slash++) {
        int at_end = *slash == '\0';

        if (*slash != '/' && !at_end)
            continue;
        *slash = '\0';
        if (mkdir(buffer, (mode_t)mode) != 0 && errno != EEXIST)
            return pulp_error_set(error, PULP_ERR_INTERNAL,
                                  "could not create directory \"%s\": %s", buffer,
                                  strerror(errno));
        if (at_end)
            break;
        *slash = '/';
    }
    return PULP_OK;
}

/* Creates a new file of mode 0644 (less the umask) with a unique name in directory; returns
 * its descriptor, or -1 with errno set. The name contains the pid, a counter and random
 * bits, so processes on other hosts that share the storage do not collide either, and O_EXCL
 * catches the rare clash. */
static int create_temp_file(const char *directory, char *path, size_t path_size)
{
    static unsigned long counter;
    uint64_t random_bits = 0;
    int fd = -1;

    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        if (getrandom(&random_bits, sizeof random_bits, 0) != (ssize_t)sizeof random_bits)
            random_bits = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
        snprintf(path, path_size, "%s/incoming-%ld-%lu-%016llx", directory, (long)getpid(),
                 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED),
                 (unsigned long long)random_bits);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            return -1;
    }
    return fd;
}

/* Returns 1 when files can be linked into place through /proc/self/fd, which an anonymous
 * temporary file needs; checked once per process. */
static int proc_fd_available(void)
{
    static int available = -1;

    if (available < 0)
        available = access("/proc/self/fd", X_OK) == 0;
    return available;
}

/* Opens a file without a name in directory (O_TMPFILE), so that a process that dies leaves
 * nothing behind and commit needs no rename. Returns -1 with errno set where the filesystem
 * lacks O_TMPFILE (NFS, for one), and the caller falls back to a named file. */
static int create_anonymous_file(const char *directory, char *path, size_t path_size)
{
    int fd;

    if (!proc_fd_available()) {
        errno = EOPNOTSUPP;
        return -1;
    }
    fd = open(directory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    if (fd >= 0)
        snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

static int tmpfile_unsupported(int code)
{
    return code == EOPNOTSUPP || code == EISDIR || code == EINVAL;
}

/* Creates the temporary file in tmp_dir: anonymous where the filesystem allows it, else
 * named. Returns the descriptor, or -1 with errno set. */
static int open_temp_file(pulp_storage_file_t *file, const char *tmp_dir)
{
    int fd = create_anonymous_file(tmp_dir, file->temp_path, sizeof file->temp_path);

    if (fd >= 0) {
        file->anonymous = 1;
        return fd;
    }
    if (!tmpfile_unsupported(errno))
        return -1;
    return create_temp_file(tmp_dir, file->temp_path, sizeof file->temp_path);
}

pulp_storage_file_t *pulp_storage_file_new(const char *storage_dir, const char *checksum_type,
                                           pulp_error_t *error)
{
    pulp_storage_file_t *file = calloc(1, sizeof *file);
    cr_ChecksumType extra_type = CR_CHECKSUM_SHA256;
    char tmp_dir[PATH_MAX];

    if (!file) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    file->fd = -1;

    if (checksum_type && !checksum_from_name(checksum_type, &extra_type)) {
        pulp_error_set(error, PULP_ERR_UNSUPPORTED_VALUE, "unsupported checksum type \"%s\"",
                       checksum_type);
        goto fail;
    }
    if (strlen(storage_dir) >= sizeof file->storage_dir - 64) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "invalid storage directory \"%s\": the path "
                       "is too long", storage_dir);
        goto fail;
    }
    strcpy(file->storage_dir, storage_dir);
    join_path(tmp_dir, sizeof tmp_dir, storage_dir, "tmp");
    file->fd = open_temp_file(file, tmp_dir);
    if (file->fd < 0 && errno == ENOENT && pulp_storage_mkdirs(tmp_dir, 0755, error) == PULP_OK)
        file->fd = open_temp_file(file, tmp_dir);
    if (file->anonymous)
        snprintf(file->label, sizeof file->label, "a temporary file in \"%s\"", tmp_dir);
    else
        snprintf(file->label, sizeof file->label, "\"%s\"", file->temp_path);
    if (file->fd < 0) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "could not create temporary file in \"%s\": %s",
                       tmp_dir, strerror(errno));
        file->temp_path[0] = '\0';
        goto fail;
    }

    file->sha256 = cr_checksum_new(CR_CHECKSUM_SHA256, NULL);
    file->extra_type = extra_type;
    if (checksum_type && extra_type != CR_CHECKSUM_SHA256)
        file->extra = cr_checksum_new(extra_type, NULL);
    if (checksum_type)
        file->checksum_type = g_strdup(checksum_type);
    if (!file->sha256 || (checksum_type && extra_type != CR_CHECKSUM_SHA256 && !file->extra)) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "could not start a %s checksum",
                       checksum_type ? checksum_type : "sha256");
        goto fail;
    }
    return file;

fail:
    pulp_storage_file_free(file);
    return NULL;
}

pulp_status_t pulp_storage_file_set_checksum_type(pulp_storage_file_t *file,
                                                  const char *checksum_type, pulp_error_t *error)
{
    cr_ChecksumType type = CR_CHECKSUM_SHA256;

    if (file->size > 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not set the checksum type of "
                              "%s: data was written already", file->label);
    if (checksum_type && !checksum_from_name(checksum_type, &type))
        return pulp_error_set(error, PULP_ERR_UNSUPPORTED_VALUE,
                              "unsupported checksum type \"%s\"", checksum_type);
    if (file->extra)
        g_free(checksum_finish(file->extra));
    file->extra = NULL;
    g_free(file->checksum_type);
    file->checksum_type = checksum_type ? g_strdup(checksum_type) : NULL;
    file->extra_type = type;
    if (checksum_type && type != CR_CHECKSUM_SHA256) {
        file->extra = cr_checksum_new(type, NULL);
        if (!file->extra)
            return pulp_error_set(error, PULP_ERR_INTERNAL, "could not start a %s checksum",
                                  checksum_type);
    }
    return PULP_OK;
}

pulp_status_t pulp_storage_file_write(pulp_storage_file_t *file, const void *data,
                                      size_t length, pulp_error_t *error)
{
    const char *bytes = data;
    size_t left = length;

    if (file->sha256_hex[0])
        return pulp_error_set(error, PULP_ERR_INTERNAL,
                              "could not write to %s: the file is already finished",
                              file->label);
    while (left > 0) {
        ssize_t done = write(file->fd, bytes, left);

        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0)
            return pulp_error_set(error, PULP_ERR_INTERNAL, "could not write to %s: %s",
                                  file->label, strerror(errno));
        bytes += done;
        left -= (size_t)done;
    }

    cr_checksum_update(file->sha256, data, length, NULL);
    if (file->extra)
        cr_checksum_update(file->extra, data, length, NULL);
    file->size += length;
    return PULP_OK;
}

pulp_status_t pulp_storage_file_reset(pulp_storage_file_t *file, pulp_error_t *error)
{
    if (ftruncate(file->fd, 0) != 0 || lseek(file->fd, 0, SEEK_SET) != 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not empty %s: %s", file->label,
                              strerror(errno));
    g_free(checksum_finish(file->sha256));
    file->sha256 = cr_checksum_new(CR_CHECKSUM_SHA256, NULL);
    if (file->extra) {
        g_free(checksum_finish(file->extra));
        file->extra = cr_checksum_new(file->extra_type, NULL);
    }
    g_free(file->extra_hex);
    file->extra_hex = NULL;
    file->size = 0;
    file->sha256_hex[0] = '\0';
    if (!file->sha256 || (file->extra_type != CR_CHECKSUM_SHA256 && file->checksum_type &&
                          !file->extra))
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not restart the checksums of %s",
                              file->label);
    return PULP_OK;
}

uint64_t pulp_storage_file_size(const pulp_storage_file_t *file)
{
    return file->size;
}

const char *pulp_storage_file_path(const pulp_storage_file_t *file)
{
    return file->temp_path;
}

const char *pulp_storage_file_sha256(pulp_storage_file_t *file)
{
    char *digest;

    if (file->sha256_hex[0] || !file->sha256)
        return file->sha256_hex;
    digest = checksum_finish(file->sha256);
    file->sha256 = NULL;
    snprintf(file->sha256_hex, sizeof file->sha256_hex, "%s", digest ? digest : "");
    g_free(digest);
    return file->sha256_hex;
}

/* Returns the hex digest of the checksum type given to pulp_storage_file_new. */
static const char *extra_digest(pulp_storage_file_t *file)
{
    if (!file->extra)
        return pulp_storage_file_sha256(file);
    if (!file->extra_hex) {
        file->extra_hex = checksum_finish(file->extra);
        file->extra = NULL;
    }
    return file->extra_hex ? file->extra_hex : "";
}

pulp_status_t pulp_storage_file_verify(pulp_storage_file_t *file, int64_t expected_size,
                                       const char *expected_checksum, pulp_error_t *error)
{
    const char *actual;

    if (expected_size >= 0 && (uint64_t)expected_size != file->size)
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "size mismatch: expected %" PRId64 " bytes, received %" PRIu64,
                              expected_size, file->size);
    if (!expected_checksum)
        return PULP_OK;
    if (!file->checksum_type)
        return pulp_error_set(error, PULP_ERR_INTERNAL,
                              "could not verify checksum: no checksum type was set");

    actual = extra_digest(file);
    if (g_ascii_strcasecmp(actual, expected_checksum) != 0)
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "checksum mismatch: expected %s %s, computed %s",
                              file->checksum_type, expected_checksum, actual);
    return PULP_OK;
}

static pulp_status_t sync_directory(const char *path, pulp_error_t *error)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    int failed;

    if (fd < 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not open directory \"%s\": %s",
                              path, strerror(errno));
    failed = fsync(fd) != 0;
    close(fd);
    if (failed)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not sync directory \"%s\": %s",
                              path, strerror(errno));
    return PULP_OK;
}

/* Returns 1 when a file with the given size and SHA-256 is already at path. A file there
 * may be left by a machine crash between a deferred-sync commit and its pulp_storage_sync,
 * so its content is checked rather than trusted. */
static int complete_copy_exists(const char *path, uint64_t size, const char *sha256)
{
    char actual[PULP_SHA256_HEX_LENGTH + 1];
    struct stat info;

    if (lstat(path, &info) != 0 || !S_ISREG(info.st_mode) || (uint64_t)info.st_size != size)
        return 0;
    return pulp_storage_sha256_of(path, actual, NULL) == PULP_OK && strcmp(actual, sha256) == 0;
}

/* Creates the directory that will contain path, and its missing parents. Usually only the
 * fan-out directory of a digest's first two characters is missing: one mkdir. */
static pulp_status_t make_parent(char *path, pulp_error_t *error)
{
    char *slash = strrchr(path, '/');
    pulp_status_t status = PULP_OK;

    *slash = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        status = pulp_storage_mkdirs(path, 0755, error);
    *slash = '/';
    return status;
}

/* Moves a named temporary file to final_path, keeping a complete copy that is already
 * there. The rename replaces an incomplete one. */
static pulp_status_t rename_into_place(pulp_storage_file_t *file, char *final_path,
                                       const char *sha256, pulp_error_t *error)
{
    if (complete_copy_exists(final_path, file->size, sha256)) {
        unlink(file->temp_path);
        return PULP_OK;
    }
    if (rename(file->temp_path, final_path) == 0)
        return PULP_OK;
    /* make_parent may leave errno at EEXIST (another process made the directory first), so
     * the retry does not look at errno. */
    if (errno == ENOENT) {
        if (make_parent(final_path, error) != PULP_OK)
            return error ? error->status : PULP_ERR_INTERNAL;
        if (rename(file->temp_path, final_path) == 0)
            return PULP_OK;
    }
    return pulp_error_set(error, PULP_ERR_INTERNAL, "could not rename \"%s\" to \"%s\": %s",
                          file->temp_path, final_path, strerror(errno));
}

static int link_anonymous(const pulp_storage_file_t *file, const char *path)
{
    return linkat(AT_FDCWD, file->temp_path, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

/* Replaces an incomplete file at final_path with an anonymous file: links it under a unique
 * name in the same directory, then renames that over the old file. */
static pulp_status_t replace_with_anonymous(pulp_storage_file_t *file, const char *final_path,
                                            pulp_error_t *error)
{
    char temp[PATH_MAX + 64];
    uint64_t random_bits = 0;
    int linked = -1;

    for (int attempt = 0; attempt < 16 && linked != 0; attempt++) {
        if (getrandom(&random_bits, sizeof random_bits, 0) != (ssize_t)sizeof random_bits)
            random_bits = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^ (uint64_t)attempt;
        snprintf(temp, sizeof temp, "%s.incoming-%ld-%016llx", final_path, (long)getpid(),
                 (unsigned long long)random_bits);
        linked = link_anonymous(file, temp);
        if (linked != 0 && errno != EEXIST)
            break;
    }
    if (linked != 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not link %s to \"%s\": %s",
                              file->label, temp, strerror(errno));
    if (rename(temp, final_path) != 0) {
        int code = errno;

        unlink(temp);
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not rename \"%s\" to \"%s\": %s",
                              temp, final_path, strerror(code));
    }
    return PULP_OK;
}

/* Links an anonymous temporary file at final_path. A complete copy that is already there
 * (stored by another process) is kept; an incomplete one is replaced. */
static pulp_status_t link_into_place(pulp_storage_file_t *file, char *final_path,
                                     const char *sha256, pulp_error_t *error)
{
    if (link_anonymous(file, final_path) == 0)
        return PULP_OK;
    if (errno == ENOENT) {
        if (make_parent(final_path, error) != PULP_OK)
            return error ? error->status : PULP_ERR_INTERNAL;
        if (link_anonymous(file, final_path) == 0)
            return PULP_OK;
    }
    if (errno != EEXIST)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not link %s to \"%s\": %s",
                              file->label, final_path, strerror(errno));
    if (complete_copy_exists(final_path, file->size, sha256))
        return PULP_OK;
    return replace_with_anonymous(file, final_path, error);
}

pulp_status_t pulp_storage_file_commit(pulp_storage_file_t *file, const char *type_id,
                                       const char *name, int flags, char *relative_path,
                                       size_t relative_path_size, pulp_error_t *error)
{
    const char *sha256 = pulp_storage_file_sha256(file);
    char final_path[PATH_MAX];
    pulp_status_t status;
    int deferred = (flags & PULP_STORAGE_DEFER_SYNC) != 0;

    if (pulp_storage_content_path(type_id, sha256, name, relative_path, relative_path_size,
                                  error) != PULP_OK)
        return error ? error->status : PULP_ERR_INVALID_VALUE;
    if (join_path(final_path, sizeof final_path, file->storage_dir, relative_path) != 0)
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid file name \"%s\": the "
                              "store path is too long", name);

    if (!deferred && fsync(file->fd) != 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not sync %s: %s", file->label,
                              strerror(errno));
    if (file->anonymous)
        status = link_into_place(file, final_path, sha256, error);
    else
        status = rename_into_place(file, final_path, sha256, error);
    if (status != PULP_OK)
        return status;
    file->committed = 1;

    if (deferred)
        return PULP_OK;
    *strrchr(final_path, '/') = '\0';
    return sync_directory(final_path, error);
}

void pulp_storage_file_free(pulp_storage_file_t *file)
{
    if (!file)
        return;
    if (file->fd >= 0)
        close(file->fd);
    if (!file->committed && !file->anonymous && file->temp_path[0])
        unlink(file->temp_path);
    if (file->sha256)
        g_free(checksum_finish(file->sha256));
    if (file->extra)
        g_free(checksum_finish(file->extra));
    g_free(file->extra_hex);
    g_free(file->checksum_type);
    free(file);
}

static pulp_status_t copy_into(pulp_storage_file_t *file, const char *source_path,
                               pulp_error_t *error)
{
    char buffer[65536];
    pulp_status_t status = PULP_OK;
    int fd = open(source_path, O_RDONLY);

    if (fd < 0)
        return pulp_error_set(error, PULP_ERR_MISSING_RESOURCE, "could not open \"%s\": %s",
                              source_path, strerror(errno));
    for (;;) {
        ssize_t done = read(fd, buffer, sizeof buffer);

        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0) {
            status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not read \"%s\": %s",
                                    source_path, strerror(errno));
            break;
        }
        if (done == 0)
            break;
        status = pulp_storage_file_write(file, buffer, (size_t)done, error);
        if (status != PULP_OK)
            break;
    }
    close(fd);
    return status;
}

pulp_status_t pulp_storage_add_file(const char *storage_dir, const char *source_path,
                                    const char *type_id, const char *name,
                                    const char *checksum_type, const char *expected_checksum,
                                    int64_t expected_size, char *relative_path,
                                    size_t relative_path_size, pulp_error_t *error)
{
    pulp_storage_file_t *file = pulp_storage_file_new(storage_dir, checksum_type, error);
    pulp_status_t status;

    if (!file)
        return error ? error->status : PULP_ERR_INTERNAL;

    status = copy_into(file, source_path, error);
    if (status == PULP_OK)
        status = pulp_storage_file_verify(file, expected_size, expected_checksum, error);
    if (status == PULP_OK)
        status = pulp_storage_file_commit(file, type_id, name, 0, relative_path,
                                          relative_path_size, error);
    pulp_storage_file_free(file);
    return status;
}

pulp_status_t pulp_storage_sync(const char *storage_dir, pulp_error_t *error)
{
    int fd = open(storage_dir, O_RDONLY | O_DIRECTORY);
    int failed;

    if (fd < 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not open directory \"%s\": %s",
                              storage_dir, strerror(errno));
    failed = syncfs(fd) != 0;
    close(fd);
    if (failed)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not sync the filesystem of "
                              "\"%s\": %s", storage_dir, strerror(errno));
    return PULP_OK;
}

pulp_status_t pulp_storage_sha256_of(const char *path, char out[PULP_SHA256_HEX_LENGTH + 1],
                                     pulp_error_t *error)
{
    char *digest;
    cr_ChecksumCtx *checksum;
    unsigned char buffer[65536];
    pulp_status_t status = PULP_OK;
    int fd = open(path, O_RDONLY);

    if (fd < 0)
        return pulp_error_set(error, PULP_ERR_MISSING_RESOURCE, "could not open \"%s\": %s",
                              path, strerror(errno));

    checksum = cr_checksum_new(CR_CHECKSUM_SHA256, NULL);
    for (;;) {
        ssize_t done = read(fd, buffer, sizeof buffer);

        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0) {
            status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not read \"%s\": %s", path,
                                    strerror(errno));
            break;
        }
        if (done == 0)
            break;
        cr_checksum_update(checksum, buffer, (size_t)done, NULL);
    }
    close(fd);

    digest = checksum_finish(checksum);
    if (status == PULP_OK)
        snprintf(out, PULP_SHA256_HEX_LENGTH + 1, "%s", digest ? digest : "");
    g_free(digest);
    return status;
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void)info;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

pulp_status_t pulp_storage_remove_tree(const char *path, pulp_error_t *error)
{
    struct stat info;

    if (lstat(path, &info) != 0)
        return errno == ENOENT ? PULP_OK
                               : pulp_error_set(error, PULP_ERR_INTERNAL,
                                                "could not remove \"%s\": %s", path,
                                                strerror(errno));
    if (!S_ISDIR(info.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return pulp_error_set(error, PULP_ERR_INTERNAL, "could not remove \"%s\": %s",
                                  path, strerror(errno));
        return PULP_OK;
    }
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not remove \"%s\": %s", path,
                              strerror(errno));
    return PULP_OK;
}
