/* Decompression of repository metadata files.
 *
 * createrepo_c 0.17 reads gzip, bzip2 and xz but not zstd, which current Fedora and RHEL
 * repositories use. libarchive's raw format with every filter reads them all and detects the
 * compression from the first bytes of the content, so a file named ".gz" that contains zstd
 * (or nothing compressed at all) is still read correctly. */
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "yum.h"

static pulp_status_t write_all(int fd, const char *data, size_t length, const char *name,
                               pulp_error_t *error)
{
    while (length > 0) {
        ssize_t done = write(fd, data, length);

        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0)
            return pulp_error_set(error, PULP_ERR_INTERNAL, "could not write the decompressed "
                                  "copy of \"%s\": %s", name, strerror(errno));
        data += done;
        length -= (size_t)done;
    }
    return PULP_OK;
}

static pulp_status_t copy_entry(struct archive *reader, int fd, const char *name,
                                pulp_error_t *error)
{
    char buffer[65536];

    for (;;) {
        la_ssize_t done = archive_read_data(reader, buffer, sizeof buffer);

        if (done == 0)
            return PULP_OK;
        if (done < 0)
            return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                                  "could not decompress \"%s\": %s", name,
                                  archive_error_string(reader));
        if (write_all(fd, buffer, (size_t)done, name, error) != PULP_OK)
            return error->status;
    }
}

pulp_status_t yum_decompress(const char *src, const char *dst, pulp_error_t *error)
{
    return yum_decompress_named(src, dst, src, error);
}

pulp_status_t yum_decompress_named(const char *src, const char *dst, const char *name,
                                   pulp_error_t *error)
{
    struct archive *reader = archive_read_new();
    struct archive_entry *entry;
    pulp_status_t status = PULP_OK;
    int fd = -1;
    int result;

    if (!reader)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    archive_read_support_filter_all(reader);
    archive_read_support_format_raw(reader);
    archive_read_support_format_empty(reader);

    if (archive_read_open_filename(reader, src, 65536) != ARCHIVE_OK) {
        status = pulp_error_set(error, PULP_ERR_INVALID_VALUE, "could not decompress \"%s\": %s",
                                name, archive_error_string(reader));
        goto end;
    }

    fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not create the decompressed "
                                "copy of \"%s\" at \"%s\": %s", name, dst, strerror(errno));
        goto end;
    }

    /* An empty file has no entry at all; its decompressed form is empty too. */
    result = archive_read_next_header(reader, &entry);
    if (result == ARCHIVE_OK)
        status = copy_entry(reader, fd, name, error);
    else if (result != ARCHIVE_EOF)
        status = pulp_error_set(error, PULP_ERR_INVALID_VALUE, "could not decompress \"%s\": %s",
                                name, archive_error_string(reader));

end:
    if (fd >= 0 && close(fd) != 0 && status == PULP_OK)
        status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not write the decompressed "
                                "copy of \"%s\": %s", name, strerror(errno));
    archive_read_free(reader);
    return status;
}

char *yum_parse_message(const GError *gerror, const char *path, const char *name)
{
    char **parts;
    char *message;

    if (!gerror)
        return g_strdup("unknown error");
    parts = g_strsplit(gerror->message, path, -1);
    message = g_strjoinv(name, parts);
    g_strfreev(parts);
    return g_strstrip(message);
}
