/* Declarations shared by the files of the yum plugin's worker side (sync and publish).
 *
 * A sync stages the feed's packages in temporary tables of its own database session
 * (yum_packages.c) while it downloads the missing ones into the store (yum_content.c,
 * yum_fetcher.c, yum_storer.c). It creates errata, comps and metadata-file units
 * (yum_errata.c, yum_comps.c), then changes the repository's associations in one
 * transaction at the end (yum_units.c). A publish writes a
 * tree from the stored units (yum_publish.c) and swaps it in with a symlink (yum_tree.c). */
#ifndef PULP_YUM_H
#define PULP_YUM_H

#include <createrepo_c/createrepo_c.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "pulp_error.h"
#include "worker/repo_tasks.h"
#include "worker/task_context.h"
#include "yum_download.h"

/* Content type ids. */
#define YUM_TYPE_RPM "rpm"
#define YUM_TYPE_SRPM "srpm"
#define YUM_TYPE_ERRATUM "erratum"
#define YUM_TYPE_GROUP "package_group"
#define YUM_TYPE_CATEGORY "package_category"
#define YUM_TYPE_ENVIRONMENT "package_environment"
#define YUM_TYPE_METADATA_FILE "yum_repo_metadata_file"

#define YUM_IMPORTER_TYPE "yum_importer"
#define YUM_DISTRIBUTOR_TYPE "yum_distributor"

/* --- progress reports (yum_progress.c) ---------------------------------------------- */

/* One step of a progress report in Pulp 2's shape: its state and the error that ended it. */
typedef struct yum_step {
    const char *state;
    char error[sizeof ((pulp_error_t *)0)->message];
} yum_step_t;

/* Returns a new {state, error_details} object for a progress report. */
json_object *yum_step_json(const yum_step_t *step);

/* --- configuration values (yum_options.c) ----------------------------------------------- */

/* Returns the boolean value of key in config, or fallback when it is absent or null. */
int yum_config_bool(json_object *config, const char *key, int fallback);
/* Returns the integer value of key (a number or a string of digits), or fallback. */
long long yum_config_int(json_object *config, const char *key, long long fallback);
/* Returns the string value of key, or NULL when absent, null or not a string. */
const char *yum_config_string(json_object *config, const char *key);
/* Returns 1 when type_id is listed in config's "type_skip_list" or its alias "skip". */
int yum_config_skips(json_object *config, const char *type_id);

/* --- metadata files (yum_metadata.c) --------------------------------------------------- */

/* Decompresses src into dst, detecting gzip, bzip2, xz, zstd or no compression from the
 * content (libarchive's raw format), never from the name. */
pulp_status_t yum_decompress(const char *src, const char *dst, pulp_error_t *error);

/* Decompresses like yum_decompress, but messages name the source as name (its URL, say),
 * since src and dst may be /proc/self/fd paths that mean nothing to a reader. */
pulp_status_t yum_decompress_named(const char *src, const char *dst, const char *name,
                                   pulp_error_t *error);

/* Returns a parser's error message (g_free it) with path, a temporary file, replaced by
 * name, and without the newline that createrepo_c ends some messages with. */
char *yum_parse_message(const GError *gerror, const char *path, const char *name);

/* --- package staging (yum_packages.c) --------------------------------------------------- */

typedef enum { YUM_PASS_PRIMARY, YUM_PASS_FILELISTS, YUM_PASS_OTHER } yum_pass_t;

/* Runs between two chunks of staged rows, with the connection idle. In the primary pass the
 * packages numbered first_seq to last_seq were staged; in the other passes the numbers mean
 * nothing. A failure, set in error, stops the pass. */
typedef pulp_status_t (*yum_stage_hook_t)(void *baton, int first_seq, int last_seq,
                                          pulp_error_t *error);

/* Creates the session's temporary staging tables (dropping earlier ones). */
pulp_status_t yum_stage_create(PGconn *db, pulp_error_t *error);
/* Drops the staging tables; errors are ignored. */
void yum_stage_drop(PGconn *db);

/* Parses one decompressed file (primary, filelists or other) one package at a time and
 * copies each package into the staging tables: for primary its number (seq, from 1), unit
 * key, metadata and primary fragment; for the others the fragment by pkgid. The fragments
 * are createrepo_c's dumps with the location rewritten to the published layout. Packages of
 * a skipped type (rpm, srpm) are left out. Calls hook (when not NULL) after every chunk of
 * rows; *count receives the number of rows staged. */
pulp_status_t yum_stage_pass(PGconn *db, pulp_task_context_t *ctx, json_object *config,
                             yum_pass_t pass, const char *path, yum_stage_hook_t hook,
                             void *baton, long long *count, pulp_error_t *error);

/* Indexes the fragment tables by pkgid, once filelists and other are staged. */
pulp_status_t yum_stage_index(PGconn *db, pulp_error_t *error);

/* Returns the published location of a package file: Packages/<first letter>/<filename>. */
void yum_package_location(const char *filename, char *out, size_t out_size);

/* --- packages (yum_content.c) --------------------------------------------------------- */

/* The package counters of a sync's progress report: the packages to download and their
 * bytes (totals grow while primary is parsed), and the packages of the feed. */
typedef struct yum_content_progress {
    long long items_total;
    long long items_left;
    long long size_total;
    long long size_left;
    long long packages_in_feed;
} yum_content_progress_t;

/* What the content step of a sync works from. */
typedef struct yum_content_source {
    pulp_task_context_t *ctx;
    PGconn *db;
    json_object *config;
    /* The feed's URL, ending in "/". */
    const char *feed;
    const char *storage_dir;
    const pulp_download_options_t *download;
    /* 0: packages are checked against their size only, not their checksum. */
    int validate;
    /* The decompressed primary, filelists and other files. */
    const char *primary_path;
    const char *filelists_path;
    const char *other_path;
    /* Writes the progress report (a few times a second at most, unless force is set) and
     * fails with PULP_ERR_CANCELED once the task is canceled. */
    pulp_status_t (*report)(void *baton, int force, pulp_error_t *error);
    void *baton;
} yum_content_source_t;

/* Stages the feed's packages, downloads those without a unit into the store and inserts
 * their units with their repodata, and records every package's unit in yum_sync_found. The
 * staging tables and yum_sync_found must exist (yum_stage_create, yum_found_create). */
pulp_status_t yum_content_sync(const yum_content_source_t *source,
                               yum_content_progress_t *progress, pulp_error_t *error);

/* --- units and associations (yum_units.c) ---------------------------------------------- */

/* Creates the temporary table of the units this sync found in the feed. */
pulp_status_t yum_found_create(PGconn *db, pulp_error_t *error);

/* The stored file of a unit. */
typedef struct yum_unit_file {
    const char *storage_path;
    const char *sha256;
    long long size;
} yum_unit_file_t;

/* Inserts a unit unless one with the same key exists, and records it as found by this
 * sync. With replace, an existing unit whose metadata or file (NULL: none) differs gets an
 * update that yum_units_commit applies, counted in *updated. */
pulp_status_t yum_unit_upsert(PGconn *db, const char *type_id, json_object *unit_key,
                              json_object *metadata, const yum_unit_file_t *file, int replace,
                              int *updated, pulp_error_t *error);

typedef struct yum_change_counts {
    long long added;
    long long removed;
} yum_change_counts_t;

/* In one transaction: associates every found unit with the repository, removes the
 * associations of synced types that the feed no longer lists (remove_missing), keeps only
 * the newest retain_old_count + 1 versions of each package (retain_old_count >= 0), stores
 * the scratchpad, and commits. */
pulp_status_t yum_units_commit(PGconn *db, const char *repo_id, json_object *config,
                               json_object *scratchpad, yum_change_counts_t *counts,
                               pulp_error_t *error);

/* Writes the MD5 of the repository's sorted unit ids (its content fingerprint) into out. */
pulp_status_t yum_repo_content_digest(PGconn *db, const char *repo_id, char out[33],
                                      pulp_error_t *error);

/* --- errata and comps (yum_errata.c, yum_comps.c) -------------------------------------- */

/* Creates or updates an erratum unit for each update of a decompressed updateinfo.xml. */
pulp_status_t yum_errata_sync(PGconn *db, pulp_task_context_t *ctx, const char *path,
                              long long *count, int *updated, pulp_error_t *error);

/* Creates or updates group, category and environment units from a decompressed comps.xml;
 * their keys carry repo_id. Types in the skip list are left out. */
pulp_status_t yum_comps_sync(PGconn *db, const char *repo_id, json_object *config,
                             const char *path, long long *count, int *updated,
                             pulp_error_t *error);

/* Writes the repository's errata as an updateinfo document into file (opened by the
 * caller, whose name path is for messages); *count receives the number of errata. */
pulp_status_t yum_errata_publish(PGconn *db, const char *repo_id, CR_FILE *file,
                                 const char *path, long long *count, pulp_error_t *error);

/* Writes the repository's groups, categories and environments as a comps document into
 * file; *count receives how many. */
pulp_status_t yum_comps_publish(PGconn *db, const char *repo_id, CR_FILE *file,
                                const char *path, long long *count, pulp_error_t *error);

/* --- sync and publish entry points (yum_sync.c, yum_publish.c) ------------------------- */

pulp_status_t yum_sync_run(pulp_task_context_t *ctx, const char *repo_id, json_object *config,
                           json_object *scratchpad, pulp_plugin_report_t *report,
                           pulp_error_t *error);

pulp_status_t yum_publish_run(pulp_task_context_t *ctx, const char *repo_id,
                              const char *distributor_id, json_object *config,
                              json_object *scratchpad, pulp_plugin_report_t *report,
                              pulp_error_t *error);

/* Removes the distributor's served links and all its trees. */
pulp_status_t yum_distributor_remove(const char *storage_dir, const char *repo_id,
                                     const char *distributor_id, json_object *config,
                                     json_object *scratchpad, pulp_error_t *error);

#endif
