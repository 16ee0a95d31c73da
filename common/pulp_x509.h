/* Client certificate checks against trusted CA certificates given as PEM text (OpenSSL).
 *
 * The protected yum repositories use them: a distributor's auth_ca (or the PulpRepoAuthCA
 * file of httpd) becomes a store, and a client certificate that TLS presented is verified
 * against it. */
#ifndef PULP_X509_H
#define PULP_X509_H

#include <stddef.h>

#include <openssl/x509.h>

#include "pulp_error.h"

/* Builds a store that trusts every certificate of pem, which must contain at least one
 * "CERTIFICATE" block; other blocks (such as a private key) are skipped. Every certificate
 * is a trust anchor (X509_V_FLAG_PARTIAL_CHAIN), so an intermediate CA works without its
 * root. On failure *store is NULL and error is PULP_ERR_INVALID_VALUE with the reason. The
 * caller frees the store with X509_STORE_free. */
pulp_status_t pulp_x509_store_from_pem(const char *pem, X509_STORE **store,
                                       pulp_error_t *error);

/* Verifies the PEM certificate cert_pem against store as a TLS client certificate: the
 * chain (with the n_chain PEM certificates of chain_pems as untrusted intermediates) must
 * end at a certificate of the store, every certificate must be within its validity period,
 * and the purpose must allow client authentication. PULP_ERR_PERMISSION with OpenSSL's
 * reason when it does not verify; PULP_ERR_INVALID_VALUE when cert_pem cannot be parsed. */
pulp_status_t pulp_x509_verify_client(X509_STORE *store, const char *cert_pem,
                                      const char *const *chain_pems, size_t n_chain,
                                      pulp_error_t *error);

#endif
