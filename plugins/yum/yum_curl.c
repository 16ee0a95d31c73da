#include "yum_curl.h"

#include <stdio.h>
#include <string.h>

#include "pulp_version.h"

/* Sets a PEM text as a libcurl blob option, which libcurl copies. */
static void set_pem_blob(CURL *easy, CURLoption option, const char *pem)
{
    struct curl_blob blob;

    blob.data = (void *)pem;
    blob.len = strlen(pem);
    blob.flags = CURL_BLOB_COPY;
    curl_easy_setopt(easy, option, &blob);
}

static void set_tls_options(CURL *easy, const pulp_download_options_t *options)
{
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, options->ssl_validation ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, options->ssl_validation ? 2L : 0L);
    if (options->ssl_ca_cert) {
        set_pem_blob(easy, CURLOPT_CAINFO_BLOB, options->ssl_ca_cert);
        /* The CA of ssl_ca_cert is the only one trusted, as in Pulp 2: libcurl would
         * otherwise also load the system's CA bundle and directory. */
        curl_easy_setopt(easy, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
    }
    if (options->ssl_client_cert) {
        set_pem_blob(easy, CURLOPT_SSLCERT_BLOB, options->ssl_client_cert);
        curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    }
    /* Without ssl_client_key, libcurl reads the key from the ssl_client_cert text. */
    if (options->ssl_client_key) {
        set_pem_blob(easy, CURLOPT_SSLKEY_BLOB, options->ssl_client_key);
        curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    }
}

static void set_proxy_options(CURL *easy, const pulp_download_options_t *options)
{
    if (!options->proxy_host)
        return;
    curl_easy_setopt(easy, CURLOPT_PROXY, options->proxy_host);
    if (options->proxy_port > 0)
        curl_easy_setopt(easy, CURLOPT_PROXYPORT, options->proxy_port);
    if (options->proxy_username)
        curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, options->proxy_username);
    if (options->proxy_password)
        curl_easy_setopt(easy, CURLOPT_PROXYPASSWORD, options->proxy_password);
}

void yum_curl_set_options(CURL *easy, const pulp_download_options_t *options)
{
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "pulp-c/" PULP_VERSION);
    curl_easy_setopt(easy, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https,ftp,file");
    /* A redirect may not turn a remote feed into a local file read. */
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, (long)options->read_timeout);
    /* Less than 1 byte per second over read_timeout seconds: the server stalls. */
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (long)options->read_timeout);
    set_tls_options(easy, options);
    set_proxy_options(easy, options);
    /* libcurl already keeps credentials to the first host after a redirect
     * (CURLOPT_UNRESTRICTED_AUTH is off); a URL of another origin gets none at all. */
    curl_easy_setopt(easy, CURLOPT_UNRESTRICTED_AUTH, 0L);
}

/* Records a CertificateRequest of the server. Only the text lines are read, and the header
 * and data lines, which may carry credentials, are ignored.
 * NOTE: the marker is the wording of libcurl's OpenSSL backend (7.88). With another TLS
 * backend the request goes unnoticed, so the message lacks the client certificate hint. */
static int trace_handshake(CURL *easy, curl_infotype type, char *data, size_t size,
                           void *baton)
{
    static const char marker[] = "TLS handshake, Request CERT";
    yum_tls_trace_t *trace = baton;

    (void)easy;
    if (type == CURLINFO_TEXT && memmem(data, size, marker, sizeof marker - 1))
        trace->client_cert_requested = 1;
    return 0;
}

void yum_curl_set_trace(CURL *easy, yum_tls_trace_t *trace)
{
    curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, trace_handshake);
    curl_easy_setopt(easy, CURLOPT_DEBUGDATA, trace);
    /* libcurl reports the handshake's messages to the debug callback only in verbose
     * mode. With a debug callback set, nothing goes to stderr. */
    curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
}

static int is_transient_status(long status)
{
    return status == 408 || status == 429 || status >= 500;
}

int yum_curl_is_transient(const yum_curl_failure_t *failure)
{
    if (failure->connect_status >= 400)
        return is_transient_status(failure->connect_status);
    if (failure->code == CURLE_HTTP_RETURNED_ERROR)
        return is_transient_status(failure->http_status);
    switch (failure->code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

/* Returns what to check for an HTTP status that points at the importer's credentials, or
 * NULL. A 401 that a proxy forwards comes from the feed, so only CONNECT's is the proxy's. */
static const char *status_hint(long status, int from_connect,
                               const pulp_download_options_t *options)
{
    if (status == 407 && options->proxy_username)
        return "proxy authentication required: check proxy_username and proxy_password";
    if (status == 407)
        return "proxy authentication required: set proxy_username and proxy_password";
    if (status == 401 && !from_connect && options->username)
        return "unauthorized: check basic_auth_username and basic_auth_password";
    if (status == 401 && !from_connect)
        return "unauthorized: set basic_auth_username and basic_auth_password";
    return NULL;
}

/* Writes "HTTP status <status><source>", followed by the hint in brackets. */
static void describe_status(long status, const char *source, const char *hint, char *out,
                            size_t out_size)
{
    if (hint)
        snprintf(out, out_size, "HTTP status %ld%s (%s)", status, source, hint);
    else
        snprintf(out, out_size, "HTTP status %ld%s", status, source);
}

/* Writes the first part of the reason: what failed, in libcurl's words or ours. */
static void describe_code(const yum_curl_failure_t *failure,
                          const pulp_download_options_t *options, char *out, size_t out_size)
{
    const char *detail = failure->detail && failure->detail[0]
                             ? failure->detail
                             : curl_easy_strerror(failure->code);

    if (failure->connect_status >= 400)
        describe_status(failure->connect_status, " from the proxy to CONNECT",
                        status_hint(failure->connect_status, 1, options), out, out_size);
    else if (failure->code == CURLE_HTTP_RETURNED_ERROR)
        describe_status(failure->http_status, "", status_hint(failure->http_status, 0, options),
                        out, out_size);
    else if (failure->code == CURLE_OPERATION_TIMEDOUT)
        snprintf(out, out_size, "timed out: no data received for %d s", options->read_timeout);
    else if (failure->code == CURLE_SSL_CACERT_BADFILE)
        snprintf(out, out_size, "invalid ssl_ca_cert: %s", detail);
    else if (failure->code == CURLE_SSL_CERTPROBLEM)
        snprintf(out, out_size, "invalid ssl_client_cert or ssl_client_key: %s", detail);
    else
        snprintf(out, out_size, "%s", detail);
}

void yum_curl_describe(const yum_curl_failure_t *failure, const pulp_download_options_t *options,
                       char *out, size_t out_size)
{
    const char *hint = NULL;
    size_t length;

    describe_code(failure, options, out, out_size);
    if (failure->code == CURLE_PEER_FAILED_VERIFICATION && options->ssl_ca_cert)
        hint = "; the certificate was checked against the CA certificate of ssl_ca_cert";
    else if (failure->code == CURLE_PEER_FAILED_VERIFICATION)
        hint = "; set ssl_ca_cert to the CA certificate that signed the server's certificate, "
               "or ssl_validation to false";
    else if (options->proxy_host && (failure->code == CURLE_COULDNT_CONNECT ||
                                      failure->code == CURLE_COULDNT_RESOLVE_PROXY))
        hint = "; the connection to the proxy failed: check proxy_host and proxy_port";
    else if (failure->trace && failure->trace->client_cert_requested && !options->ssl_client_cert)
        hint = "; the server requested a client certificate and none is configured: set "
               "ssl_client_cert and ssl_client_key";
    else if (failure->trace && failure->trace->client_cert_requested &&
             failure->code != CURLE_HTTP_RETURNED_ERROR)
        hint = "; the server requested a client certificate and may have rejected the one of "
               "ssl_client_cert";
    if (!hint)
        return;
    length = strlen(out);
    snprintf(out + length, out_size - length, "%s", hint);
}
