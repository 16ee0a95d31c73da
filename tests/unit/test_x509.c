/* Unit tests of the client certificate checks (common/pulp_x509.c).
 *
 * The openssl command line makes the certificates in a temporary directory: a root CA, an
 * intermediate CA that the root signed, a client certificate of each, a server certificate,
 * and a client certificate of an unrelated CA. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "pulp_x509.h"

static char directory[] = "/tmp/pulp-test-x509-XXXXXX";

/* "sign NAME CA EXTENSIONS" makes NAME.key and NAME.crt, signed by CA.crt and CA.key, with
 * the X.509 v3 extensions given as printf %b text. "root NAME" makes a self-signed CA. */
static const char make_certs_script[] =
    "set -e\n"
    "sign() {\n"
    "  printf '%b' \"$3\" > $1.ext\n"
    "  openssl req -new -newkey rsa:2048 -nodes -keyout $1.key -subj \"/CN=$1\" -out $1.csr"
    "    2>/dev/null\n"
    "  openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key -CAcreateserial -days 2"
    "    -sha256 -extfile $1.ext -out $1.crt 2>/dev/null\n"
    "}\n"
    "root() {\n"
    "  openssl req -x509 -newkey rsa:2048 -nodes -keyout $1.key -subj \"/CN=$1\" -days 2"
    "    -addext basicConstraints=critical,CA:TRUE"
    "    -addext keyUsage=critical,keyCertSign,cRLSign -out $1.crt 2>/dev/null\n"
    "}\n"
    "root ca\n"
    "root other\n"
    "sign intermediate ca 'basicConstraints=critical,CA:TRUE\\n"
    "keyUsage=critical,keyCertSign,cRLSign\\n'\n"
    "sign client ca 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n'\n"
    "sign deep intermediate 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n'\n"
    "sign server ca 'basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n'\n"
    "sign stranger other 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n'\n";

static char *read_pem(const char *name)
{
    char path[256];
    FILE *file;
    char *text;
    long size;

    snprintf(path, sizeof path, "%s/%s", directory, name);
    file = fopen(path, "r");
    ck_assert_msg(file != NULL, "cannot open %s", path);
    fseek(file, 0, SEEK_END);
    size = ftell(file);
    fseek(file, 0, SEEK_SET);
    text = calloc(1, (size_t)size + 1);
    ck_assert_int_eq(fread(text, 1, (size_t)size, file), (size_t)size);
    fclose(file);
    return text;
}

static X509_STORE *store_of(const char *name)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char *pem = read_pem(name);
    X509_STORE *store = NULL;

    ck_assert_msg(pulp_x509_store_from_pem(pem, &store, &error) == PULP_OK, "%s: %s", name,
                  error.message);
    free(pem);
    return store;
}

/* Verifies certificate name against the store of ca_name, with an optional intermediate. */
static pulp_status_t verify(const char *ca_name, const char *name, const char *intermediate,
                            pulp_error_t *error)
{
    X509_STORE *store = store_of(ca_name);
    char *cert = read_pem(name);
    char *chain = intermediate ? read_pem(intermediate) : NULL;
    const char *chain_pems[1] = { chain };
    pulp_status_t status;

    status = pulp_x509_verify_client(store, cert, chain_pems, chain ? 1 : 0, error);
    X509_STORE_free(store);
    free(cert);
    free(chain);
    return status;
}

static void make_certs(void)
{
    char command[sizeof make_certs_script + 512];

    ck_assert_ptr_nonnull(mkdtemp(directory));
    /* The script goes to sh on its standard input, so that its quotes need no escaping. */
    snprintf(command, sizeof command, "cd '%s' && sh -s <<'EOF'\n%sEOF\n", directory,
             make_certs_script);
    ck_assert_int_eq(system(command), 0);
}

static void remove_certs(void)
{
    char command[128];

    snprintf(command, sizeof command, "rm -rf '%s'", directory);
    ck_assert_int_eq(system(command), 0);
}

START_TEST(store_rejects_text_without_certificate)
{
    pulp_error_t error = PULP_ERROR_INIT;
    X509_STORE *store = (X509_STORE *)1;

    ck_assert_int_eq(pulp_x509_store_from_pem("", &store, &error), PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_null(store);
    ck_assert_ptr_nonnull(strstr(error.message, "no certificate"));
    pulp_error_clear(&error);
    ck_assert_int_eq(pulp_x509_store_from_pem("not a certificate", &store, &error),
                     PULP_ERR_INVALID_VALUE);
    pulp_error_clear(&error);
}
END_TEST

START_TEST(store_rejects_damaged_block)
{
    pulp_error_t error = PULP_ERROR_INIT;
    X509_STORE *store = NULL;
    const char *damaged = "-----BEGIN CERTIFICATE-----\nnot base64 !!\n"
                          "-----END CERTIFICATE-----\n";

    ck_assert_int_eq(pulp_x509_store_from_pem(damaged, &store, &error),
                     PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_null(store);
    ck_assert_ptr_nonnull(strstr(error.message, "certificate 1"));
    pulp_error_clear(&error);
}
END_TEST

START_TEST(store_skips_key_blocks)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char *key = read_pem("ca.key");
    char *cert = read_pem("ca.crt");
    char *both = calloc(1, strlen(key) + strlen(cert) + 1);
    X509_STORE *store = NULL;

    strcat(strcat(both, key), cert);
    ck_assert_int_eq(pulp_x509_store_from_pem(both, &store, &error), PULP_OK);
    ck_assert_ptr_nonnull(store);
    X509_STORE_free(store);
    free(key);
    free(cert);
    free(both);
}
END_TEST

START_TEST(client_of_ca_verifies)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_msg(verify("ca.crt", "client.crt", NULL, &error) == PULP_OK, "%s",
                  error.message);
}
END_TEST

START_TEST(client_of_other_ca_rejected)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(verify("ca.crt", "stranger.crt", NULL, &error), PULP_ERR_PERMISSION);
    ck_assert_ptr_nonnull(strstr(error.message, "not trusted"));
    ck_assert_ptr_nonnull(strstr(error.message, "stranger"));
    pulp_error_clear(&error);
}
END_TEST

START_TEST(server_certificate_rejected)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(verify("ca.crt", "server.crt", NULL, &error), PULP_ERR_PERMISSION);
    ck_assert_ptr_nonnull(strstr(error.message, "purpose"));
    pulp_error_clear(&error);
}
END_TEST

START_TEST(ca_certificate_rejected_as_client)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(verify("ca.crt", "ca.crt", NULL, &error), PULP_ERR_PERMISSION);
    pulp_error_clear(&error);
}
END_TEST

START_TEST(intermediate_from_client_chain)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_msg(verify("ca.crt", "deep.crt", "intermediate.crt", &error) == PULP_OK, "%s",
                  error.message);
    ck_assert_int_eq(verify("ca.crt", "deep.crt", NULL, &error), PULP_ERR_PERMISSION);
    pulp_error_clear(&error);
}
END_TEST

START_TEST(intermediate_as_trust_anchor)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_msg(verify("intermediate.crt", "deep.crt", NULL, &error) == PULP_OK, "%s",
                  error.message);
    ck_assert_int_eq(verify("intermediate.crt", "client.crt", NULL, &error),
                     PULP_ERR_PERMISSION);
    pulp_error_clear(&error);
}
END_TEST

START_TEST(invalid_client_pem_rejected)
{
    pulp_error_t error = PULP_ERROR_INIT;
    X509_STORE *store = store_of("ca.crt");

    ck_assert_int_eq(pulp_x509_verify_client(store, "garbage", NULL, 0, &error),
                     PULP_ERR_INVALID_VALUE);
    pulp_error_clear(&error);
    X509_STORE_free(store);
}
END_TEST

static Suite *x509_suite(void)
{
    Suite *suite = suite_create("x509");
    TCase *certificates = tcase_create("certificates");

    tcase_add_unchecked_fixture(certificates, make_certs, remove_certs);
    tcase_add_test(certificates, store_rejects_text_without_certificate);
    tcase_add_test(certificates, store_rejects_damaged_block);
    tcase_add_test(certificates, store_skips_key_blocks);
    tcase_add_test(certificates, client_of_ca_verifies);
    tcase_add_test(certificates, client_of_other_ca_rejected);
    tcase_add_test(certificates, server_certificate_rejected);
    tcase_add_test(certificates, ca_certificate_rejected_as_client);
    tcase_add_test(certificates, intermediate_from_client_chain);
    tcase_add_test(certificates, intermediate_as_trust_anchor);
    tcase_add_test(certificates, invalid_client_pem_rejected);
    suite_add_tcase(suite, certificates);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(x509_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
