/* HTTP Basic authentication and permission checks for every route but the anonymous ones.
 *
 * Verifying a yescrypt hash takes tens of milliseconds by design, so each httpd child keeps
 * a small cache of the credentials it has verified, with the user's permissions. The key is
 * a salted SHA-1 of login and password, so the password itself is never stored.
 *
 * An entry serves requests without a query while the epoch of the auth change channel is
 * the one it was read under (change_notices.h): any change to users, roles or permissions,
 * committed anywhere before the request began, has bumped that epoch by the time the check
 * runs. The entry is then read again (one query); the hash is verified again only when the
 * user's generation, bumped on every change of that user, has moved, so that a change to one
 * user does not cost every other user a hash verification.
 *
 * Concurrency: the cache is shared by the threads of a child (worker and event MPMs) and
 * guarded by one mutex, held only to copy an entry in or out. */
#include "auth.h"

#include <string.h>

#include <apr_base64.h>
#include <apr_sha1.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <http_log.h>

#include "change_notices.h"
#include "pulp_db.h"
#include "pulp_password.h"

APLOG_USE_MODULE(pulp);

#define CACHE_SLOTS 512
#define MAX_LOGIN_LENGTH 128
/* Permission rows kept per cached user; a user with more is checked by a query every time. */
#define MAX_CACHED_PERMISSIONS 32
#define MAX_RESOURCE_LENGTH 256

/* One permission row of the user or of one of the user's roles. */
typedef struct permission {
    char resource[MAX_RESOURCE_LENGTH];
    unsigned operations; /* bit (1 << pulp_operation_t) per operation granted */
} permission_t;

/* What the check knows of the user behind the credentials. */
typedef struct user_record {
    long long generation;
    unsigned long epoch;
    int n_permissions; /* -1: too many to keep */
    permission_t permissions[MAX_CACHED_PERMISSIONS];
} user_record_t;

typedef struct cache_entry {
    unsigned char key[APR_SHA1_DIGESTSIZE];
    char login[MAX_LOGIN_LENGTH];
    user_record_t record;
    int used;
} cache_entry_t;

static cache_entry_t *cache;
static unsigned char cache_salt[16];
static apr_thread_mutex_t *cache_mutex;
/* A hash verified for unknown logins, with its result ignored, so that they take as long to
 * reject as wrong passwords and response times do not tell which logins exist. */
static char decoy_hash[256];

/* The user's hash and generation, then one row per permission of the user or of one of the
 * user's roles (resource and operations are NULL when there is none). */
static const char user_sql[] =
    "SELECT u.password_hash, u.generation, p.resource, p.operations::text"
    " FROM users u LEFT JOIN permissions p"
    "   ON (p.subject_type = 'user' AND p.subject = u.login)"
    "   OR (p.subject_type = 'role' AND p.subject IN"
    "       (SELECT r.role_id FROM user_roles r WHERE r.login = u.login))"
    " WHERE u.login = $1";

/* Whether any permission of the user or of the user's roles grants operation on resource or
 * on one of its ancestors: for users with more permissions than an entry keeps. */
static const char permission_sql[] =
    "SELECT EXISTS (SELECT 1 FROM permissions p"
    "               WHERE $2 = ANY (p.operations)"
    "                 AND left($3, length(p.resource)) = p.resource"
    "                 AND ((p.subject_type = 'user' AND p.subject = $1)"
    "                      OR (p.subject_type = 'role' AND p.subject IN"
    "                          (SELECT r.role_id FROM user_roles r WHERE r.login = $1))))";

void pulp_auth_child_init(apr_pool_t *pool)
{
    apr_status_t rv;

    cache = apr_pcalloc(pool, CACHE_SLOTS * sizeof *cache);
    if (apr_generate_random_bytes(cache_salt, sizeof cache_salt) != APR_SUCCESS)
        ap_log_perror(APLOG_MARK, APLOG_WARNING, 0, pool,
                      "could not draw a random salt for the credential cache");
    /* The decoy's password does not matter: the result of verifying it is ignored. */
    if (pulp_password_hash("decoy", decoy_hash, sizeof decoy_hash) != 0)
        decoy_hash[0] = '\0';
    rv = apr_thread_mutex_create(&cache_mutex, APR_THREAD_MUTEX_DEFAULT, pool);
    if (rv != APR_SUCCESS) {
        /* Without the mutex the cache stays off and every request verifies the hash. */
        ap_log_perror(APLOG_MARK, APLOG_ERR, rv, pool,
                      "could not create the credential cache mutex");
        cache_mutex = NULL;
    }
}

static void credential_key(const char *login, const char *password,
                           unsigned char key[APR_SHA1_DIGESTSIZE])
{
    apr_sha1_ctx_t context;

    apr_sha1_init(&context);
    apr_sha1_update_binary(&context, cache_salt, sizeof cache_salt);
    apr_sha1_update_binary(&context, (const unsigned char *)login, strlen(login) + 1);
    apr_sha1_update_binary(&context, (const unsigned char *)password, strlen(password));
    apr_sha1_final(key, &context);
}

static cache_entry_t *cache_slot(const unsigned char key[APR_SHA1_DIGESTSIZE])
{
    unsigned int index = ((unsigned int)key[0] << 8 | key[1]) % CACHE_SLOTS;

    return &cache[index];
}

/* Copies a record, without the unused permission slots. */
static void copy_record(user_record_t *to, const user_record_t *from)
{
    to->generation = from->generation;
    to->epoch = from->epoch;
    to->n_permissions = from->n_permissions;
    if (from->n_permissions > 0)
        memcpy(to->permissions, from->permissions,
               (size_t)from->n_permissions * sizeof from->permissions[0]);
}

/* Copies the cached record of the credentials into record; returns 0, or -1 when they are
 * not cached. */
static int cache_lookup(const char *login, const unsigned char key[APR_SHA1_DIGESTSIZE],
                        user_record_t *record)
{
    cache_entry_t *entry = cache_slot(key);
    int found = 0;

    if (!cache_mutex || apr_thread_mutex_lock(cache_mutex) != APR_SUCCESS)
        return -1;
    if (entry->used && memcmp(entry->key, key, APR_SHA1_DIGESTSIZE) == 0 &&
        strcmp(entry->login, login) == 0) {
        copy_record(record, &entry->record);
        found = 1;
    }
    apr_thread_mutex_unlock(cache_mutex);
    return found ? 0 : -1;
}

static void cache_store(const char *login, const unsigned char key[APR_SHA1_DIGESTSIZE],
                        const user_record_t *record)
{
    cache_entry_t *entry = cache_slot(key);

    if (strlen(login) >= MAX_LOGIN_LENGTH || !cache_mutex ||
        apr_thread_mutex_lock(cache_mutex) != APR_SUCCESS)
        return;
    memcpy(entry->key, key, APR_SHA1_DIGESTSIZE);
    apr_cpystrn(entry->login, login, sizeof entry->login);
    copy_record(&entry->record, record);
    entry->used = 1;
    apr_thread_mutex_unlock(cache_mutex);
}

/* Parses a text array of operation names ("{CREATE,READ}") into operation bits. */
static unsigned operation_bits(const char *names)
{
    unsigned bits = 0;

    for (int op = PULP_OPERATION_CREATE; op <= PULP_OPERATION_EXECUTE; op++) {
        const char *name = pulp_operation_name(op);
        size_t length = strlen(name);

        for (const char *at = strstr(names, name); at; at = strstr(at + 1, name)) {
            if (at > names && (at[-1] == '{' || at[-1] == ',') && (at[length] == ',' || at[length] == '}'))
                bits |= 1u << op;
        }
    }
    return bits;
}

/* Fills the permissions of record from the rows of user_sql. */
static void read_permissions(const PGresult *result, user_record_t *record)
{
    int n_rows = PQntuples(result);

    record->n_permissions = 0;
    for (int row = 0; row < n_rows; row++) {
        permission_t *permission;

        if (PQgetisnull(result, row, 2))
            continue;
        if (record->n_permissions == MAX_CACHED_PERMISSIONS ||
            PQgetlength(result, row, 2) >= MAX_RESOURCE_LENGTH) {
            record->n_permissions = -1;
            return;
        }
        permission = &record->permissions[record->n_permissions++];
        apr_cpystrn(permission->resource, PQgetvalue(result, row, 2),
                    sizeof permission->resource);
        permission->operations = operation_bits(PQgetvalue(result, row, 3));
    }
}

/* Whether the permissions of record grant operation on resource or on an ancestor; the same
 * prefix rule as permission_sql. */
static int record_grants(const user_record_t *record, pulp_operation_t operation,
                         const char *resource)
{
    for (int i = 0; i < record->n_permissions; i++) {
        const permission_t *permission = &record->permissions[i];

        if ((permission->operations & (1u << operation)) &&
            strncmp(resource, permission->resource, strlen(permission->resource)) == 0)
            return 1;
    }
    return 0;
}

/* Splits "Basic base64(login:password)"; returns 0, or -1 when the header is missing or not
 * Basic credentials. */
static int parse_basic(pulp_request_t *req, const char **login, const char **password)
{
    const char *header = apr_table_get(req->r->headers_in, "Authorization");
    char *decoded;
    char *colon;
    int length;

    if (!header)
        return -1;
    if (strncasecmp(header, "Basic", 5) != 0 || (header[5] != ' ' && header[5] != '\t'))
        return -1;
    header += 6;
    while (*header == ' ' || *header == '\t')
        header++;

    decoded = apr_palloc(req->r->pool, apr_base64_decode_len(header) + 1);
    length = apr_base64_decode(decoded, header);
    decoded[length] = '\0';
    /* A NUL byte inside the credentials would silently shorten the login or password. */
    if ((int)strlen(decoded) != length)
        return -1;
    colon = strchr(decoded, ':');
    if (!colon || colon == decoded)
        return -1;
    *colon = '\0';
    *login = decoded;
    *password = colon + 1;
    return 0;
}

static int send_unauthorized(pulp_request_t *req, const char *message)
{
    apr_table_setn(req->r->headers_out, "WWW-Authenticate", "Basic realm=\"pulp\"");
    return pulp_send_error_status(req, PULP_ERR_AUTHENTICATION, "%s", message);
}

static int send_login_failed(pulp_request_t *req, const char *login)
{
    return send_unauthorized(req, apr_psprintf(req->r->pool,
        "authentication failed for user \"%s\": invalid login or password", login));
}

/* Reads the user behind the credentials into record (one query) and verifies the password,
 * unless cached (NULL when nothing is) holds the same credentials under the same generation;
 * then caches record. Returns DECLINED when the credentials are valid, or OK after sending
 * the 401 or 503 body. */
static int load_user(pulp_request_t *req, PGconn *db, const char *login, const char *password,
                     const unsigned char key[APR_SHA1_DIGESTSIZE], const user_record_t *cached,
                     user_record_t *record)
{
    pulp_error_t error = PULP_ERROR_INIT;
    PGresult *result;
    int status = DECLINED;

    record->epoch = pulp_changes_epoch(PULP_CHANGES_AUTH);
    result = pulp_db_query_prepared(db, &error, user_sql, 1, &login);
    if (!result)
        return pulp_send_error_clear(req, &error);
    if (PQntuples(result) == 0) {
        pulp_password_verify(password, decoy_hash);
        status = send_login_failed(req, login);
        goto end;
    }
    record->generation = apr_atoi64(PQgetvalue(result, 0, 1));
    read_permissions(result, record);
    if (!cached || cached->generation != record->generation) {
        if (!pulp_password_verify(password, PQgetvalue(result, 0, 0))) {
            status = send_login_failed(req, login);
            goto end;
        }
    }
    cache_store(login, key, record);

end:
    PQclear(result);
    return status;
}

/* Whether the user may perform operation on resource: from record, or by a query for a
 * user with more permissions than a record keeps. Returns 1 or 0, or -1 with error set. */
static int user_may(PGconn *db, const char *login, const user_record_t *record,
                    pulp_operation_t operation, const char *resource, pulp_error_t *error)
{
    const char *params[3] = { login, pulp_operation_name(operation), resource };
    PGresult *result;
    int allowed;

    if (record->n_permissions >= 0)
        return record_grants(record, operation, resource);
    result = pulp_db_query_prepared(db, error, permission_sql, 3, params);
    if (!result)
        return -1;
    allowed = strcmp(PQgetvalue(result, 0, 0), "t") == 0;
    PQclear(result);
    return allowed;
}

int pulp_auth_check(pulp_request_t *req, pulp_operation_t operation)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *login = NULL;
    const char *password = NULL;
    unsigned char key[APR_SHA1_DIGESTSIZE];
    const char *resource = apr_pstrcat(req->r->pool, "/v2", req->path, NULL);
    user_record_t cached;
    user_record_t record;
    int have_cached;
    int allowed;
    int status;
    PGconn *db;

    if (parse_basic(req, &login, &password) != 0)
        return send_unauthorized(req, "authentication required: send HTTP Basic credentials");

    db = pulp_request_db(req, &error);
    if (!db || pulp_changes_catch_up(db, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);

    credential_key(login, password, key);
    have_cached = cache_lookup(login, key, &cached) == 0;
    if (have_cached && cached.epoch == pulp_changes_epoch(PULP_CHANGES_AUTH)) {
        copy_record(&record, &cached);
    } else {
        status = load_user(req, db, login, password, key, have_cached ? &cached : NULL, &record);
        if (status != DECLINED)
            return status;
    }

    req->login = login;
    allowed = user_may(db, login, &record, operation, resource, &error);
    if (allowed < 0)
        return pulp_send_error_clear(req, &error);
    if (!allowed)
        return pulp_send_error_status(req, PULP_ERR_PERMISSION,
                                      "permission denied: user \"%s\" lacks %s on %s", login,
                                      pulp_operation_name(operation), resource);
    return DECLINED;
}
