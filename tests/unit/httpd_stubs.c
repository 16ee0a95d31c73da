/* Stand-ins for the httpd functions that mod_pulp's code references, so that unit tests can
 * link the module's objects without a running httpd. Only what the tests call does anything:
 * the rest exists for the linker and fails loudly if a test reaches it. */
#include <stdio.h>
#include <stdlib.h>

#include <ap_mpm.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <httpd.h>
#include <util_filter.h>

/* A test that reaches a stub it does not expect has a bug: stop at once. */
static void unexpected(const char *name)
{
    fprintf(stderr, "httpd stub %s called by a unit test\n", name);
    abort();
}

void ap_hook_child_init(ap_HOOK_child_init_t *pf, const char *const *pre,
                        const char *const *succ, int order)
{
    (void)pf;
    (void)pre;
    (void)succ;
    (void)order;
}

void ap_hook_handler(ap_HOOK_handler_t *pf, const char *const *pre, const char *const *succ,
                     int order)
{
    (void)pf;
    (void)pre;
    (void)succ;
    (void)order;
}

void ap_hook_insert_error_filter(ap_HOOK_insert_error_filter_t *pf, const char *const *pre,
                                 const char *const *succ, int order)
{
    (void)pf;
    (void)pre;
    (void)succ;
    (void)order;
}

void ap_log_error_(const char *file, int line, int module_index, int level, apr_status_t status,
                   const server_rec *s, const char *fmt, ...)
{
    (void)file;
    (void)line;
    (void)module_index;
    (void)level;
    (void)status;
    (void)s;
    (void)fmt;
}

void ap_log_rerror_(const char *file, int line, int module_index, int level, apr_status_t status,
                    const request_rec *r, const char *fmt, ...)
{
    (void)file;
    (void)line;
    (void)module_index;
    (void)level;
    (void)status;
    (void)r;
    (void)fmt;
}

void ap_log_perror_(const char *file, int line, int module_index, int level, apr_status_t status,
                    apr_pool_t *p, const char *fmt, ...)
{
    (void)file;
    (void)line;
    (void)module_index;
    (void)level;
    (void)status;
    (void)p;
    (void)fmt;
}

apr_status_t ap_mpm_query(int query_code, int *result)
{
    (void)query_code;
    *result = 1;
    return APR_SUCCESS;
}

const char *ap_get_status_line(int status)
{
    (void)status;
    return "500 Internal Server Error";
}

ap_filter_rec_t *ap_register_output_filter(const char *name, ap_out_filter_func filter_func,
                                           ap_init_filter_func filter_init, ap_filter_type ftype)
{
    (void)name;
    (void)filter_func;
    (void)filter_init;
    (void)ftype;
    return NULL;
}

ap_filter_t *ap_add_output_filter(const char *name, void *ctx, request_rec *r, conn_rec *c)
{
    (void)name;
    (void)ctx;
    (void)r;
    (void)c;
    unexpected("ap_add_output_filter");
    return NULL;
}

void ap_remove_output_filter(ap_filter_t *f)
{
    (void)f;
    unexpected("ap_remove_output_filter");
}

apr_status_t ap_pass_brigade(ap_filter_t *filter, apr_bucket_brigade *bucket)
{
    (void)filter;
    (void)bucket;
    unexpected("ap_pass_brigade");
    return APR_EGENERAL;
}

int ap_rwrite(const void *buf, int nbyte, request_rec *r)
{
    (void)buf;
    (void)r;
    unexpected("ap_rwrite");
    return nbyte;
}

void ap_set_content_length(request_rec *r, apr_off_t length)
{
    (void)r;
    (void)length;
    unexpected("ap_set_content_length");
}

void ap_set_content_type(request_rec *r, const char *ct)
{
    (void)r;
    (void)ct;
    unexpected("ap_set_content_type");
}

int ap_setup_client_block(request_rec *r, int read_policy)
{
    (void)r;
    (void)read_policy;
    unexpected("ap_setup_client_block");
    return HTTP_INTERNAL_SERVER_ERROR;
}

int ap_should_client_block(request_rec *r)
{
    (void)r;
    unexpected("ap_should_client_block");
    return 0;
}

long ap_get_client_block(request_rec *r, char *buffer, apr_size_t bufsiz)
{
    (void)r;
    (void)buffer;
    (void)bufsiz;
    unexpected("ap_get_client_block");
    return -1;
}

int ap_unescape_urlencoded(char *query)
{
    (void)query;
    unexpected("ap_unescape_urlencoded");
    return HTTP_BAD_REQUEST;
}

void ap_hook_access_checker(ap_HOOK_access_checker_t *pf, const char *const *pre,
                            const char *const *succ, int order)
{
    (void)pf;
    (void)pre;
    (void)succ;
    (void)order;
}

/* Resolves a relative path against "/" in place of ServerRoot, which tests do not set. */
char *ap_server_root_relative(apr_pool_t *p, const char *fname)
{
    return fname[0] == '/' ? apr_pstrdup(p, fname) : apr_pstrcat(p, "/", fname, NULL);
}

int ap_ssl_conn_is_ssl(conn_rec *c)
{
    (void)c;
    unexpected("ap_ssl_conn_is_ssl");
    return 0;
}

const char *ap_ssl_var_lookup(apr_pool_t *p, server_rec *s, conn_rec *c, request_rec *r,
                              const char *name)
{
    (void)p;
    (void)s;
    (void)c;
    (void)r;
    (void)name;
    unexpected("ap_ssl_var_lookup");
    return NULL;
}
