/* The content step of a yum sync: the feed's packages (see yum_content_sync in yum.h).
 *
 * The sync's thread parses primary into the staging tables (yum_packages.c) while packages
 * download on two helper threads (yum_fetcher.h), so the first downloads start after the
 * first chunk of primary. After each chunk, its packages are matched against the units that
 * exist; the others are read back in the order of primary and downloaded. Then filelists and
 * other are staged, still beside the downloads.
 *
 * Each package that comes back stored joins a batch. Once filelists and other are staged,
 * each full batch is made durable with one syncfs(2), then a single statement inserts its
 * units, their repodata and their rows in yum_sync_found and yum_sync_matched. It is sent
 * without waiting, so PostgreSQL runs it while the downloads go on. A unit that another sync
 * inserted first is matched at the end.
 *
 * Memory stays bounded whatever the size of the feed: at most WINDOW packages are read back
 * from the staging table or in flight, and at most MAX_UNINSERTED stored packages wait for
 * filelists and other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_backoff.h"
#include "pulp_db.h"
#include "pulp_log.h"
#include "pulp_storage.h"
#include "yum.h"
#include "yum_fetcher.h"

/* Stored packages whose units are inserted together, after one syncfs(2). */
#define COMMIT_BATCH 1000
/* Packages read back from the staging table or downloading, at most. A few thousand cover
 * the downloads of the time that a batch insert or a chunk of primary keeps this thread busy. */
#define WINDOW 2000
/* Stored packages that may wait for filelists and other before the downloads pause. */
#define MAX_UNINSERTED 50000
/* Finished downloads taken back in one go, so that the other work keeps its turn. */
#define MAX_COLLECT 1000

typedef struct package_job {
    /* First, so that a job that comes back leads to its package. */
    yum_fetch_job_t job;
    int seq;
    long long size;
    char *type_id;
    char *url;
    char *filename;
    char *checksum_type;
    char *checksum;
} package_job_t;

typedef struct package_batch {
    GPtrArray *seqs;
    GPtrArray *paths;
    GPtrArray *digests;
    GPtrArray *sizes;
} package_batch_t;

typedef struct content {
    const yum_content_source_t *source;
    yum_content_progress_t *progress;
    yum_fetcher_t *fetcher;
    /* Packages read back from the staging table and not submitted yet. */
    GQueue ready;
    /* The last package read back, and the last one staged. */
    int cursor;
    int staged_seq;
    int primary_done;
    /* Packages submitted to the fetcher and not collected. */
    int outstanding;
    int fragments_ready;
    package_batch_t batch;
    /* Packages at the head of the batch whose files the last syncfs(2) made durable. */
    guint durable;
    /* 1 while a batch insert runs on the connection (flush_batch). */
    int insert_pending;
    /* Staged packages whose unit is known (in yum_sync_matched). */
    long long matched;
} content_t;

/* --- SQL ------------------------------------------------------------------------------ */

/* Records the unit of each staged package of seq $1 to $2 that has one and no match yet.
 * Returns the number and bytes of the packages still without a unit, and the number
 * matched. */
static const char match_sql[] =
    "WITH hits AS ("
    "    SELECT p.seq, u.id, p.type_id FROM yum_sync_packages p"
    "    JOIN units u ON u.type_id = p.type_id AND u.unit_key = p.unit_key"
    "    WHERE p.seq BETWEEN $1::int AND $2::int"
    "      AND NOT EXISTS (SELECT 1 FROM yum_sync_matched m WHERE m.seq = p.seq)),"
    " matched AS (INSERT INTO yum_sync_matched (seq, unit_id) SELECT seq, id FROM hits),"
    " found AS ("
    "    INSERT INTO yum_sync_found (unit_id, type_id) SELECT DISTINCT id, type_id FROM hits"
    "    ON CONFLICT (unit_id) DO NOTHING)"
    " SELECT count(*), coalesce(sum(p.size), 0), (SELECT count(*) FROM hits)"
    " FROM yum_sync_packages p"
    " WHERE p.seq BETWEEN $1::int AND $2::int"
    "   AND NOT EXISTS (SELECT 1 FROM yum_sync_matched m WHERE m.seq = p.seq)"
    "   AND NOT EXISTS (SELECT 1 FROM hits h WHERE h.seq = p.seq)";

static const char queue_sql[] =
    "SELECT seq, type_id, location, filename, size, checksumtype, checksum"
    " FROM yum_sync_packages p"
    " WHERE seq > $1::int AND seq <= $2::int"
    "   AND NOT EXISTS (SELECT 1 FROM yum_sync_matched m WHERE m.seq = p.seq)"
    " ORDER BY seq LIMIT $3::int";

static const char missing_fragment_sql[] =
    "SELECT s.nevra FROM yum_sync_packages s"
    " WHERE NOT EXISTS (SELECT 1 FROM yum_sync_filelists f WHERE f.pkgid = s.pkgid)"
    "    OR NOT EXISTS (SELECT 1 FROM yum_sync_other o WHERE o.pkgid = s.pkgid)"
    " LIMIT 1";

/* Stores the repodata of matched units that lack it (units that entered the store by
 * another way than a sync). */
static const char repair_repodata_sql[] =
    "INSERT INTO rpm_repodata (unit_id, primary_xml, filelists_xml, other_xml)"
    " SELECT DISTINCT ON (m.unit_id) m.unit_id, s.primary_xml, f.xml, o.xml"
    " FROM yum_sync_matched m JOIN yum_sync_packages s ON s.seq = m.seq"
    "      JOIN yum_sync_filelists f ON f.pkgid = s.pkgid"
    "      JOIN yum_sync_other o ON o.pkgid = s.pkgid"
    " WHERE NOT EXISTS (SELECT 1 FROM rpm_repodata r WHERE r.unit_id = m.unit_id)"
    " ON CONFLICT (unit_id) DO NOTHING";

/* Inserts the units of a batch of stored packages with their repodata, and records them as
 * found and matched. The uuids are drawn in the materialized CTE, so that each inserted unit
 * leads back to its package. A package whose key another sync inserted first is skipped
 * here and matched at the end. */
static const char insert_units_sql[] =
    "WITH stored AS MATERIALIZED ("
    "    SELECT gen_random_uuid() AS id, d.seq, d.storage_path, d.sha256, d.size, p.type_id,"
    "           p.unit_key, p.metadata, p.pkgid, p.primary_xml"
    "    FROM unnest($1::int[], $2::text[], $3::text[], $4::bigint[])"
    "         AS d(seq, storage_path, sha256, size)"
    /* One index lookup per row: a join plan could scan the whole staging table per batch. */
    "    CROSS JOIN LATERAL (SELECT * FROM yum_sync_packages p WHERE p.seq = d.seq) p"
    /* Two syncs that insert the same keys lock them in the order of the unique key, so they
     * cannot deadlock. The order of primary would not do, because feeds that share packages
     * may list them in different orders. */
    "    ORDER BY p.type_id, p.unit_key),"
    " inserted AS ("
    "    INSERT INTO units (id, type_id, unit_key, metadata, storage_path, size, sha256)"
    "    SELECT id, type_id, unit_key, metadata, storage_path, size, sha256 FROM stored"
    "    ON CONFLICT (type_id, unit_key) DO NOTHING RETURNING id, type_id),"
    " repodata AS ("
    "    INSERT INTO rpm_repodata (unit_id, primary_xml, filelists_xml, other_xml)"
    "    SELECT s.id, s.primary_xml,"
    "           (SELECT f.xml FROM yum_sync_filelists f WHERE f.pkgid = s.pkgid LIMIT 1),"
    "           (SELECT o.xml FROM yum_sync_other o WHERE o.pkgid = s.pkgid LIMIT 1)"
    "    FROM inserted i JOIN stored s ON s.id = i.id),"
    " found AS (INSERT INTO yum_sync_found (unit_id, type_id) SELECT id, type_id FROM inserted)"
    " INSERT INTO yum_sync_matched (seq, unit_id)"
    " SELECT s.seq, s.id FROM inserted i JOIN stored s ON s.id = i.id";

static const char unmatched_sql[] =
    "SELECT nevra FROM yum_sync_packages p"
    " WHERE NOT EXISTS (SELECT 1 FROM yum_sync_matched m WHERE m.seq = p.seq) LIMIT 1";

/* --- package jobs --------------------------------------------------------------------- */

static void package_job_free(package_job_t *package)
{
    if (!package)
        return;
    g_free(package->type_id);
    g_free(package->url);
    g_free(package->filename);
    g_free(package->checksum_type);
    g_free(package->checksum);
    g_free(package);
}

/* Makes a job of a row of queue_sql. */
static package_job_t *package_job_new(content_t *c, PGresult *result, int row,
                                      pulp_error_t *error)
{
    package_job_t *package = g_new0(package_job_t, 1);
    const char *location = PQgetvalue(result, row, 2);
    char url[4200];

    package->seq = atoi(PQgetvalue(result, row, 0));
    package->type_id = g_strdup(PQgetvalue(result, row, 1));
    package->filename = g_strdup(PQgetvalue(result, row, 3));
    package->size = atoll(PQgetvalue(result, row, 4));
    package->checksum_type = g_strdup(PQgetvalue(result, row, 5));
    package->checksum = g_strdup(PQgetvalue(result, row, 6));
    /* Staged locations are absolute URLs (from an xml:base, whose scheme may be in any case)
     * or normalised relative paths. */
    if (g_ascii_strncasecmp(location, "http://", 7) == 0 ||
        g_ascii_strncasecmp(location, "https://", 8) == 0)
        snprintf(url, sizeof url, "%s", location);
    else if (pulp_download_url_join(c->source->feed, location, url, sizeof url, error) !=
             PULP_OK) {
        package_job_free(package);
        return NULL;
    }
    package->url = g_strdup(url);
    return package;
}

static pulp_status_t submit(content_t *c, package_job_t *package, pulp_error_t *error)
{
    yum_fetch_job_t *job = &package->job;
    const char *type = c->source->validate ? package->checksum_type : NULL;

    if (type && !pulp_storage_checksum_type_is_supported(type)) {
        pulp_error_set(error, PULP_ERR_UNSUPPORTED_VALUE, "could not verify \"%s\": unsupported "
                       "checksum type \"%s\"", package->url, type);
        package_job_free(package);
        return error->status;
    }
    job->url = package->url;
    job->type_id = package->type_id;
    job->filename = package->filename;
    job->checksum_type = type;
    job->expected_checksum = type ? package->checksum : NULL;
    job->expected_size = package->size;
    yum_fetcher_submit(c->fetcher, job);
    c->outstanding++;
    return PULP_OK;
}

/* --- batches of stored packages ------------------------------------------------------- */

static char *int_array(GPtrArray *values, guint count)
{
    GString *out = g_string_new("{");

    for (guint i = 0; i < count; i++)
        g_string_append_printf(out, "%s%s", i ? "," : "", (const char *)values->pdata[i]);
    g_string_append_c(out, '}');
    return g_string_free(out, FALSE);
}

static void batch_init(package_batch_t *batch)
{
    batch->seqs = g_ptr_array_new_with_free_func(g_free);
    batch->paths = g_ptr_array_new_with_free_func(g_free);
    batch->digests = g_ptr_array_new_with_free_func(g_free);
    batch->sizes = g_ptr_array_new_with_free_func(g_free);
}

/* Removes the first count packages of the batch. */
static void batch_drop_head(package_batch_t *batch, guint count)
{
    g_ptr_array_remove_range(batch->seqs, 0, count);
    g_ptr_array_remove_range(batch->paths, 0, count);
    g_ptr_array_remove_range(batch->digests, 0, count);
    g_ptr_array_remove_range(batch->sizes, 0, count);
}

static void batch_free(package_batch_t *batch)
{
    if (!batch->seqs)
        return;
    g_ptr_array_free(batch->seqs, TRUE);
    g_ptr_array_free(batch->paths, TRUE);
    g_ptr_array_free(batch->digests, TRUE);
    g_ptr_array_free(batch->sizes, TRUE);
}

/* Reads the result of the batch insert that runs on the connection, if any. */
static pulp_status_t finish_insert(content_t *c, pulp_error_t *error)
{
    PGresult *result;
    pulp_status_t status = PULP_OK;

    if (!c->insert_pending)
        return PULP_OK;
    c->insert_pending = 0;
    while ((result = PQgetResult(c->source->db))) {
        if (PQresultStatus(result) != PGRES_COMMAND_OK && status == PULP_OK)
            status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not insert package units: "
                                    "%s", PQresultErrorMessage(result));
        else if (PQresultStatus(result) == PGRES_COMMAND_OK)
            c->matched += atoll(PQcmdTuples(result));
        PQclear(result);
    }
    return status;
}

/* Returns 1 while the batch insert sent last still runs, so that reading its result would
 * wait. */
static int insert_running(content_t *c)
{
    if (!c->insert_pending)
        return 0;
    /* A failed read shows in finish_insert, which then does not wait. */
    if (!PQconsumeInput(c->source->db))
        return 0;
    return PQisBusy(c->source->db);
}

/* Makes the files of the first COMMIT_BATCH packages of the batch durable, then starts the
 * insert of their units. PostgreSQL runs it while the downloads go on, and finish_insert
 * reads its result. Inserts stay this small even when thousands of stored packages waited
 * for filelists and other, so that reading the download queue back waits for one insert
 * of at most COMMIT_BATCH units. */
static pulp_status_t flush_batch(content_t *c, pulp_error_t *error)
{
    package_batch_t *batch = &c->batch;
    guint count = MIN(batch->seqs->len, COMMIT_BATCH);
    const char *params[4];
    int sent;

    if (finish_insert(c, error) != PULP_OK)
        return error->status;
    if (count == 0)
        return PULP_OK;
    if (c->durable < count) {
        if (pulp_storage_sync(c->source->storage_dir, error) != PULP_OK)
            return error->status;
        c->durable = batch->seqs->len;
    }

    params[0] = int_array(batch->seqs, count);
    params[1] = pulp_db_text_array((const char *const *)batch->paths->pdata, count);
    params[2] = pulp_db_text_array((const char *const *)batch->digests->pdata, count);
    params[3] = int_array(batch->sizes, count);
    sent = PQsendQueryParams(c->source->db, insert_units_sql, 4, NULL, params, NULL, NULL, 0);
    g_free((char *)params[0]);
    free((char *)params[1]);
    free((char *)params[2]);
    g_free((char *)params[3]);
    batch_drop_head(batch, count);
    c->durable -= count;
    if (!sent)
        return pulp_error_set(error, PULP_ERR_UNAVAILABLE, "could not insert package units: %s",
                              PQerrorMessage(c->source->db));
    c->insert_pending = 1;
    return PULP_OK;
}

/* Adds a package that came back stored to the batch, or fails with its reason. */
static pulp_status_t take_stored(content_t *c, package_job_t *package, pulp_error_t *error)
{
    const yum_fetch_job_t *job = &package->job;

    if (job->status != PULP_OK)
        return pulp_error_set(error, job->status, "%s", job->message);
    g_ptr_array_add(c->batch.seqs, g_strdup_printf("%d", package->seq));
    g_ptr_array_add(c->batch.paths, g_strdup(job->path));
    g_ptr_array_add(c->batch.digests, g_strdup(job->sha256));
    g_ptr_array_add(c->batch.sizes, g_strdup_printf("%llu", (unsigned long long)job->size));
    c->progress->items_left--;
    c->progress->size_left -= package->size;
    return PULP_OK;
}

/* Takes back the downloads that finished, waiting up to wait_ms for the first one. */
static pulp_status_t collect(content_t *c, int wait_ms, pulp_error_t *error)
{
    pulp_status_t status = PULP_OK;
    yum_fetch_job_t *job;

    for (int taken = 0; taken < MAX_COLLECT; taken++) {
        job = yum_fetcher_collect(c->fetcher, wait_ms);
        if (!job)
            break;
        c->outstanding--;
        wait_ms = 0;
        if (status == PULP_OK)
            status = take_stored(c, (package_job_t *)job, error);
        package_job_free((package_job_t *)job);
    }
    return status;
}

/* --- the download queue --------------------------------------------------------------- */

/* Reads the next packages to download, staged and without a unit, into the ready queue. */
static pulp_status_t read_queue(content_t *c, pulp_error_t *error)
{
    char after[16];
    char up_to[16];
    char limit[16];
    const char *params[3] = { after, up_to, limit };
    PGresult *result;
    int rows;

    if (finish_insert(c, error) != PULP_OK)
        return error->status;
    snprintf(after, sizeof after, "%d", c->cursor);
    snprintf(up_to, sizeof up_to, "%d", c->staged_seq);
    snprintf(limit, sizeof limit, "%d", WINDOW);
    result = pulp_db_query(c->source->db, error, queue_sql, 3, params);
    if (!result)
        return error->status;

    rows = PQntuples(result);
    for (int row = 0; row < rows; row++) {
        package_job_t *package = package_job_new(c, result, row, error);

        if (!package) {
            PQclear(result);
            return error->status;
        }
        g_queue_push_tail(&c->ready, package);
    }
    c->cursor = rows < WINDOW ? c->staged_seq : atoi(PQgetvalue(result, rows - 1, 0));
    PQclear(result);
    return PULP_OK;
}

/* Submits ready packages while fewer than WINDOW are in flight, reading more back from the
 * staging table when the ready queue is empty. */
static pulp_status_t top_up(content_t *c, pulp_error_t *error)
{
    while (c->outstanding < WINDOW) {
        if (!c->fragments_ready && c->batch.seqs->len >= MAX_UNINSERTED)
            break;
        if (g_queue_is_empty(&c->ready)) {
            /* Reading back waits for a running batch insert: not while downloads remain. */
            if (c->cursor >= c->staged_seq || (c->insert_pending && c->outstanding > WINDOW / 4))
                break;
            if (read_queue(c, error) != PULP_OK)
                return error->status;
            if (g_queue_is_empty(&c->ready))
                break;
        }
        if (submit(c, g_queue_pop_head(&c->ready), error) != PULP_OK)
            return error->status;
    }
    return PULP_OK;
}

static int downloads_done(content_t *c)
{
    return c->primary_done && c->cursor >= c->staged_seq && g_queue_is_empty(&c->ready) &&
           c->outstanding == 0;
}

/* Does everything that does not wait for the parser: takes back finished downloads, inserts
 * a full batch, submits more downloads and writes the progress report. Waits up to wait_ms
 * for a download when nothing else is to be done. */
static pulp_status_t service(content_t *c, int wait_ms, pulp_error_t *error)
{
    if (collect(c, wait_ms, error) != PULP_OK)
        return error->status;
    if (c->fragments_ready && c->batch.seqs->len >= COMMIT_BATCH && !insert_running(c) &&
        flush_batch(c, error) != PULP_OK)
        return error->status;
    if (top_up(c, error) != PULP_OK)
        return error->status;
    return c->source->report(c->source->baton, 0, error);
}

/* --- staging hooks -------------------------------------------------------------------- */

/* Matches packages first_seq to last_seq against the units that exist; counts the others
 * as packages to download. */
static pulp_status_t match_packages(content_t *c, int first_seq, int last_seq,
                                    pulp_error_t *error)
{
    char first[16];
    char last[16];
    const char *params[2] = { first, last };
    PGresult *result;
    long long missing;
    long long bytes;

    if (finish_insert(c, error) != PULP_OK)
        return error->status;
    snprintf(first, sizeof first, "%d", first_seq);
    snprintf(last, sizeof last, "%d", last_seq);
    result = pulp_db_query(c->source->db, error, match_sql, 2, params);
    if (!result)
        return error->status;
    missing = atoll(PQgetvalue(result, 0, 0));
    bytes = atoll(PQgetvalue(result, 0, 1));
    c->matched += atoll(PQgetvalue(result, 0, 2));
    PQclear(result);

    c->progress->items_total += missing;
    c->progress->items_left += missing;
    c->progress->size_total += bytes;
    c->progress->size_left += bytes;
    return PULP_OK;
}

static pulp_status_t primary_chunk_staged(void *baton, int first_seq, int last_seq,
                                          pulp_error_t *error)
{
    content_t *c = baton;

    if (match_packages(c, first_seq, last_seq, error) != PULP_OK)
        return error->status;
    c->staged_seq = last_seq;
    c->progress->packages_in_feed = last_seq;
    return service(c, 0, error);
}

static pulp_status_t fragment_chunk_staged(void *baton, int first_seq, int last_seq,
                                           pulp_error_t *error)
{
    (void)first_seq;
    (void)last_seq;
    return service(baton, 0, error);
}

/* Checks that every package has its filelists and other fragments, and gives the matched
 * units that lack repodata theirs. From then on, batches of units can be inserted. */
static pulp_status_t fragments_staged(content_t *c, const char *feed, pulp_error_t *error)
{
    PGresult *result;

    if (finish_insert(c, error) != PULP_OK || yum_stage_index(c->source->db, error) != PULP_OK)
        return error->status;
    result = pulp_db_query(c->source->db, error, missing_fragment_sql, 0, NULL);
    if (!result)
        return error->status;
    if (PQntuples(result) > 0) {
        pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid metadata of \"%s\": filelists.xml"
                       " or other.xml has no entry for package %s", feed,
                       PQgetvalue(result, 0, 0));
        PQclear(result);
        return error->status;
    }
    PQclear(result);
    /* Without a matched unit, no repodata can be missing: the statement would still scan
     * the staging tables. */
    if (c->matched > 0 &&
        pulp_db_command(c->source->db, error, repair_repodata_sql, 0, NULL) != PULP_OK)
        return error->status;
    c->fragments_ready = 1;
    return PULP_OK;
}

/* --- the step --------------------------------------------------------------------------- */

static pulp_status_t stage_all(content_t *c, pulp_error_t *error)
{
    const yum_content_source_t *source = c->source;
    long long count;

    if (yum_stage_pass(source->db, source->ctx, source->config, YUM_PASS_PRIMARY,
                       source->primary_path, primary_chunk_staged, c, &count, error) != PULP_OK)
        return error->status;
    c->primary_done = 1;
    if (yum_stage_pass(source->db, source->ctx, source->config, YUM_PASS_FILELISTS,
                       source->filelists_path, fragment_chunk_staged, c, &count, error) !=
            PULP_OK ||
        yum_stage_pass(source->db, source->ctx, source->config, YUM_PASS_OTHER,
                       source->other_path, fragment_chunk_staged, c, &count, error) != PULP_OK)
        return error->status;
    return fragments_staged(c, source->feed, error);
}

/* Matches the packages that are still without a unit (another sync inserted theirs first)
 * and checks that none is left. */
static pulp_status_t match_rest(content_t *c, pulp_error_t *error)
{
    PGresult *result;

    if (c->matched >= c->progress->packages_in_feed)
        return PULP_OK;
    if (match_packages(c, 1, c->staged_seq, error) != PULP_OK ||
        pulp_db_command(c->source->db, error, repair_repodata_sql, 0, NULL) != PULP_OK)
        return error->status;
    if (c->matched >= c->progress->packages_in_feed)
        return PULP_OK;

    result = pulp_db_query(c->source->db, error, unmatched_sql, 0, NULL);
    if (!result)
        return error->status;
    pulp_error_set(error, PULP_ERR_INTERNAL, "could not find the unit of package %s after its "
                   "download", PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "?");
    PQclear(result);
    return error->status;
}

static pulp_status_t run_step(content_t *c, pulp_error_t *error)
{
    int64_t started = pulp_monotonic_ms();

    if (stage_all(c, error) != PULP_OK)
        return error->status;
    pulp_log_info("staged %lld packages in %.1f s; %lld of them to download, %lld left",
                  c->progress->packages_in_feed, (double)(pulp_monotonic_ms() - started) / 1000,
                  c->progress->items_total, c->progress->items_left);
    while (!downloads_done(c)) {
        if (service(c, 50, error) != PULP_OK)
            return error->status;
    }
    while (c->batch.seqs->len > 0) {
        if (flush_batch(c, error) != PULP_OK)
            return error->status;
    }
    if (finish_insert(c, error) != PULP_OK)
        return error->status;
    if (match_rest(c, error) != PULP_OK)
        return error->status;
    pulp_log_info("downloaded %lld packages in %.1f s", c->progress->items_total,
                  (double)(pulp_monotonic_ms() - started) / 1000);
    return PULP_OK;
}

/* Stops the helper threads and frees every job, also after a failure. */
static void stop_downloads(content_t *c)
{
    yum_fetch_job_t *job;
    pulp_error_t ignored = PULP_ERROR_INIT;

    /* The connection stays usable for the cleanup only once the result is read. */
    finish_insert(c, &ignored);
    if (c->fetcher) {
        yum_fetcher_stop(c->fetcher);
        while (c->outstanding > 0 && (job = yum_fetcher_collect(c->fetcher, 0))) {
            c->outstanding--;
            package_job_free((package_job_t *)job);
        }
        yum_fetcher_free(c->fetcher);
    }
    g_queue_clear_full(&c->ready, (GDestroyNotify)package_job_free);
    batch_free(&c->batch);
}

pulp_status_t yum_content_sync(const yum_content_source_t *source,
                               yum_content_progress_t *progress, pulp_error_t *error)
{
    content_t c = {
        .source = source,
        .progress = progress,
        .ready = G_QUEUE_INIT,
    };
    pulp_status_t status;

    memset(progress, 0, sizeof *progress);
    batch_init(&c.batch);
    c.fetcher = yum_fetcher_start(source->storage_dir, source->download, error);
    status = c.fetcher ? run_step(&c, error) : error->status;
    stop_downloads(&c);
    return status;
}
