#include "pulp_x509.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

/* Returns OpenSSL's reason for the last error of this thread, and clears the queue. */
static const char *openssl_reason(char *buffer, size_t size)
{
    unsigned long code = ERR_peek_last_error();

    if (code == 0)
        snprintf(buffer, size, "unknown error");
    else
        ERR_error_string_n(code, buffer, size);
    ERR_clear_error();
    return buffer;
}

/* Reads the next CERTIFICATE block of bio. NULL at the end of the text, which OpenSSL
 * reports as PEM_R_NO_START_LINE, and on a damaged block, with *damaged set. */
static X509 *read_certificate(BIO *bio, int *damaged)
{
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    unsigned long code;

    *damaged = 0;
    if (cert)
        return cert;
    code = ERR_peek_last_error();
    if (code != 0 && !(ERR_GET_LIB(code) == ERR_LIB_PEM &&
                       ERR_GET_REASON(code) == PEM_R_NO_START_LINE))
        *damaged = 1;
    else
        ERR_clear_error();
    return NULL;
}

pulp_status_t pulp_x509_store_from_pem(const char *pem, X509_STORE **store,
                                       pulp_error_t *error)
{
    char reason[256];
    BIO *bio = BIO_new_mem_buf(pem, (int)strlen(pem));
    X509_STORE *result = X509_STORE_new();
    int count = 0;
    int damaged = 0;
    X509 *cert;

    *store = NULL;
    if (!bio || !result) {
        BIO_free(bio);
        X509_STORE_free(result);
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not allocate a certificate "
                              "store: %s", openssl_reason(reason, sizeof reason));
    }
    while ((cert = read_certificate(bio, &damaged)) != NULL) {
        int added = X509_STORE_add_cert(result, cert);

        X509_free(cert);
        if (!added) {
            damaged = 1;
            break;
        }
        count++;
    }
    BIO_free(bio);
    if (damaged) {
        X509_STORE_free(result);
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "certificate %d of the PEM text "
                              "is invalid: %s", count + 1, openssl_reason(reason, sizeof reason));
    }
    if (count == 0) {
        X509_STORE_free(result);
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "the PEM text contains no "
                              "certificate (expected a \"-----BEGIN CERTIFICATE-----\" block)");
    }
    X509_STORE_set_flags(result, X509_V_FLAG_PARTIAL_CHAIN);
    *store = result;
    return PULP_OK;
}

static X509 *parse_one(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)strlen(pem));
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    return cert;
}

static pulp_status_t verify(X509_STORE *store, X509 *cert, STACK_OF(X509) *chain,
                            pulp_error_t *error)
{
    char reason[256];
    char subject[256] = "";
    X509_STORE_CTX *context = X509_STORE_CTX_new();
    int verified;

    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    if (!context || !X509_STORE_CTX_init(context, store, cert, chain) ||
        !X509_STORE_CTX_set_default(context, "ssl_client")) {
        X509_STORE_CTX_free(context);
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not set up the verification "
                              "of client certificate \"%s\": %s", subject,
                              openssl_reason(reason, sizeof reason));
    }
    verified = X509_verify_cert(context);
    if (verified != 1) {
        int code = X509_STORE_CTX_get_error(context);

        X509_STORE_CTX_free(context);
        ERR_clear_error();
        return pulp_error_set(error, PULP_ERR_PERMISSION, "client certificate \"%s\" is not "
                              "trusted: %s", subject, X509_verify_cert_error_string(code));
    }
    X509_STORE_CTX_free(context);
    return PULP_OK;
}

pulp_status_t pulp_x509_verify_client(X509_STORE *store, const char *cert_pem,
                                      const char *const *chain_pems, size_t n_chain,
                                      pulp_error_t *error)
{
    char reason[256];
    X509 *cert = parse_one(cert_pem);
    STACK_OF(X509) *chain = sk_X509_new_null();
    pulp_status_t status;

    if (!cert || !chain) {
        X509_free(cert);
        sk_X509_free(chain);
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid client certificate: %s",
                              openssl_reason(reason, sizeof reason));
    }
    for (size_t i = 0; i < n_chain; i++) {
        X509 *intermediate = parse_one(chain_pems[i]);

        if (!intermediate || !sk_X509_push(chain, intermediate)) {
            X509_free(intermediate);
            X509_free(cert);
            sk_X509_pop_free(chain, X509_free);
            return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid certificate %zu of "
                                  "the client's chain: %s", i + 1,
                                  openssl_reason(reason, sizeof reason));
        }
    }
    status = verify(store, cert, chain, error);
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    return status;
}
