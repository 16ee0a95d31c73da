/* The content store and the checks on paths that come from outside.
 *
 * Every file is stored once, under the SHA-256 of its content:
 *
 *     <storage>/content/<type>/<sha256[0:2]>/<sha256>-<name>
 *
 * One inode per file: a directory per digest would double the inodes that a sync creates,
 * and inode creation bounds how fast small packages enter the store.
 *
 * A download or an upload is written to a temporary file in <storage>/tmp (the same
 * filesystem), checked against its expected size and checksum, made durable and moved into
 * place, so a file under its final name is always complete and correct. The temporary file
 * has no name where the filesystem supports O_TMPFILE (ext4, XFS, btrfs, tmpfs): it is linked
 * into place with linkat(2), and a process that dies leaves nothing behind. Elsewhere (NFS)
 * it is a named file in <storage>/tmp that rename(2) moves. Two processes that store the
 * same content at the same moment both succeed and leave one file.
 *
 * The checksums come from createrepo_c (which computes them with OpenSSL), so only programs
 * that link createrepo_c (pulp-worker, the tests) may call the file functions. The path
 * functions need no library. */
#ifndef PULP_STORAGE_H
#define PULP_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "pulp_error.h"

#define PULP_SHA256_HEX_LENGTH 64
/* Maximum length in bytes of a relative path that the store builds or accepts. */
#define PULP_STORAGE_PATH_MAX 1024

/* Normalises a relative path that comes from outside (a location in feed metadata, an upload
 * name): removes "." segments, repeated and trailing slashes. Rejects an empty path, an
 * absolute path, any ".." segment, NUL bytes (length is the byte length, so a NUL inside is
 * seen), backslashes and control characters. Writes the result into out. */
pulp_status_t pulp_storage_path_normalize(const char *path, size_t length, char *out,
                                          size_t out_size, pulp_error_t *error);

/* Returns 1 when name is usable as one file name: not empty, at most 255 bytes, not "." or
 * "..", without "/", backslash or control characters. */
int pulp_storage_name_is_valid(const char *name);

/* Writes the store path of a file, relative to the storage directory:
 * content/<type_id>/<sha256[0:2]>/<sha256>-<name>, where a name longer than 190 bytes is
 * cut so that the last component fits in 255 bytes. Fails on an invalid type id, name or
 * digest. */
pulp_status_t pulp_storage_content_path(const char *type_id, const char *sha256,
                                        const char *name, char *out, size_t out_size,
                                        pulp_error_t *error);

/* Returns 1 when the checksum type is one the store can verify: md5, sha (SHA-1), sha1,
 * sha224, sha256, sha384, sha512. */
int pulp_storage_checksum_type_is_supported(const char *checksum_type);

/* A file on its way into the store. */
typedef struct pulp_storage_file pulp_storage_file_t;

/* Flags of pulp_storage_file_commit. */
enum {
    /* Skip the fsync of the file and of its directory: the caller makes a batch durable
     * with pulp_storage_sync before anything refers to the files. */
    PULP_STORAGE_DEFER_SYNC = 1,
};

/* Creates a temporary file in <storage_dir>/tmp. Besides SHA-256, the file computes the
 * checksum named by checksum_type (NULL for none) so that it can be verified against
 * metadata that uses another type. */
pulp_storage_file_t *pulp_storage_file_new(const char *storage_dir, const char *checksum_type,
                                           pulp_error_t *error);

/* Sets the type of the checksum to verify besides SHA-256 (NULL for none), for a file created
 * before that type was known. Fails after the first write. */
pulp_status_t pulp_storage_file_set_checksum_type(pulp_storage_file_t *file,
                                                  const char *checksum_type, pulp_error_t *error);

pulp_status_t pulp_storage_file_write(pulp_storage_file_t *file, const void *data,
                                      size_t length, pulp_error_t *error);

/* Empties the file and restarts its checksums, for a download that starts over. */
pulp_status_t pulp_storage_file_reset(pulp_storage_file_t *file, pulp_error_t *error);

uint64_t pulp_storage_file_size(const pulp_storage_file_t *file);

/* Returns a path that reads what was written so far: the temporary file's name, or
 * /proc/self/fd/<descriptor> for a file without a name, valid in this process only and until
 * pulp_storage_file_free. */
const char *pulp_storage_file_path(const pulp_storage_file_t *file);

/* Returns the hex SHA-256 of what was written. The file takes no more writes afterwards. */
const char *pulp_storage_file_sha256(pulp_storage_file_t *file);

/* Checks the size (skipped when expected_size < 0) and the checksum of the type given to
 * pulp_storage_file_new (skipped when expected_checksum is NULL). The error message names
 * what differs, with both values. */
pulp_status_t pulp_storage_file_verify(pulp_storage_file_t *file, int64_t expected_size,
                                       const char *expected_checksum, pulp_error_t *error);

/* Moves the file to its store path under its SHA-256 and writes that path, relative to the
 * storage directory, into relative_path. When a complete copy is already there, it is kept
 * and the temporary file removed; an incomplete one (left by a machine crash before a
 * deferred sync) is replaced. The file object stays valid for pulp_storage_file_free. */
pulp_status_t pulp_storage_file_commit(pulp_storage_file_t *file, const char *type_id,
                                       const char *name, int flags, char *relative_path,
                                       size_t relative_path_size, pulp_error_t *error);

/* Removes the temporary file unless it was committed, and frees the object. NULL is fine. */
void pulp_storage_file_free(pulp_storage_file_t *file);

/* Copies a local file into the store through a temporary file, verified like a download. */
pulp_status_t pulp_storage_add_file(const char *storage_dir, const char *source_path,
                                    const char *type_id, const char *name,
                                    const char *checksum_type, const char *expected_checksum,
                                    int64_t expected_size, char *relative_path,
                                    size_t relative_path_size, pulp_error_t *error);

/* Makes every file committed with PULP_STORAGE_DEFER_SYNC durable (syncfs(2) on the
 * storage filesystem). */
pulp_status_t pulp_storage_sync(const char *storage_dir, pulp_error_t *error);

/* Computes the hex SHA-256 of a file's content into out. */
pulp_status_t pulp_storage_sha256_of(const char *path, char out[PULP_SHA256_HEX_LENGTH + 1],
                                     pulp_error_t *error);

/* Creates a directory and its missing parents with the given mode; existing ones are fine. */
pulp_status_t pulp_storage_mkdirs(const char *path, int mode, pulp_error_t *error);

/* Removes a directory tree without following symlinks. A missing path is fine. */
pulp_status_t pulp_storage_remove_tree(const char *path, pulp_error_t *error);

#endif
