/* Units and repository associations of a sync.
 *
 * New units are inserted as soon as their content is stored. Until a repository contains
 * them they are orphans, which no repository shows. Everything a repository shows changes in
 * yum_units_commit's single transaction: new associations, removals, and the metadata
 * updates of existing units (staged in yum_sync_updates until then), so a sync that fails or
 * is canceled before that point leaves the repository exactly as it was. */
#include <createrepo_c/createrepo_c.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_db.h"
#include "pulp_log.h"
#include "yum.h"

static const char create_sql[] =
    "DROP TABLE IF EXISTS yum_sync_found, yum_sync_updates;"
    "CREATE TEMP TABLE yum_sync_found (unit_id uuid PRIMARY KEY, type_id text NOT NULL);"
    "CREATE TEMP TABLE yum_sync_updates ("
    "    unit_id uuid PRIMARY KEY, metadata jsonb NOT NULL, storage_path text, sha256 text,"
    "    size bigint);";

/* Inserts the unit unless its key exists; an existing unit whose metadata or file differs
 * gets a staged update (only with $4 = true). Both end up in yum_sync_found. Returns the
 * number of staged updates and of units found (0 only when a concurrent insert of the same
 * key committed after this statement's snapshot: the caller runs it again). */
static const char upsert_sql[] =
    "WITH inserted AS ("
    "    INSERT INTO units (id, type_id, unit_key, metadata, storage_path, sha256, size)"
    "    VALUES (gen_random_uuid(), $1, $2::jsonb, $3::jsonb, $5, $6, $7::bigint)"
    "    ON CONFLICT (type_id, unit_key) DO NOTHING RETURNING id),"
    " existing AS ("
    "    SELECT id, metadata, storage_path, sha256 FROM units"
    "    WHERE type_id = $1 AND unit_key = $2::jsonb),"
    " staged AS ("
    "    INSERT INTO yum_sync_updates (unit_id, metadata, storage_path, sha256, size)"
    "    SELECT id, $3::jsonb, $5, $6, $7::bigint FROM existing"
    "    WHERE $4::boolean AND (metadata, storage_path, sha256)"
    "          IS DISTINCT FROM ($3::jsonb, $5::text, $6::text)"
    "    ON CONFLICT (unit_id) DO UPDATE SET metadata = EXCLUDED.metadata,"
    "        storage_path = EXCLUDED.storage_path, sha256 = EXCLUDED.sha256, size = EXCLUDED.size"
    "    RETURNING unit_id),"
    " found AS ("
    "    INSERT INTO yum_sync_found (unit_id, type_id)"
    "    SELECT id, $1 FROM inserted UNION ALL SELECT id, $1 FROM existing"
    "    ON CONFLICT (unit_id) DO NOTHING)"
    " SELECT (SELECT count(*) FROM staged),"
    "        (SELECT count(*) FROM inserted) + (SELECT count(*) FROM existing)";

pulp_status_t yum_found_create(PGconn *db, pulp_error_t *error)
{
    PGresult *result = PQexec(db, create_sql);
    pulp_status_t status = PULP_OK;

    if (PQresultStatus(result) != PGRES_COMMAND_OK)
        status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not prepare the sync tables: "
                                "%s", PQerrorMessage(db));
    PQclear(result);
    return status;
}

pulp_status_t yum_unit_upsert(PGconn *db, const char *type_id, json_object *unit_key,
                              json_object *metadata, const yum_unit_file_t *file, int replace,
                              int *updated, pulp_error_t *error)
{
    char size[32] = "";
    const char *params[7] = {
        type_id,
        json_object_to_json_string_ext(unit_key, JSON_C_TO_STRING_PLAIN),
        json_object_to_json_string_ext(metadata, JSON_C_TO_STRING_PLAIN),
        replace ? "true" : "false",
        file ? file->storage_path : NULL,
        file ? file->sha256 : NULL,
        NULL,
    };

    if (file) {
        snprintf(size, sizeof size, "%lld", file->size);
        params[6] = size;
    }

    /* Two attempts: the second runs with a new snapshot, which includes a concurrent
     * insert that committed after the first one's. */
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *result = pulp_db_query(db, error, upsert_sql, 7, params);
        long found;

        if (!result)
            return error->status;
        found = atol(PQgetvalue(result, 0, 1));
        if (updated)
            *updated += atoi(PQgetvalue(result, 0, 0));
        PQclear(result);
        if (found > 0)
            return PULP_OK;
    }
    return pulp_error_set(error, PULP_ERR_INTERNAL, "could not create or find the %s unit %s",
                          type_id, params[1]);
}

/* --- the final transaction -------------------------------------------------------------- */

/* Locks the units to update in the order of their ids before the UPDATE, whose plan may
 * visit them in any order: two syncs that update the same units then wait for each other
 * instead of deadlocking. */
static const char lock_updates_sql[] =
    "SELECT 1 FROM units u JOIN yum_sync_updates p ON u.id = p.unit_id"
    " ORDER BY u.id FOR UPDATE OF u";

static const char apply_updates_sql[] =
    "UPDATE units u SET metadata = p.metadata, storage_path = p.storage_path,"
    "       sha256 = p.sha256, size = p.size, updated = now()"
    " FROM yum_sync_updates p WHERE u.id = p.unit_id";

/* The task holds the repository's lock, so no other writer adds associations meanwhile.
 * An anti-join costs less than ON CONFLICT, which inserts each row speculatively. */
static const char add_sql[] =
    "INSERT INTO repo_content_units (repo_id, unit_id, unit_type_id, owner_type, owner_id)"
    " SELECT $1, f.unit_id, f.type_id, 'importer', 'yum_importer' FROM yum_sync_found f"
    " WHERE NOT EXISTS (SELECT 1 FROM repo_content_units r"
    "                   WHERE r.repo_id = $1 AND r.unit_id = f.unit_id)";

static const char remove_missing_sql[] =
    "DELETE FROM repo_content_units r"
    " WHERE r.repo_id = $1 AND r.unit_type_id = ANY($2::text[])"
    "   AND NOT EXISTS (SELECT 1 FROM yum_sync_found f WHERE f.unit_id = r.unit_id)";

static const char packages_sql[] =
    "SELECT r.unit_id, u.unit_key->>'name', u.unit_key->>'arch', u.unit_key->>'epoch',"
    "       u.unit_key->>'version', u.unit_key->>'release'"
    " FROM repo_content_units r JOIN units u ON u.id = r.unit_id"
    " WHERE r.repo_id = $1 AND r.unit_type_id IN ('rpm', 'srpm')"
    " ORDER BY 2, 3";

static const char remove_units_sql[] =
    "DELETE FROM repo_content_units WHERE repo_id = $1 AND unit_id = ANY($2::uuid[])";

static const char touch_repository_sql[] =
    "UPDATE repositories"
    " SET last_unit_added = CASE WHEN $2::bigint > 0 THEN now() ELSE last_unit_added END,"
    "     last_unit_removed = CASE WHEN $3::bigint > 0 THEN now() ELSE last_unit_removed END"
    " WHERE id = $1";

static const char scratchpad_sql[] =
    "UPDATE importers SET scratchpad = $2::jsonb || jsonb_build_object('content_digest',"
    "    (SELECT coalesce(md5(string_agg(unit_id::text, ',' ORDER BY unit_id)), '')"
    "     FROM repo_content_units WHERE repo_id = $1))"
    " WHERE repo_id = $1";

static long long affected_rows(PGconn *db, const char *sql, int n_params,
                               const char *const *params, pulp_error_t *error)
{
    PGresult *result = pulp_db_query(db, error, sql, n_params, params);
    long long count;

    if (!result)
        return -1;
    count = atoll(PQcmdTuples(result));
    PQclear(result);
    return count;
}

/* The content types a sync brings in, less the skipped ones, as a text[] literal. */
static char *synced_types(json_object *config)
{
    static const char *const types[] = {
        YUM_TYPE_RPM, YUM_TYPE_SRPM, YUM_TYPE_ERRATUM, YUM_TYPE_GROUP, YUM_TYPE_CATEGORY,
        YUM_TYPE_ENVIRONMENT, YUM_TYPE_METADATA_FILE,
    };
    const char *kept[sizeof types / sizeof types[0]];
    size_t n_kept = 0;

    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (!yum_config_skips(config, types[i]))
            kept[n_kept++] = types[i];
    }
    return pulp_db_text_array(kept, n_kept);
}

typedef struct package_version {
    const char *unit_id;
    const char *epoch;
    const char *version;
    const char *release;
} package_version_t;

static int newest_first(const void *left, const void *right)
{
    const package_version_t *a = left;
    const package_version_t *b = right;

    return cr_cmp_evr(b->epoch, b->version, b->release, a->epoch, a->version, a->release);
}

/* Appends the ids of every version of one name and arch beyond the newest keep ones. */
static void collect_old(package_version_t *versions, size_t count, long long keep,
                        GPtrArray *old_ids)
{
    qsort(versions, count, sizeof *versions, newest_first);
    for (size_t i = (size_t)keep; i < count; i++)
        g_ptr_array_add(old_ids, (gpointer)versions[i].unit_id);
}

/* Removes all but the newest retain_old_count + 1 versions of each package name and arch.
 * RPM version order (rpmvercmp) is not expressible in SQL, so the rows are compared here. */
static long long remove_old_versions(PGconn *db, const char *repo_id, long long retain_old_count,
                                     pulp_error_t *error)
{
    const char *params[2] = { repo_id, NULL };
    PGresult *result = pulp_db_query(db, error, packages_sql, 1, params);
    GPtrArray *old_ids = g_ptr_array_new();
    package_version_t *versions;
    long long removed = 0;
    int rows;
    int start = 0;

    if (!result) {
        g_ptr_array_free(old_ids, TRUE);
        return -1;
    }
    rows = PQntuples(result);
    versions = calloc((size_t)rows + 1, sizeof *versions);

    for (int row = 0; row <= rows; row++) {
        int same = row < rows && row > start &&
                   strcmp(PQgetvalue(result, row, 1), PQgetvalue(result, start, 1)) == 0 &&
                   strcmp(PQgetvalue(result, row, 2), PQgetvalue(result, start, 2)) == 0;

        if (row > start && !same) {
            collect_old(versions + start, (size_t)(row - start), retain_old_count + 1, old_ids);
            start = row;
        }
        if (row < rows) {
            versions[row].unit_id = PQgetvalue(result, row, 0);
            versions[row].epoch = PQgetvalue(result, row, 3);
            versions[row].version = PQgetvalue(result, row, 4);
            versions[row].release = PQgetvalue(result, row, 5);
        }
    }

    if (old_ids->len > 0) {
        char *array = pulp_db_text_array((const char *const *)old_ids->pdata, old_ids->len);

        params[1] = array;
        removed = affected_rows(db, remove_units_sql, 2, params, error);
        free(array);
    }
    free(versions);
    g_ptr_array_free(old_ids, TRUE);
    PQclear(result);
    return removed;
}

static pulp_status_t apply_changes(PGconn *db, const char *repo_id, json_object *config,
                                   yum_change_counts_t *counts, pulp_error_t *error)
{
    const char *params[3] = { repo_id, NULL, NULL };
    long long retain_old_count = yum_config_int(config, "retain_old_count", -1);
    long long removed;

    if (pulp_db_command(db, error, lock_updates_sql, 0, NULL) != PULP_OK ||
        pulp_db_command(db, error, apply_updates_sql, 0, NULL) != PULP_OK)
        return error->status;
    counts->added = affected_rows(db, add_sql, 1, params, error);
    if (counts->added < 0)
        return error->status;

    if (yum_config_bool(config, "remove_missing", 0)) {
        char *types = synced_types(config);

        params[1] = types;
        removed = affected_rows(db, remove_missing_sql, 2, params, error);
        free(types);
        if (removed < 0)
            return error->status;
        counts->removed += removed;
    }
    if (retain_old_count >= 0) {
        removed = remove_old_versions(db, repo_id, retain_old_count, error);
        if (removed < 0)
            return error->status;
        counts->removed += removed;
    }
    return PULP_OK;
}

pulp_status_t yum_units_commit(PGconn *db, const char *repo_id, json_object *config,
                               json_object *scratchpad, yum_change_counts_t *counts,
                               pulp_error_t *error)
{
    char added[32];
    char removed[32];
    const char *touch_params[3] = { repo_id, added, removed };
    const char *scratchpad_params[2] = {
        repo_id, json_object_to_json_string_ext(scratchpad, JSON_C_TO_STRING_PLAIN),
    };

    memset(counts, 0, sizeof *counts);
    if (pulp_db_begin(db, error) != PULP_OK)
        return error->status;
    if (apply_changes(db, repo_id, config, counts, error) != PULP_OK)
        goto fail;

    snprintf(added, sizeof added, "%lld", counts->added);
    snprintf(removed, sizeof removed, "%lld", counts->removed);
    if (pulp_db_command(db, error, touch_repository_sql, 3, touch_params) != PULP_OK ||
        pulp_db_command(db, error, scratchpad_sql, 2, scratchpad_params) != PULP_OK ||
        pulp_db_commit(db, error) != PULP_OK)
        goto fail;
    return PULP_OK;

fail:
    pulp_db_rollback(db);
    return error->status;
}

static const char digest_sql[] =
    "SELECT coalesce(md5(string_agg(unit_id::text, ',' ORDER BY unit_id)), '')"
    " FROM repo_content_units WHERE repo_id = $1";

pulp_status_t yum_repo_content_digest(PGconn *db, const char *repo_id, char out[33],
                                      pulp_error_t *error)
{
    const char *params[1] = { repo_id };
    PGresult *result = pulp_db_query(db, error, digest_sql, 1, params);

    if (!result)
        return error->status;
    snprintf(out, 33, "%s", PQgetvalue(result, 0, 0));
    PQclear(result);
    return PULP_OK;
}
