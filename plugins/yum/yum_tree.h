/* Published trees of yum_distributor and the symlinks that serve them (yum_tree.c). */
#ifndef PULP_YUM_TREE_H
#define PULP_YUM_TREE_H

#include <stddef.h>

#include "pulp_error.h"

/* Writes <storage>/published/yum/master/<repo_id>/<distributor_id>, the folder of the
 * distributor's trees. */
pulp_status_t yum_tree_master_dir(const char *storage_dir, const char *repo_id,
                                  const char *distributor_id, char *out, size_t out_size,
                                  pulp_error_t *error);

/* Writes the target of a package symlink at <tree>/Packages/<letter>/<file> that points to
 * storage_path (relative to the storage directory). */
void yum_tree_package_target(const char *storage_path, char *out, size_t out_size);

/* Points <storage>/published/yum/<protocol>/repos/<relative_url> at the tree, replacing the
 * previous link atomically. Fails when the path is another repository's tree or lies
 * inside one, or is not a symlink. */
pulp_status_t yum_tree_serve(const char *storage_dir, const char *protocol,
                             const char *relative_url, const char *repo_id,
                             const char *distributor_id, const char *tree, pulp_error_t *error);

/* Removes the link at relative_url when it points at a tree of this distributor. */
pulp_status_t yum_tree_unserve(const char *storage_dir, const char *protocol,
                               const char *relative_url, const char *repo_id,
                               const char *distributor_id, pulp_error_t *error);

/* Links into new_tree the files of the served tree (current) and of the trees retired
 * within the grace period, wherever new_tree has no file of that path. */
void yum_tree_carry_over(const char *master_dir, const char *current, const char *new_tree);

/* Records that tree stopped being served now. */
void yum_tree_retire(const char *master_dir, const char *tree);

/* Removes the trees other than current that were retired (or, never served, created) more
 * than the grace period ago. */
void yum_tree_prune(const char *master_dir, const char *current);

/* Removes a tree that was never served, and its list of files. */
void yum_tree_discard(const char *master_dir, const char *tree);

#endif
