/* The repository delete task kind: deletes the repository row (its importer, distributors,
 * history and unit associations go with it by ON DELETE CASCADE), then the trees it published
 * and its working directory. Units stay in the store until an orphan cleanup removes them.
 *
 * Arguments: {"repo_id": "<id>"}. */
#include "task_kinds.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pulp_db.h"
#include "pulp_log.h"

/* Where a distributor's relative_url is published, below the storage directory. A tree
 * there is a symlink to the real tree, which is removed too when it lies in the store. */
static const char *const published_roots[] = {
    "published/yum/http/repos",
    "published/yum/https/repos",
    NULL,
};

/* Directories named after the repository id, below the storage directory. */
static const char *const repository_dirs[] = {
    "working/repos",
    NULL,
};

static const char distributors_sql[] =
    "SELECT config->>'relative_url' FROM distributors"
    " WHERE repo_id = $1 AND config ? 'relative_url'";

static const char delete_sql[] = "DELETE FROM repositories WHERE id = $1";

static int remove_entry(const char *path, const struct stat *info, int type, struct FTW *ftw)
{
    (void)info;
    (void)ftw;
    if (type == FTW_DP)
        return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Removes a file, a symlink or a whole directory tree, without following symlinks. */
static int remove_tree(const char *path)
{
    struct stat info;

    if (lstat(path, &info) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(info.st_mode))
        return unlink(path);
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Returns 1 when path is a relative path that stays below its root. */
static int is_safe_relative(const char *path)
{
    if (!*path || path[0] == '/')
        return 0;
    for (const char *segment = path; segment; ) {
        if (strncmp(segment, "..", 2) == 0 && (segment[2] == '/' || segment[2] == '\0'))
            return 0;
        segment = strchr(segment, '/');
        if (segment)
            segment++;
    }
    return 1;
}

static void remove_logged(const char *path)
{
    if (remove_tree(path) != 0)
        pulp_log_warning("could not remove \"%s\": %s", path, strerror(errno));
}

/* Removes the published symlink at root/relative_url and the tree it points to when that
 * tree lies inside the storage directory. */
static void remove_published(const char *storage_dir, const char *root, const char *relative_url)
{
    char link_path[PATH_MAX];
    char target[PATH_MAX];
    char store[PATH_MAX];
    size_t store_length;

    snprintf(link_path, sizeof link_path, "%s/%s/%s", storage_dir, root, relative_url);
    if (realpath(link_path, target) && realpath(storage_dir, store)) {
        store_length = strlen(store);
        if (strncmp(target, store, store_length) == 0 && target[store_length] == '/' &&
            strcmp(target, link_path) != 0)
            remove_logged(target);
    }
    remove_logged(link_path);
}

static void remove_files(pulp_task_context_t *ctx, const char *repo_id, PGresult *urls)
{
    const char *storage_dir = pulp_task_storage_dir(ctx);
    char path[PATH_MAX];

    for (int row = 0; row < PQntuples(urls); row++) {
        const char *relative_url = PQgetvalue(urls, row, 0);

        if (!is_safe_relative(relative_url)) {
            pulp_log_warning("not removing the published tree of relative_url \"%s\": it "
                             "leaves the publishing root", relative_url);
            continue;
        }
        for (size_t i = 0; published_roots[i]; i++)
            remove_published(storage_dir, published_roots[i], relative_url);
    }
    for (size_t i = 0; repository_dirs[i]; i++) {
        snprintf(path, sizeof path, "%s/%s/%s", storage_dir, repository_dirs[i], repo_id);
        remove_logged(path);
    }
}

static pulp_status_t run_repo_delete(pulp_task_context_t *ctx, json_object **result,
                                     pulp_error_t *error)
{
    PGconn *db = pulp_task_db(ctx);
    json_object *value = NULL;
    const char *params[1];
    PGresult *urls = NULL;
    pulp_status_t status;

    (void)result;
    if (!json_object_object_get_ex(pulp_task_args(ctx), "repo_id", &value) ||
        !json_object_is_type(value, json_type_string))
        return pulp_error_set(error, PULP_ERR_MISSING_VALUE, "the argument \"repo_id\" is missing");
    params[0] = json_object_get_string(value);
    if (!is_safe_relative(params[0]) || strchr(params[0], '/'))
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid repository id \"%s\"",
                              params[0]);

    if (pulp_db_begin(db, error) != PULP_OK)
        return error->status;
    urls = pulp_db_query(db, error, distributors_sql, 1, params);
    status = urls ? pulp_db_command(db, error, delete_sql, 1, params) : error->status;
    if (status == PULP_OK)
        status = pulp_db_commit(db, error);
    if (status != PULP_OK) {
        pulp_db_rollback(db);
        goto end;
    }
    remove_files(ctx, params[0], urls);
    pulp_log_info("deleted repository \"%s\"", params[0]);

end:
    PQclear(urls);
    return status;
}

const pulp_task_kind_t pulp_task_kind_repo_delete = {
    PULP_TASK_REPO_DELETE,
    run_repo_delete,
};
