/* HTTP Basic authentication and permission checks for every route but the anonymous ones.
 *
 * Verifying a yescrypt hash takes tens of milliseconds by design, so each httpd child keeps
 * a small cache of credentials it has verified. The key is a salted SHA-1 of login and
 * password, so the password itself is never stored, and the value is the user's generation. Every
 * request still runs one query that reads the user's current generation together with the
 * permission decision; users.generation is bumped on every change of a user, so a new
 * password or a removed user takes effect at the next request, in every child at once.
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

#include "pulp_db.h"
#include "pulp_password.h"

APLOG_USE_MODULE(pulp);

#define CACHE_SLOTS 512
#define MAX_LOGIN_LENGTH 128

typedef struct cache_entry {
    unsigned char key[APR_SHA1_DIGESTSIZE];
    char login[MAX_LOGIN_LENGTH];
    long long generation;
    int used;
} cache_entry_t;

static cache_entry_t cache[CACHE_SLOTS];
static unsigned char cache_salt[16];
static apr_thread_mutex_t *cache_mutex;
/* A hash verified for unknown logins, with its result ignored, so that they take as long to
 * reject as wrong passwords and response times do not tell which logins exist. */
static char decoy_hash[256];

/* One round trip: the user's hash and generation, and whether any permission of the user or
 * of one of the user's roles grants the operation on the path or on one of its ancestors. */
static const char user_sql[] =
    "SELECT u.password_hash, u.generation,"
    "       EXISTS (SELECT 1 FROM permissions p"
    "               WHERE $2 = ANY (p.operations)"
    "                 AND left($3, length(p.resource)) = p.resource"
    "                 AND ((p.subject_type = 'user' AND p.subject = u.login)"
    "                      OR (p.subject_type = 'role' AND p.subject IN"
    "                          (SELECT r.role_id FROM user_roles r WHERE r.login = u.login))))"
    " FROM users u WHERE u.login = $1";

void pulp_auth_child_init(apr_pool_t *pool)
{
    apr_status_t rv;

    memset(cache, 0, sizeof cache);
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

/* Returns the cached generation of the credentials, or -1 when they are not cached. */
static long long cache_lookup(const char *login, const unsigned char key[APR_SHA1_DIGESTSIZE])
{
    cache_entry_t *entry = cache_slot(key);
    long long generation = -1;

    if (!cache_mutex || apr_thread_mutex_lock(cache_mutex) != APR_SUCCESS)
        return -1;
    if (entry->used && memcmp(entry->key, key, APR_SHA1_DIGESTSIZE) == 0 &&
        strcmp(entry->login, login) == 0)
        generation = entry->generation;
    apr_thread_mutex_unlock(cache_mutex);
    return generation;
}

static void cache_store(const char *login, const unsigned char key[APR_SHA1_DIGESTSIZE],
                        long long generation)
{
    cache_entry_t *entry = cache_slot(key);

    if (strlen(login) >= MAX_LOGIN_LENGTH || !cache_mutex ||
        apr_thread_mutex_lock(cache_mutex) != APR_SUCCESS)
        return;
    memcpy(entry->key, key, APR_SHA1_DIGESTSIZE);
    apr_cpystrn(entry->login, login, sizeof entry->login);
    entry->generation = generation;
    entry->used = 1;
    apr_thread_mutex_unlock(cache_mutex);
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

int pulp_auth_check(pulp_request_t *req, pulp_operation_t operation)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *login = NULL;
    const char *password = NULL;
    unsigned char key[APR_SHA1_DIGESTSIZE];
    const char *resource = apr_pstrcat(req->r->pool, "/v2", req->path, NULL);
    const char *params[3];
    PGresult *result = NULL;
    PGconn *db;
    long long generation;
    int status = DECLINED;

    if (parse_basic(req, &login, &password) != 0)
        return send_unauthorized(req, "authentication required: send HTTP Basic credentials");

    db = pulp_request_db(req, &error);
    if (!db) {
        status = pulp_send_error(req, &error);
        goto end;
    }

    params[0] = login;
    params[1] = pulp_operation_name(operation);
    params[2] = resource;
    result = pulp_db_query_prepared(db, &error, user_sql, 3, params);
    if (!result) {
        status = pulp_send_error(req, &error);
        goto end;
    }
    if (PQntuples(result) != 1) {
        pulp_password_verify(password, decoy_hash);
        status = send_unauthorized(req, apr_psprintf(req->r->pool,
            "authentication failed for user \"%s\": invalid login or password", login));
        goto end;
    }

    generation = apr_atoi64(PQgetvalue(result, 0, 1));
    credential_key(login, password, key);
    if (cache_lookup(login, key) != generation) {
        if (!pulp_password_verify(password, PQgetvalue(result, 0, 0))) {
            status = send_unauthorized(req, apr_psprintf(req->r->pool,
                "authentication failed for user \"%s\": invalid login or password", login));
            goto end;
        }
        cache_store(login, key, generation);
    }

    req->login = login;
    if (strcmp(PQgetvalue(result, 0, 2), "t") != 0)
        status = pulp_send_error_status(req, PULP_ERR_PERMISSION,
                                        "permission denied: user \"%s\" lacks %s on %s", login,
                                        params[1], resource);

end:
    PQclear(result);
    pulp_error_clear(&error);
    return status;
}
