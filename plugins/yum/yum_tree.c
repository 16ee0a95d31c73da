/* Published trees and the symlinks that serve them.
 *
 * Layout under the storage directory:
 *
 *   published/yum/master/<repo>/<distributor>/<tree>/        one complete tree per publish
 *   published/yum/master/<repo>/<distributor>/<tree>.files   the tree's own files, one a line
 *   published/yum/master/<repo>/<distributor>/<tree>.retired mtime: when it stopped being served
 *   published/yum/http/repos/<relative_url>  -> ../../master/<repo>/<distributor>/<tree>
 *   published/yum/https/repos/<relative_url> -> (the same, when https is set)
 *
 * A new tree replaces the served one by rename(2) of a new symlink over the old, so a
 * client resolves either tree, never a mix. A client that read the old repomd.xml may still
 * request the old tree's files after the swap. The new tree therefore also contains links
 * to the files of the trees served in the last TREE_GRACE_SECONDS, and old trees are removed
 * only once that period is over. All symlinks are relative, so the storage directory can be
 * mounted elsewhere. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pulp_log.h"
#include "pulp_storage.h"
#include "yum_tree.h"

/* Seconds a tree stays on disk (and its files reachable from the served tree) after it was
 * replaced: an estimate of the longest time between a client reading repomd.xml and
 * fetching the files it lists. */
#define TREE_GRACE_SECONDS 3600

static pulp_status_t set_path(char *out, size_t out_size, pulp_error_t *error,
                              const char *format, ...) __attribute__((format(printf, 4, 5)));

static pulp_status_t set_path(char *out, size_t out_size, pulp_error_t *error,
                              const char *format, ...)
{
    va_list args;
    int length;

    va_start(args, format);
    length = vsnprintf(out, out_size, format, args);
    va_end(args);
    if (length < 0 || (size_t)length >= out_size)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not build a path: \"%.200s\" is "
                              "too long", out);
    return PULP_OK;
}

pulp_status_t yum_tree_master_dir(const char *storage_dir, const char *repo_id,
                                  const char *distributor_id, char *out, size_t out_size,
                                  pulp_error_t *error)
{
    if (!pulp_storage_name_is_valid(repo_id) || !pulp_storage_name_is_valid(distributor_id))
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid repository \"%s\" or "
                              "distributor \"%s\" id", repo_id, distributor_id);
    return set_path(out, out_size, error, "%s/published/yum/master/%s/%s", storage_dir, repo_id,
                    distributor_id);
}

void yum_tree_package_target(const char *storage_path, char *out, size_t out_size)
{
    /* From <tree>/Packages/<letter>/ up to the storage directory: letter, Packages, tree,
     * distributor, repository, master, yum, published. */
    snprintf(out, out_size, "../../../../../../../../%s", storage_path);
}

/* --- serving links -------------------------------------------------------------------- */

static pulp_status_t link_path(const char *storage_dir, const char *protocol,
                               const char *relative_url, char *out, size_t out_size,
                               pulp_error_t *error)
{
    return set_path(out, out_size, error, "%s/published/yum/%s/repos/%s", storage_dir, protocol,
                    relative_url);
}

/* The link's target, relative to the link's directory: up to published/yum, then master. */
static pulp_status_t link_target(const char *relative_url, const char *repo_id,
                                 const char *distributor_id, const char *tree, char *out,
                                 size_t out_size, pulp_error_t *error)
{
    size_t written = 0;
    int ups = 2;

    for (const char *c = relative_url; *c; c++)
        ups += *c == '/';
    for (int i = 0; i < ups; i++) {
        if (written + 4 > out_size)
            return pulp_error_set(error, PULP_ERR_INTERNAL, "relative URL \"%s\" is too deep",
                                  relative_url);
        memcpy(out + written, "../", 4);
        written += 3;
    }
    return set_path(out + written, out_size - written, error, "master/%s/%s/%s", repo_id,
                    distributor_id, tree);
}

/* Rejects a relative URL inside another repository's served tree: no directory above the
 * link may be a symlink, or the link would be created inside that tree. */
static pulp_status_t check_parents(const char *storage_dir, const char *protocol,
                                   const char *relative_url, pulp_error_t *error)
{
    char path[PATH_MAX];
    const char *slash = relative_url;
    struct stat info;

    while ((slash = strchr(slash, '/'))) {
        if (set_path(path, sizeof path, error, "%s/published/yum/%s/repos/%.*s", storage_dir,
                     protocol, (int)(slash - relative_url), relative_url) != PULP_OK)
            return error->status;
        if (lstat(path, &info) == 0 && S_ISLNK(info.st_mode))
            return pulp_error_set(error, PULP_ERR_CONFLICT, "could not publish at relative URL "
                                  "\"%s\": \"%.*s\" is published by another repository",
                                  relative_url, (int)(slash - relative_url), relative_url);
        slash++;
    }
    return PULP_OK;
}

pulp_status_t yum_tree_serve(const char *storage_dir, const char *protocol,
                             const char *relative_url, const char *repo_id,
                             const char *distributor_id, const char *tree, pulp_error_t *error)
{
    char path[PATH_MAX];
    char temp[PATH_MAX + 64];
    char target[PATH_MAX];
    char current[PATH_MAX];
    char *slash;
    struct stat info;
    ssize_t length;

    if (link_path(storage_dir, protocol, relative_url, path, sizeof path, error) != PULP_OK ||
        link_target(relative_url, repo_id, distributor_id, tree, target, sizeof target,
                    error) != PULP_OK ||
        check_parents(storage_dir, protocol, relative_url, error) != PULP_OK)
        return error->status;

    length = readlink(path, current, sizeof current - 1);
    if (length >= 0) {
        current[length] = '\0';
        if (strcmp(current, target) == 0)
            return PULP_OK;
    } else if (lstat(path, &info) == 0) {
        return pulp_error_set(error, PULP_ERR_CONFLICT, "could not publish at relative URL "
                              "\"%s\": \"%s\" exists and is not a published repository",
                              relative_url, path);
    }

    slash = strrchr(path, '/');
    *slash = '\0';
    if (pulp_storage_mkdirs(path, 0755, error) != PULP_OK)
        return error->status;
    *slash = '/';

    snprintf(temp, sizeof temp, "%s.%ld.tmp", path, (long)getpid());
    unlink(temp);
    if (symlink(target, temp) != 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not create symlink \"%s\": %s",
                              temp, strerror(errno));
    if (rename(temp, path) != 0) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "could not rename \"%s\" to \"%s\": %s", temp,
                       path, strerror(errno));
        unlink(temp);
        return error->status;
    }
    return PULP_OK;
}

/* Removes empty directories above a removed link, up to .../repos. */
static void remove_empty_parents(char *path, const char *stop)
{
    char *slash;

    while ((slash = strrchr(path, '/')) && (size_t)(slash - path) > strlen(stop)) {
        *slash = '\0';
        if (rmdir(path) != 0)
            break;
    }
}

pulp_status_t yum_tree_unserve(const char *storage_dir, const char *protocol,
                               const char *relative_url, const char *repo_id,
                               const char *distributor_id, pulp_error_t *error)
{
    char path[PATH_MAX];
    char repos[PATH_MAX];
    char prefix[PATH_MAX];
    char current[PATH_MAX];
    ssize_t length;

    if (!relative_url || !*relative_url)
        return PULP_OK;
    if (link_path(storage_dir, protocol, relative_url, path, sizeof path, error) != PULP_OK ||
        set_path(repos, sizeof repos, error, "%s/published/yum/%s/repos", storage_dir,
                 protocol) != PULP_OK ||
        set_path(prefix, sizeof prefix, error, "master/%s/%s/", repo_id, distributor_id) !=
            PULP_OK)
        return error->status;

    length = readlink(path, current, sizeof current - 1);
    if (length < 0)
        return PULP_OK;
    current[length] = '\0';
    /* Only a link to this distributor's trees is removed: another distributor may have
     * taken the relative URL since. */
    if (!strstr(current, prefix))
        return PULP_OK;
    if (unlink(path) != 0 && errno != ENOENT)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not remove \"%s\": %s", path,
                              strerror(errno));
    remove_empty_parents(path, repos);
    return PULP_OK;
}

/* --- the trees of one distributor ----------------------------------------------------- */

static int is_tree_name(const char *name)
{
    return name[0] != '.' && !strchr(name, '.');
}

/* Returns the time a tree stopped being served, its creation for a tree never served, or
 * -1 when it cannot be read. */
static time_t retired_at(const char *master_dir, const char *tree)
{
    char path[PATH_MAX];
    struct stat info;

    if (snprintf(path, sizeof path, "%s/%s.retired", master_dir, tree) >= (int)sizeof path)
        return -1;
    if (stat(path, &info) == 0)
        return info.st_mtime;
    if (snprintf(path, sizeof path, "%s/%s", master_dir, tree) >= (int)sizeof path)
        return -1;
    if (stat(path, &info) == 0)
        return info.st_mtime;
    return -1;
}

/* Links one file of an older tree into the new tree unless the new tree has that path:
 * symlinks are copied as symlinks, regular files hard-linked. */
static void carry_file(const char *old_tree, const char *new_tree, const char *relative)
{
    char source[PATH_MAX];
    char destination[PATH_MAX];
    char target[PATH_MAX];
    char *slash;
    struct stat info;
    ssize_t length;

    if (snprintf(source, sizeof source, "%s/%s", old_tree, relative) >= (int)sizeof source ||
        snprintf(destination, sizeof destination, "%s/%s", new_tree, relative) >=
            (int)sizeof destination)
        return;
    if (lstat(destination, &info) == 0 || lstat(source, &info) != 0)
        return;

    slash = strrchr(destination, '/');
    *slash = '\0';
    pulp_storage_mkdirs(destination, 0755, NULL);
    *slash = '/';

    if (S_ISLNK(info.st_mode)) {
        length = readlink(source, target, sizeof target - 1);
        if (length < 0)
            return;
        target[length] = '\0';
        if (symlink(target, destination) != 0)
            pulp_log_warning("could not link \"%s\" into the new tree: %s", relative,
                             strerror(errno));
    } else if (link(source, destination) != 0) {
        pulp_log_warning("could not link \"%s\" into the new tree: %s", relative,
                         strerror(errno));
    }
}

static void carry_tree(const char *master_dir, const char *old, const char *new_tree)
{
    char manifest[PATH_MAX];
    char old_tree[PATH_MAX];
    char line[PATH_MAX];
    char relative[PATH_MAX];
    FILE *in;

    if (snprintf(manifest, sizeof manifest, "%s/%s.files", master_dir, old) >=
            (int)sizeof manifest ||
        snprintf(old_tree, sizeof old_tree, "%s/%s", master_dir, old) >= (int)sizeof old_tree)
        return;
    in = fopen(manifest, "r");
    if (!in)
        return;
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] && pulp_storage_path_normalize(line, strlen(line), relative,
                                                   sizeof relative, NULL) == PULP_OK)
            carry_file(old_tree, new_tree, relative);
    }
    fclose(in);
}

void yum_tree_carry_over(const char *master_dir, const char *current, const char *new_tree)
{
    char new_dir[PATH_MAX];
    time_t now = time(NULL);
    DIR *dir = opendir(master_dir);
    struct dirent *entry;

    if (!dir || snprintf(new_dir, sizeof new_dir, "%s/%s", master_dir, new_tree) >=
                    (int)sizeof new_dir) {
        if (dir)
            closedir(dir);
        return;
    }
    while ((entry = readdir(dir))) {
        const char *name = entry->d_name;
        int served = current && strcmp(name, current) == 0;
        time_t retired;

        if (!is_tree_name(name) || strcmp(name, new_tree) == 0)
            continue;
        retired = retired_at(master_dir, name);
        if (served || (retired >= 0 && now - retired < TREE_GRACE_SECONDS))
            carry_tree(master_dir, name, new_dir);
    }
    closedir(dir);
}

void yum_tree_retire(const char *master_dir, const char *tree)
{
    char path[PATH_MAX];
    int fd;

    if (!tree || !*tree ||
        snprintf(path, sizeof path, "%s/%s.retired", master_dir, tree) >= (int)sizeof path)
        return;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0)
        close(fd);
}

static void remove_tree_files(const char *master_dir, const char *tree)
{
    char path[PATH_MAX];

    if (snprintf(path, sizeof path, "%s/%s", master_dir, tree) >= (int)sizeof path)
        return;
    pulp_storage_remove_tree(path, NULL);
    snprintf(path, sizeof path, "%s/%s.files", master_dir, tree);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s.retired", master_dir, tree);
    unlink(path);
}

void yum_tree_prune(const char *master_dir, const char *current)
{
    time_t now = time(NULL);
    DIR *dir = opendir(master_dir);
    struct dirent *entry;

    if (!dir)
        return;
    while ((entry = readdir(dir))) {
        const char *name = entry->d_name;
        time_t retired;

        if (!is_tree_name(name) || (current && strcmp(name, current) == 0))
            continue;
        retired = retired_at(master_dir, name);
        if (retired >= 0 && now - retired >= TREE_GRACE_SECONDS) {
            pulp_log_info("removing published tree \"%s/%s\"", master_dir, name);
            remove_tree_files(master_dir, name);
        }
    }
    closedir(dir);
}

void yum_tree_discard(const char *master_dir, const char *tree)
{
    remove_tree_files(master_dir, tree);
}
