/* Staging of a feed's packages. Primary, filelists and other are parsed one package at a
 * time with createrepo_c's callback parsers. Each package goes at once into temporary tables
 * through COPY, so memory does not grow with the size of the repository. The COPY ends after
 * every chunk of rows, so that the caller's hook can run other statements on the connection
 * (and start downloads) while the parser waits.
 *
 * yum_sync_packages holds one row per package of primary (unit key, metadata, where to
 * download it, its primary fragment), numbered by seq in the order of primary;
 * yum_sync_filelists and yum_sync_other hold the other two fragments by pkgid. The fragments
 * are createrepo_c's own dumps of the parsed package, with location_href rewritten to the
 * published layout, so a publish concatenates them. yum_sync_matched records the unit of
 * each package once it is known. */
#include <createrepo_c/createrepo_c.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pulp_db.h"
#include "pulp_storage.h"
#include "yum.h"
#include "yum_download.h"

/* Rows of one COPY, between two calls of the hook. */
#define CHUNK_ROWS 500

static const char create_sql[] =
    "DROP TABLE IF EXISTS yum_sync_packages, yum_sync_filelists, yum_sync_other,"
    "    yum_sync_matched;"
    "CREATE TEMP TABLE yum_sync_packages ("
    "    seq int PRIMARY KEY,"
    "    pkgid text NOT NULL,"
    "    type_id text NOT NULL,"
    "    unit_key jsonb NOT NULL,"
    "    metadata jsonb NOT NULL,"
    "    location text NOT NULL,"
    "    filename text NOT NULL,"
    "    size bigint NOT NULL,"
    "    checksumtype text NOT NULL,"
    "    checksum text NOT NULL,"
    "    nevra text NOT NULL,"
    "    primary_xml text NOT NULL);"
    "CREATE TEMP TABLE yum_sync_filelists (pkgid text NOT NULL, xml text NOT NULL);"
    "CREATE TEMP TABLE yum_sync_other (pkgid text NOT NULL, xml text NOT NULL);"
    "CREATE TEMP TABLE yum_sync_matched (seq int PRIMARY KEY, unit_id uuid NOT NULL);";

/* Built once both fragment tables are filled: cheaper than maintaining them during COPY. */
static const char index_sql[] =
    "CREATE INDEX ON yum_sync_filelists (pkgid);"
    "CREATE INDEX ON yum_sync_other (pkgid);";

typedef struct stage_run {
    PGconn *db;
    pulp_task_context_t *ctx;
    yum_pass_t pass;
    int skip_rpm;
    int skip_srpm;
    const char *file_name;
    GString *line;
    long long count;
    /* Packages of primary are numbered from 1; first_seq is the first of the open chunk. */
    int seq;
    int first_seq;
    int chunk_rows;
    yum_stage_hook_t hook;
    void *baton;
    pulp_error_t *error;
    int failed;
} stage_run_t;

/* Runs SQL text that carries no values (DDL); COPY and multi-statement text need PQexec. */
static pulp_status_t exec_plain(PGconn *db, const char *sql, pulp_error_t *error)
{
    PGresult *result = PQexec(db, sql);
    ExecStatusType status = PQresultStatus(result);
    pulp_status_t outcome = PULP_OK;

    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_COPY_IN)
        outcome = pulp_error_set(error, PULP_ERR_INTERNAL, "could not prepare the sync tables: "
                                 "%s", PQerrorMessage(db));
    PQclear(result);
    return outcome;
}

pulp_status_t yum_stage_create(PGconn *db, pulp_error_t *error)
{
    return exec_plain(db, create_sql, error);
}

void yum_stage_drop(PGconn *db)
{
    if (PQstatus(db) == CONNECTION_OK)
        PQclear(PQexec(db, "DROP TABLE IF EXISTS yum_sync_packages, yum_sync_filelists, "
                           "yum_sync_other, yum_sync_matched"));
}

pulp_status_t yum_stage_index(PGconn *db, pulp_error_t *error)
{
    return exec_plain(db, index_sql, error);
}

void yum_package_location(const char *filename, char *out, size_t out_size)
{
    char letter = filename[0];

    if (letter >= 'A' && letter <= 'Z')
        letter = (char)(letter - 'A' + 'a');
    snprintf(out, out_size, "Packages/%c/%s", letter, filename);
}

/* --- COPY rows ------------------------------------------------------------------------ */

/* Appends one field in COPY's text format: backslash escapes, \N for NULL. Runs of plain
 * characters are copied at once, since this runs for every byte of every fragment. */
static void copy_field(GString *line, const char *value)
{
    if (line->len > 0)
        g_string_append_c(line, '\t');
    if (!value) {
        g_string_append(line, "\\N");
        return;
    }
    while (*value) {
        size_t plain = strcspn(value, "\\\n\r\t");

        g_string_append_len(line, value, (gssize)plain);
        value += plain;
        switch (*value) {
        case '\\':
            g_string_append(line, "\\\\");
            break;
        case '\n':
            g_string_append(line, "\\n");
            break;
        case '\r':
            g_string_append(line, "\\r");
            break;
        case '\t':
            g_string_append(line, "\\t");
            break;
        default:
            return;
        }
        value++;
    }
}

static int fail(stage_run_t *run, pulp_status_t status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first failure of a pass; the parser stops at the CR_CB_RET_ERR returned. */
static int fail(stage_run_t *run, pulp_status_t status, const char *format, ...)
{
    char message[sizeof run->error->message];
    va_list args;

    if (!run->failed) {
        va_start(args, format);
        vsnprintf(message, sizeof message, format, args);
        va_end(args);
        pulp_error_set(run->error, status, "%s", message);
    }
    run->failed = 1;
    return CR_CB_RET_ERR;
}

static pulp_status_t finish_copy(stage_run_t *run, int parse_ok);
static pulp_status_t start_copy(stage_run_t *run);

/* Ends the COPY of a full chunk, runs the hook, and starts the next COPY. A failure, already
 * in run->error, stops the parser. */
static int end_chunk(stage_run_t *run)
{
    int first_seq = run->first_seq;

    run->first_seq = run->seq + 1;
    run->chunk_rows = 0;
    if (finish_copy(run, 1) != PULP_OK ||
        (run->hook && run->hook(run->baton, first_seq, run->seq, run->error) != PULP_OK) ||
        start_copy(run) != PULP_OK) {
        run->failed = 1;
        return CR_CB_RET_ERR;
    }
    return CR_CB_RET_OK;
}

static int send_line(stage_run_t *run)
{
    g_string_append_c(run->line, '\n');
    if (PQputCopyData(run->db, run->line->str, (int)run->line->len) != 1)
        return fail(run, PULP_ERR_UNAVAILABLE, "could not stage the packages of %s: %s",
                    run->file_name, PQerrorMessage(run->db));
    run->count++;
    if (++run->chunk_rows >= CHUNK_ROWS)
        return end_chunk(run);
    return CR_CB_RET_OK;
}

/* --- package documents ----------------------------------------------------------------- */

static const char *epoch_of(const cr_Package *pkg)
{
    return pkg->epoch && *pkg->epoch ? pkg->epoch : "0";
}

/* Pulp 2 names SHA-1 "sha1" where repodata may write "sha". */
static const char *checksum_type_of(const cr_Package *pkg)
{
    if (pkg->checksum_type && strcmp(pkg->checksum_type, "sha") == 0)
        return "sha1";
    return pkg->checksum_type;
}

static json_object *dependencies_json(GSList *list)
{
    json_object *array = json_object_new_array();

    for (GSList *item = list; item; item = item->next) {
        const cr_Dependency *dep = item->data;
        json_object *entry = json_object_new_object();

        json_object_object_add(entry, "name", json_object_new_string(dep->name));
        json_object_object_add(entry, "flags", dep->flags ? json_object_new_string(dep->flags)
                                                          : NULL);
        json_object_object_add(entry, "epoch", dep->epoch ? json_object_new_string(dep->epoch)
                                                          : NULL);
        json_object_object_add(entry, "version",
                               dep->version ? json_object_new_string(dep->version) : NULL);
        json_object_object_add(entry, "release",
                               dep->release ? json_object_new_string(dep->release) : NULL);
        json_object_object_add(entry, "pre", json_object_new_boolean(dep->pre));
        json_object_array_add(array, entry);
    }
    return array;
}

static void add_string(json_object *object, const char *key, const char *value)
{
    json_object_object_add(object, key, value ? json_object_new_string(value) : NULL);
}

static json_object *unit_key_json(const cr_Package *pkg)
{
    json_object *key = json_object_new_object();

    add_string(key, "name", pkg->name);
    add_string(key, "epoch", epoch_of(pkg));
    add_string(key, "version", pkg->version);
    add_string(key, "release", pkg->release);
    add_string(key, "arch", pkg->arch);
    add_string(key, "checksumtype", checksum_type_of(pkg));
    add_string(key, "checksum", pkg->pkgId);
    return key;
}

/* The unit's metadata in Pulp 2's shape for RPMs: the key fields plus what searches use. */
static json_object *metadata_json(const cr_Package *pkg, const char *filename)
{
    json_object *metadata = unit_key_json(pkg);

    add_string(metadata, "filename", filename);
    json_object_object_add(metadata, "size", json_object_new_int64(pkg->size_package));
    add_string(metadata, "summary", pkg->summary);
    add_string(metadata, "description", pkg->description);
    add_string(metadata, "url", pkg->url);
    add_string(metadata, "license", pkg->rpm_license);
    add_string(metadata, "vendor", pkg->rpm_vendor);
    add_string(metadata, "buildhost", pkg->rpm_buildhost);
    add_string(metadata, "sourcerpm", pkg->rpm_sourcerpm);
    json_object_object_add(metadata, "build_time", json_object_new_int64(pkg->time_build));
    json_object_object_add(metadata, "time", json_object_new_int64(pkg->time_file));
    json_object_object_add(metadata, "requires", dependencies_json(pkg->requires));
    json_object_object_add(metadata, "provides", dependencies_json(pkg->provides));
    return metadata;
}

static int is_source_arch(const char *arch)
{
    return arch && (strcmp(arch, "src") == 0 || strcmp(arch, "nosrc") == 0);
}

static int skipped(const stage_run_t *run, const cr_Package *pkg)
{
    return is_source_arch(pkg->arch) ? run->skip_srpm : run->skip_rpm;
}

/* Works out where the package is downloaded from: its href relative to the feed, or an
 * absolute URL when primary gives an xml:base. */
static int package_source(stage_run_t *run, const cr_Package *pkg, char *location,
                          size_t location_size, char *filename, size_t filename_size)
{
    char normal[PULP_STORAGE_PATH_MAX];
    pulp_error_t path_error = PULP_ERROR_INIT;
    const char *href = pkg->location_href;
    const char *slash;

    if (pulp_storage_path_normalize(href, strlen(href), normal, sizeof normal, &path_error) !=
        PULP_OK)
        return fail(run, PULP_ERR_INVALID_VALUE, "invalid package location in %s: %s",
                    run->file_name, path_error.message);

    slash = strrchr(normal, '/');
    slash = slash ? slash + 1 : normal;
    if (!pulp_storage_name_is_valid(slash) || strlen(slash) >= filename_size)
        return fail(run, PULP_ERR_INVALID_VALUE, "invalid package file name in %s: \"%s\"",
                    run->file_name, slash);
    memcpy(filename, slash, strlen(slash) + 1);

    if (pkg->location_base && *pkg->location_base) {
        if (g_ascii_strncasecmp(pkg->location_base, "http://", 7) != 0 &&
            g_ascii_strncasecmp(pkg->location_base, "https://", 8) != 0)
            return fail(run, PULP_ERR_INVALID_VALUE, "invalid package location base in %s: "
                        "\"%s\" is not an http or https URL", run->file_name,
                        pkg->location_base);
        if (pulp_download_url_join(pkg->location_base, normal, location, location_size,
                                   &path_error) != PULP_OK)
            return fail(run, PULP_ERR_INVALID_VALUE, "invalid package location in %s: %s",
                        run->file_name, path_error.message);
        return CR_CB_RET_OK;
    }
    snprintf(location, location_size, "%s", normal);
    return CR_CB_RET_OK;
}

static int check_fields(stage_run_t *run, const cr_Package *pkg)
{
    if (!pkg->name || !pkg->version || !pkg->release || !pkg->arch)
        return fail(run, PULP_ERR_INVALID_VALUE,
                    "invalid package in %s: name, version, release or arch is missing",
                    run->file_name);
    if (!pkg->pkgId || !pkg->checksum_type)
        return fail(run, PULP_ERR_INVALID_VALUE, "invalid package \"%s\" in %s: the "
                    "checksum is missing", pkg->name, run->file_name);
    if (!pkg->location_href)
        return fail(run, PULP_ERR_INVALID_VALUE, "invalid package \"%s\" in %s: the "
                    "location is missing", pkg->name, run->file_name);
    return CR_CB_RET_OK;
}

/* --- callbacks ------------------------------------------------------------------------- */

static int new_package(cr_Package **pkg, const char *pkg_id, const char *name, const char *arch,
                       void *baton, GError **gerror)
{
    stage_run_t *run = baton;

    (void)pkg_id;
    (void)name;
    (void)arch;
    (void)gerror;
    if (pulp_task_cancel_requested(run->ctx)) {
        if (!run->failed)
            pulp_error_set(run->error, PULP_ERR_CANCELED, "the sync was canceled");
        run->failed = 1;
        return CR_CB_RET_ERR;
    }
    *pkg = cr_package_new();
    return CR_CB_RET_OK;
}

static int stage_primary(stage_run_t *run, cr_Package *pkg)
{
    char location[PULP_STORAGE_PATH_MAX * 2];
    char filename[256];
    char published[PULP_STORAGE_PATH_MAX];
    char size[32];
    char seq[16];
    char *nevra = NULL;
    char *xml = NULL;
    json_object *key = NULL;
    json_object *metadata = NULL;
    GError *gerror = NULL;
    int outcome;

    if (check_fields(run, pkg) != CR_CB_RET_OK ||
        package_source(run, pkg, location, sizeof location, filename, sizeof filename) !=
            CR_CB_RET_OK)
        return CR_CB_RET_ERR;

    key = unit_key_json(pkg);
    metadata = metadata_json(pkg, filename);
    nevra = cr_package_nevra(pkg);

    yum_package_location(filename, published, sizeof published);
    pkg->location_href = published;
    pkg->location_base = NULL;
    xml = cr_xml_dump_primary(pkg, &gerror);
    if (!xml) {
        outcome = fail(run, PULP_ERR_INVALID_VALUE, "could not write the primary entry of a "
                       "package of %s: %s", run->file_name,
                       gerror ? gerror->message : "unknown error");
        goto end;
    }

    snprintf(size, sizeof size, "%lld", (long long)pkg->size_package);
    snprintf(seq, sizeof seq, "%d", ++run->seq);
    g_string_truncate(run->line, 0);
    copy_field(run->line, seq);
    copy_field(run->line, pkg->pkgId);
    copy_field(run->line, is_source_arch(pkg->arch) ? YUM_TYPE_SRPM : YUM_TYPE_RPM);
    copy_field(run->line, json_object_to_json_string_ext(key, JSON_C_TO_STRING_PLAIN));
    copy_field(run->line, json_object_to_json_string_ext(metadata, JSON_C_TO_STRING_PLAIN));
    copy_field(run->line, location);
    copy_field(run->line, filename);
    copy_field(run->line, size);
    copy_field(run->line, checksum_type_of(pkg));
    copy_field(run->line, pkg->pkgId);
    copy_field(run->line, nevra);
    copy_field(run->line, xml);
    outcome = send_line(run);

end:
    g_clear_error(&gerror);
    g_free(xml);
    g_free(nevra);
    json_object_put(key);
    json_object_put(metadata);
    return outcome;
}

static int stage_fragment(stage_run_t *run, cr_Package *pkg)
{
    GError *gerror = NULL;
    char *xml;
    int outcome;

    if (!pkg->pkgId)
        return fail(run, PULP_ERR_INVALID_VALUE, "invalid package in %s: the pkgid attribute "
                    "is missing", run->file_name);
    if (run->pass == YUM_PASS_FILELISTS)
        xml = cr_xml_dump_filelists(pkg, &gerror);
    else
        xml = cr_xml_dump_other(pkg, &gerror);
    if (!xml) {
        outcome = fail(run, PULP_ERR_INVALID_VALUE, "could not write a package entry of %s: %s",
                       run->file_name, gerror ? gerror->message : "unknown error");
        g_clear_error(&gerror);
        return outcome;
    }

    g_string_truncate(run->line, 0);
    copy_field(run->line, pkg->pkgId);
    copy_field(run->line, xml);
    g_free(xml);
    return send_line(run);
}

static int package_done(cr_Package *pkg, void *baton, GError **gerror)
{
    stage_run_t *run = baton;
    int outcome = CR_CB_RET_OK;

    (void)gerror;
    if (!skipped(run, pkg))
        outcome = run->pass == YUM_PASS_PRIMARY ? stage_primary(run, pkg) : stage_fragment(run, pkg);
    cr_package_free(pkg);
    return outcome;
}

/* --- passes ---------------------------------------------------------------------------- */

static pulp_status_t start_copy(stage_run_t *run)
{
    static const char *const copy_sql[] = {
        [YUM_PASS_PRIMARY] = "COPY yum_sync_packages (seq, pkgid, type_id, unit_key, metadata,"
                             " location, filename, size, checksumtype, checksum, nevra,"
                             " primary_xml) FROM STDIN",
        [YUM_PASS_FILELISTS] = "COPY yum_sync_filelists (pkgid, xml) FROM STDIN",
        [YUM_PASS_OTHER] = "COPY yum_sync_other (pkgid, xml) FROM STDIN",
    };

    return exec_plain(run->db, copy_sql[run->pass], run->error);
}

static pulp_status_t finish_copy(stage_run_t *run, int parse_ok)
{
    PGresult *result;
    int copy_ok;

    if (PQputCopyEnd(run->db, parse_ok ? NULL : "the metadata could not be parsed") != 1)
        parse_ok = 0;
    result = PQgetResult(run->db);
    copy_ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
    while ((result = PQgetResult(run->db)))
        PQclear(result);

    if (parse_ok && !copy_ok && !run->failed)
        return pulp_error_set(run->error, PULP_ERR_INTERNAL, "could not stage the packages of "
                              "%s: %s", run->file_name, PQerrorMessage(run->db));
    return parse_ok && copy_ok ? PULP_OK : run->error->status;
}

static int parse_file(stage_run_t *run, const char *path, GError **gerror)
{
    if (run->pass == YUM_PASS_PRIMARY)
        return cr_xml_parse_primary(path, new_package, run, package_done, run, NULL, NULL, 1,
                                    gerror);
    if (run->pass == YUM_PASS_FILELISTS)
        return cr_xml_parse_filelists(path, new_package, run, package_done, run, NULL, NULL,
                                      gerror);
    return cr_xml_parse_other(path, new_package, run, package_done, run, NULL, NULL, gerror);
}

pulp_status_t yum_stage_pass(PGconn *db, pulp_task_context_t *ctx, json_object *config,
                             yum_pass_t pass, const char *path, yum_stage_hook_t hook,
                             void *baton, long long *count, pulp_error_t *error)
{
    static const char *const file_names[] = {
        [YUM_PASS_PRIMARY] = "primary.xml",
        [YUM_PASS_FILELISTS] = "filelists.xml",
        [YUM_PASS_OTHER] = "other.xml",
    };
    stage_run_t run = {
        .db = db,
        .ctx = ctx,
        .pass = pass,
        .skip_rpm = yum_config_skips(config, YUM_TYPE_RPM),
        .skip_srpm = yum_config_skips(config, YUM_TYPE_SRPM),
        .file_name = file_names[pass],
        .line = g_string_sized_new(8192),
        .first_seq = 1,
        .hook = hook,
        .baton = baton,
        .error = error,
    };
    GError *gerror = NULL;
    pulp_status_t status;
    int parsed;

    cr_xml_dump_init();
    status = start_copy(&run);
    if (status != PULP_OK)
        goto end;

    parsed = parse_file(&run, path, &gerror);
    if (parsed != CRE_OK && !run.failed) {
        char *reason = yum_parse_message(gerror, path, run.file_name);

        pulp_error_set(error, PULP_ERR_INVALID_VALUE, "could not parse %s: %s", run.file_name,
                       reason);
        g_free(reason);
        run.failed = 1;
    }
    status = finish_copy(&run, parsed == CRE_OK && !run.failed);
    if (status == PULP_OK && run.chunk_rows > 0 && hook)
        status = hook(baton, run.first_seq, run.seq, error);

end:
    *count = run.count;
    g_clear_error(&gerror);
    g_string_free(run.line, TRUE);
    return status;
}
