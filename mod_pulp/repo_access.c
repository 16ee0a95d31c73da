/* The access check of the published yum trees.
 *
 * A request whose file lies below <PulpStorageDir>/published/yum/http/repos/ or
 * .../https/repos/ (whatever Alias maps it there) is served only when no protected
 * distributor guards it, or when the client presented a TLS client certificate that
 * verifies against the auth_ca of each one that does (PulpRepoAuthCA for one without).
 * A distributor guards the paths inside its relative_url, and the tree that the link above
 * the path serves, read from the link's target. After a distributor moves to another
 * relative_url, its old link serves its tree until a publish replaces or removes it.
 * Everything else, the API included, passes after one string comparison.
 *
 * mod_ssl must request the certificate without checking it itself, with
 * "SSLVerifyClient optional_no_ca" on the HTTPS virtual host (etc/pulp.conf.example): the
 * CA to check it against depends on the requested path, which the handshake does not know. */
#include "repo_access.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_request.h>
#include <http_ssl.h>

#include "change_notices.h"
#include "error_filter.h"
#include "mod_pulp.h"
#include "protected_repos.h"
#include "pulp_x509.h"

APLOG_USE_MODULE(pulp);

/* Intermediate certificates read from the client's chain; more are ignored, so a client
 * whose certificate is deeper below auth_ca fails to verify. */
#define MAX_CLIENT_CHAIN 8

/* Returns the rest of text after prefix when prefix is a whole leading run of its segments,
 * or NULL. */
static const char *after_prefix(const char *text, const char *prefix)
{
    size_t length = strlen(prefix);

    if (strncmp(text, prefix, length) != 0 || (text[length] && text[length] != '/'))
        return NULL;
    return text + length;
}

/* Returns the path of the request below a published yum tree, without repeated or trailing
 * slashes ("" for the tree's top), or NULL when the request is not for a published yum tree.
 * Sets *root to the directory of the scheme's links. r->path_info contains the part of the
 * path that does not exist on disk. */
static const char *tree_path(request_rec *r, const pulp_server_config_t *config,
                             const char **root)
{
    size_t root_length = strlen(config->storage_dir);
    const char *rest;
    char *path;
    size_t used = 0;

    if (!r->filename)
        return NULL;
    while (root_length > 1 && config->storage_dir[root_length - 1] == '/')
        root_length--;
    if (strncmp(r->filename, config->storage_dir, root_length) != 0)
        return NULL;
    rest = after_prefix(r->filename + root_length, "/published/yum/http/repos");
    if (!rest)
        rest = after_prefix(r->filename + root_length, "/published/yum/https/repos");
    if (!rest)
        return NULL;
    *root = apr_pstrndup(r->pool, r->filename, (apr_size_t)(rest - r->filename));
    if (r->path_info && *r->path_info)
        rest = apr_pstrcat(r->pool, rest, r->path_info, NULL);

    path = apr_palloc(r->pool, strlen(rest) + 1);
    for (const char *c = rest; *c; c++) {
        if (*c == '/' && (used == 0 || path[used - 1] == '/'))
            continue;
        path[used++] = *c;
    }
    if (used > 0 && path[used - 1] == '/')
        used--;
    path[used] = '\0';
    return path;
}

/* Reads the repository and distributor ids from the target of a link that serves a tree,
 * "<one ../ per level>master/<repo>/<distributor>/<tree>" (plugins/yum/yum_tree.c).
 * Returns 0 when the target has that form or the link is gone, and -1 otherwise. */
static int read_link_owner(request_rec *r, const char *link, pulp_served_tree_t *tree)
{
    char target[PATH_MAX];
    ssize_t length = readlink(link, target, sizeof target - 1);
    const char *repo;
    const char *distributor;
    const char *tree_name;

    if (length < 0)
        return errno == ENOENT ? 0 : -1;
    target[length] = '\0';
    repo = target;
    while (strncmp(repo, "../", 3) == 0)
        repo += 3;
    if (strncmp(repo, "master/", 7) != 0)
        return -1;
    repo += 7;
    distributor = strchr(repo, '/');
    tree_name = distributor ? strchr(distributor + 1, '/') : NULL;
    if (!tree_name || distributor == repo || tree_name == distributor + 1 || !tree_name[1])
        return -1;
    tree->repo_id = apr_pstrndup(r->pool, repo, (apr_size_t)(distributor - repo));
    tree->distributor_id = apr_pstrndup(r->pool, distributor + 1,
                                        (apr_size_t)(tree_name - distributor - 1));
    return 0;
}

/* Finds the link that serves path, the first of its leading runs of segments below root
 * that is a symlink (a publish never makes a link below another one), and reads whose tree
 * it serves. Leaves tree's ids NULL when no link is found. Returns -1 when the link's target
 * is not a published tree or a path cannot be read, so that the check fails closed. */
static int find_serving_link(request_rec *r, const char *root, const char *path,
                             pulp_served_tree_t *tree)
{
    char *prefix = apr_pstrcat(r->pool, root, "/", path, NULL);
    char *segment = prefix + strlen(root) + 1;

    tree->repo_id = NULL;
    tree->distributor_id = NULL;
    for (;;) {
        char *slash = strchr(segment, '/');
        struct stat info;

        if (slash)
            *slash = '\0';
        if (lstat(prefix, &info) != 0)
            return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
        if (S_ISLNK(info.st_mode))
            return read_link_owner(r, prefix, tree);
        if (!S_ISDIR(info.st_mode) || !slash)
            return 0;
        *slash = '/';
        segment = slash + 1;
    }
}

static int deny(request_rec *r, int status, const char *message)
{
    apr_table_setn(r->notes, PULP_ERROR_MESSAGE_NOTE, message);
    return status;
}

/* Reads the client certificate and its chain from mod_ssl; NULL when there is none. */
static const char *client_certificate(request_rec *r, const char **chain, size_t *n_chain)
{
    const char *cert;

    *n_chain = 0;
    if (!ap_ssl_conn_is_ssl(r->connection))
        return NULL;
    cert = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_CERT");
    if (!cert || !*cert)
        return NULL;
    while (*n_chain < MAX_CLIENT_CHAIN) {
        const char *name = apr_psprintf(r->pool, "SSL_CLIENT_CERT_CHAIN_%zu", *n_chain);
        const char *value = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, name);

        if (!value || !*value)
            break;
        chain[(*n_chain)++] = value;
    }
    return cert;
}

static int check_certificate(request_rec *r, const pulp_server_config_t *config,
                             const pulp_protected_repo_t *repo)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *chain[MAX_CLIENT_CHAIN];
    size_t n_chain = 0;
    X509_STORE *store = repo->store ? repo->store : config->repo_auth_ca_store;
    const char *cert;
    const char *message;

    if (repo->ca_error || !store) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "protected repository \"%s\" (distributor "
                      "\"%s\") cannot be served: %s", repo->repo_id, repo->distributor_id,
                      repo->ca_error ? repo->ca_error : "it has no auth_ca and PulpRepoAuthCA "
                      "is not set");
        return deny(r, HTTP_FORBIDDEN, apr_psprintf(r->pool, "repository \"%s\" is protected "
                    "and has no usable CA to check client certificates against; its "
                    "distributor needs an auth_ca", repo->repo_id));
    }

    cert = client_certificate(r, chain, &n_chain);
    if (!cert) {
        message = apr_psprintf(r->pool, "repository \"%s\" is protected: request it over "
                               "HTTPS with a client certificate signed by its CA",
                               repo->repo_id);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "%s (no client certificate)", message);
        return deny(r, HTTP_FORBIDDEN, message);
    }
    if (pulp_x509_verify_client(store, cert, chain, n_chain, &error) != PULP_OK) {
        message = apr_psprintf(r->pool, "repository \"%s\" is protected: %s", repo->repo_id,
                               error.message);
        pulp_error_clear(&error);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "%s", message);
        return deny(r, HTTP_FORBIDDEN, message);
    }
    return OK;
}

/* Looks path up among the protected distributors, after one round trip that brings the
 * change notices up to date. When the database cannot be reached, the list that this child
 * loaded last decides. */
static pulp_status_t find_protected(request_rec *r, pulp_server_config_t *config,
                                    const char *path, const pulp_served_tree_t *tree,
                                    const pulp_protected_repo_t *found[2],
                                    pulp_error_t *error)
{
    pulp_request_t req = { 0 };
    pulp_error_t db_error = PULP_ERROR_INIT;
    PGconn *db;
    pulp_status_t status;

    req.r = r;
    req.config = config;
    db = pulp_request_db(&req, &db_error);
    if (db && pulp_changes_catch_up(db, &db_error) != PULP_OK)
        db = NULL;
    if (!db) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "checking the protected repositories "
                      "with the list loaded last: %s", db_error.message);
        pulp_error_clear(&db_error);
    }
    status = pulp_protected_repos_find(db, path, tree, r->pool, found, error);
    pulp_request_release_db(&req);
    return status;
}

static int check_repo_access(request_rec *r)
{
    pulp_server_config_t *config = ap_get_module_config(r->server->module_config, &pulp_module);
    pulp_error_t error = PULP_ERROR_INIT;
    const pulp_protected_repo_t *found[2] = { NULL, NULL };
    pulp_served_tree_t tree;
    const char *root = NULL;
    const char *path = tree_path(r, config, &root);
    int checked = 0;

    if (!path || !*path)
        return DECLINED;
    if (find_serving_link(r, root, path, &tree) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "could not tell which repository serves "
                      "\"%s\": the link above \"%s\" in \"%s\" cannot be read or does not "
                      "point at a published tree", r->uri, path, root);
        return deny(r, HTTP_FORBIDDEN, "could not tell which repository serves this path, "
                    "so it is not served; see the server's error log");
    }
    if (find_protected(r, config, path, &tree, found, &error) != PULP_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "could not check whether \"%s\" is "
                      "protected: %s", r->uri, error.message);
        pulp_error_clear(&error);
        return deny(r, HTTP_SERVICE_UNAVAILABLE, "could not check whether the repository is "
                    "protected, because the database cannot be reached; retry later");
    }
    for (int i = 0; i < 2; i++) {
        int status;

        if (!found[i])
            continue;
        status = check_certificate(r, config, found[i]);
        if (status != OK)
            return status;
        checked = 1;
    }
    return checked ? OK : DECLINED;
}

void pulp_repo_access_register(void)
{
    ap_hook_access_checker(check_repo_access, NULL, NULL, APR_HOOK_MIDDLE);
}
