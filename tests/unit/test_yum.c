/* Unit tests for the yum plugin's pure parts: configuration checks, URLs, decompression by
 * content, published locations and symlink targets. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pulp_plugins.h"
#include "pulp_storage.h"
#include "plugins/yum/yum.h"
#include "plugins/yum/yum_curl.h"
#include "plugins/yum/yum_download.h"
#include "plugins/yum/yum_rate.h"
#include "plugins/yum/yum_tree.h"

/* --- configuration ---------------------------------------------------------------------- */

static pulp_status_t check_importer(const char *text, pulp_error_t *error)
{
    const pulp_importer_type_t *type = pulp_importer_type_find("yum_importer");
    json_object *config = json_tokener_parse(text);
    pulp_status_t status;

    ck_assert_ptr_nonnull(type);
    ck_assert_ptr_nonnull(config);
    status = type->validate_config(config, error);
    json_object_put(config);
    return status;
}

static pulp_status_t check_distributor(const char *text, pulp_error_t *error)
{
    const pulp_distributor_type_t *type = pulp_distributor_type_find("yum_distributor");
    json_object *config = json_tokener_parse(text);
    pulp_status_t status;

    ck_assert_ptr_nonnull(type);
    status = type->validate_config(config, error);
    json_object_put(config);
    return status;
}

START_TEST(importer_accepts_full_config)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(check_importer("{\"feed\": \"https://example.com/repo/\", \"validate\": true,"
                                    " \"max_downloads\": 10, \"remove_missing\": \"true\","
                                    " \"retain_old_count\": 0, \"skip\": [\"erratum\"],"
                                    " \"basic_auth_username\": \"u\","
                                    " \"basic_auth_password\": \"p\", \"read_timeout\": 5,"
                                    " \"retries\": 0}", &error),
                     PULP_OK);
    pulp_error_clear(&error);
}
END_TEST

START_TEST(importer_rejects_unknown_key)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(check_importer("{\"feeds\": \"http://x/\"}", &error),
                     PULP_ERR_UNSUPPORTED_VALUE);
    ck_assert(strstr(error.message, "feeds") != NULL);
    pulp_error_clear(&error);
}
END_TEST

START_TEST(importer_rejects_bad_values)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(check_importer("{\"feed\": \"not a url\"}", &error),
                     PULP_ERR_INVALID_VALUE);
    pulp_error_clear(&error);
    ck_assert_int_eq(check_importer("{\"max_downloads\": 0}", &error), PULP_ERR_INVALID_VALUE);
    pulp_error_clear(&error);
    ck_assert_int_eq(check_importer("{\"type_skip_list\": [\"rpms\"]}", &error),
                     PULP_ERR_INVALID_VALUE);
    pulp_error_clear(&error);
}
END_TEST

START_TEST(importer_requires_credential_pairs)
{
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *names = NULL;

    ck_assert_int_eq(check_importer("{\"basic_auth_username\": \"u\"}", &error),
                     PULP_ERR_MISSING_VALUE);
    ck_assert(strstr(error.message, "basic_auth_password") != NULL);
    ck_assert(json_object_object_get_ex(error.data, "property_names", &names));
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(names, 0)),
                     "basic_auth_password");
    pulp_error_clear(&error);
    ck_assert_int_eq(check_importer("{\"proxy_password\": \"p\"}", &error),
                     PULP_ERR_MISSING_VALUE);
    pulp_error_clear(&error);
    ck_assert_int_eq(check_importer("{\"proxy_port\": 3128}", &error), PULP_ERR_MISSING_VALUE);
    pulp_error_clear(&error);
    ck_assert_int_eq(check_importer("{\"proxy_host\": \"proxy\"}", &error), PULP_OK);
    pulp_error_clear(&error);
}
END_TEST

START_TEST(distributor_requires_keys)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(check_distributor("{\"relative_url\": \"a/b\", \"http\": true,"
                                       " \"https\": false, \"checksum_type\": \"sha1\"}",
                                       &error),
                     PULP_OK);
    ck_assert_int_eq(check_distributor("{\"http\": true, \"https\": false}", &error),
                     PULP_ERR_MISSING_VALUE);
    pulp_error_clear(&error);
    ck_assert_int_eq(check_distributor("{\"relative_url\": \"../x\", \"http\": true,"
                                       " \"https\": false}", &error),
                     PULP_ERR_INVALID_VALUE);
    pulp_error_clear(&error);
    ck_assert_int_eq(check_distributor("{\"relative_url\": \"x\", \"http\": true,"
                                       " \"https\": false, \"checksum_type\": \"crc\"}", &error),
                     PULP_ERR_INVALID_VALUE);
    pulp_error_clear(&error);
}
END_TEST

START_TEST(distributor_protected_needs_https)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(check_distributor("{\"relative_url\": \"x\", \"http\": true,"
                                       " \"https\": false, \"protected\": true}", &error),
                     PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_nonnull(strstr(error.message, "https"));
    pulp_error_clear(&error);
    ck_assert_int_eq(check_distributor("{\"relative_url\": \"x\", \"http\": true,"
                                       " \"https\": \"false\", \"protected\": \"True\"}",
                                       &error),
                     PULP_ERR_INVALID_VALUE);
    pulp_error_clear(&error);
    ck_assert_int_eq(check_distributor("{\"relative_url\": \"x\", \"http\": true,"
                                       " \"https\": false, \"protected\": false}", &error),
                     PULP_OK);
    ck_assert_int_eq(check_distributor("{\"relative_url\": \"x\", \"http\": false,"
                                       " \"https\": true, \"protected\": true}", &error),
                     PULP_OK);
}
END_TEST

START_TEST(distributor_rejects_invalid_auth_ca)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(check_distributor("{\"relative_url\": \"x\", \"http\": false,"
                                       " \"https\": true, \"auth_ca\": \"not PEM\"}", &error),
                     PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_nonnull(strstr(error.message, "invalid auth_ca"));
    pulp_error_clear(&error);
    ck_assert_int_eq(check_distributor("{\"relative_url\": \"x\", \"http\": false,"
                                       " \"https\": true, \"auth_ca\": null}", &error),
                     PULP_OK);
}
END_TEST

/* Builds a distributor configuration whose auth_ca is `count` copies of `piece`. */
static char *config_with_auth_ca(const char *piece, int count)
{
    GString *text = g_string_new("{\"relative_url\": \"x\", \"http\": false,"
                                 " \"https\": true, \"auth_ca\": \"");

    for (int i = 0; i < count; i++)
        g_string_append(text, piece);
    g_string_append(text, "\"}");
    return g_string_free(text, FALSE);
}

START_TEST(distributor_rejects_oversized_auth_ca)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char *many = config_with_auth_ca("-----BEGIN CERTIFICATE-----\\n", 65);
    char *large = config_with_auth_ca("          ", 30 * 1024);

    ck_assert_int_eq(check_distributor(many, &error), PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_nonnull(strstr(error.message, "at most 64 certificates"));
    pulp_error_clear(&error);
    ck_assert_int_eq(check_distributor(large, &error), PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_nonnull(strstr(error.message, "256 KiB"));
    pulp_error_clear(&error);
    g_free(many);
    g_free(large);
}
END_TEST

START_TEST(content_types_registered)
{
    static const char *const types[] = {
        "rpm", "srpm", "erratum", "package_group", "package_category", "package_environment",
        "yum_repo_metadata_file",
    };

    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        ck_assert_ptr_nonnull(pulp_content_type_find(types[i]));
}
END_TEST

/* --- URLs --------------------------------------------------------------------------------- */

START_TEST(url_join_adds_slash)
{
    char out[256];

    ck_assert_int_eq(pulp_download_url_join("http://h/repo", "repodata/repomd.xml", out,
                                            sizeof out, NULL), PULP_OK);
    ck_assert_str_eq(out, "http://h/repo/repodata/repomd.xml");
    ck_assert_int_eq(pulp_download_url_join("http://h/repo/", "a.rpm", out, sizeof out, NULL),
                     PULP_OK);
    ck_assert_str_eq(out, "http://h/repo/a.rpm");
}
END_TEST

START_TEST(url_join_encodes_path)
{
    char out[256];

    ck_assert_int_eq(pulp_download_url_join("http://h/", "P/a b%c#d?e+f.rpm", out, sizeof out,
                                            NULL), PULP_OK);
    ck_assert_str_eq(out, "http://h/P/a%20b%25c%23d%3Fe+f.rpm");
}
END_TEST

START_TEST(url_join_too_long)
{
    char out[16];

    ck_assert_int_eq(pulp_download_url_join("http://h/", "abcdefghijklmnop", out, sizeof out,
                                            NULL), PULP_ERR_INVALID_VALUE);
}
END_TEST

START_TEST(url_origin_parts)
{
    char out[128];

    pulp_download_url_origin("HTTP://Example.COM/repo/", out, sizeof out);
    ck_assert_str_eq(out, "http://example.com:80");
    pulp_download_url_origin("https://h:8443/x", out, sizeof out);
    ck_assert_str_eq(out, "https://h:8443");
    pulp_download_url_origin("http://127.0.0.2:8080/P/a.rpm", out, sizeof out);
    ck_assert_str_eq(out, "http://127.0.0.2:8080");
    pulp_download_url_origin("not a url", out, sizeof out);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(url_split_credentials_removes_userinfo)
{
    char out[128];
    char username[32];
    char password[32];

    ck_assert_int_eq(pulp_download_url_split_credentials(
                         "http://alice:s%40cret@h:8080/repo/", out, sizeof out, username,
                         sizeof username, password, sizeof password, NULL), PULP_OK);
    ck_assert_str_eq(out, "http://h:8080/repo/");
    ck_assert_str_eq(username, "alice");
    ck_assert_str_eq(password, "s@cret");

    ck_assert_int_eq(pulp_download_url_split_credentials(
                         "https://bob@h/x", out, sizeof out, username, sizeof username,
                         password, sizeof password, NULL), PULP_OK);
    ck_assert_str_eq(out, "https://h/x");
    ck_assert_str_eq(username, "bob");
    ck_assert_str_eq(password, "");
}
END_TEST

START_TEST(url_split_credentials_keeps_plain_url)
{
    char out[128];
    char username[32];
    char password[32];

    ck_assert_int_eq(pulp_download_url_split_credentials(
                         "HTTP://Example.COM/repo", out, sizeof out, username, sizeof username,
                         password, sizeof password, NULL), PULP_OK);
    ck_assert_str_eq(out, "HTTP://Example.COM/repo");
    ck_assert_str_eq(username, "");
    ck_assert_str_eq(password, "");
}
END_TEST

START_TEST(url_split_credentials_hides_rejected_url)
{
    char out[128];
    char username[8];
    char password[8];
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(pulp_download_url_split_credentials(
                         "http://alice:secret-too-long@h/", out, sizeof out, username,
                         sizeof username, password, sizeof password, &error),
                     PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_null(strstr(error.message, "secret"));
    ck_assert_str_eq(password, "");

    pulp_error_clear(&error);
    ck_assert_int_eq(pulp_download_url_split_credentials(
                         "http://alice:secret@h h/", out, sizeof out, username,
                         sizeof username, password, sizeof password, &error),
                     PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_null(strstr(error.message, "secret"));
}
END_TEST

/* --- failure messages ------------------------------------------------------------------ */

START_TEST(failure_names_proxy_credentials)
{
    pulp_download_options_t options;
    yum_curl_failure_t failure = { CURLE_HTTP_RETURNED_ERROR, 407, 0, "", NULL };
    char out[512];

    pulp_download_options_init(&options);
    options.proxy_host = "127.0.0.1";
    yum_curl_describe(&failure, &options, out, sizeof out);
    ck_assert_str_eq(out, "HTTP status 407 (proxy authentication required: set proxy_username "
                          "and proxy_password)");
    ck_assert_int_eq(yum_curl_is_transient(&failure), 0);

    options.proxy_username = "squid";
    options.proxy_password = "secret";
    failure.code = CURLE_RECV_ERROR;
    failure.http_status = 0;
    failure.connect_status = 407;
    yum_curl_describe(&failure, &options, out, sizeof out);
    ck_assert_str_eq(out, "HTTP status 407 from the proxy to CONNECT (proxy authentication "
                          "required: check proxy_username and proxy_password)");
    ck_assert_ptr_null(strstr(out, "secret"));
    ck_assert_int_eq(yum_curl_is_transient(&failure), 0);

    failure.connect_status = 503;
    ck_assert_int_eq(yum_curl_is_transient(&failure), 1);
}
END_TEST

START_TEST(failure_names_tls_options)
{
    pulp_download_options_t options;
    yum_tls_trace_t trace = { 1 };
    yum_curl_failure_t failure = { CURLE_PEER_FAILED_VERIFICATION, 0, 0,
                                   "SSL certificate problem: self-signed certificate", NULL };
    char out[512];

    pulp_download_options_init(&options);
    yum_curl_describe(&failure, &options, out, sizeof out);
    ck_assert_str_eq(out, "SSL certificate problem: self-signed certificate; set ssl_ca_cert to "
                          "the CA certificate that signed the server's certificate, or "
                          "ssl_validation to false");

    failure.code = CURLE_SEND_ERROR;
    failure.detail = "Send failure: Broken pipe";
    failure.trace = &trace;
    yum_curl_describe(&failure, &options, out, sizeof out);
    ck_assert_str_eq(out, "Send failure: Broken pipe; the server requested a client certificate "
                          "and none is configured: set ssl_client_cert and ssl_client_key");
    ck_assert_int_eq(yum_curl_is_transient(&failure), 1);

    failure.code = CURLE_SSL_CERTPROBLEM;
    failure.detail = "could not load PEM client certificate";
    failure.trace = NULL;
    options.ssl_client_cert = "not a certificate";
    yum_curl_describe(&failure, &options, out, sizeof out);
    ck_assert_str_eq(out, "invalid ssl_client_cert or ssl_client_key: could not load PEM client "
                          "certificate");
    ck_assert_int_eq(yum_curl_is_transient(&failure), 0);
}
END_TEST

/* --- speed limit ------------------------------------------------------------------------- */

START_TEST(rate_without_limit_admits_all)
{
    yum_rate_t rate;

    yum_rate_reset(&rate, 0);
    ck_assert_int_eq(yum_rate_admit(&rate, 1 << 20, 1000), 0);
    ck_assert_int_eq(yum_rate_admit(&rate, 1 << 20, 1000), 0);
}
END_TEST

START_TEST(rate_holds_back_early_bytes)
{
    yum_rate_t rate;

    /* 1000 bytes per second, from the first call at 1000 ms. */
    yum_rate_reset(&rate, 1000);
    ck_assert_int_eq(yum_rate_admit(&rate, 500, 1000), 1500);
    ck_assert_int_eq(rate.accepted, 0);
    ck_assert_int_eq(yum_rate_admit(&rate, 500, 1500), 0);
    ck_assert_int_eq(rate.accepted, 500);
    ck_assert_int_eq(yum_rate_admit(&rate, 1000, 1600), 2500);
    ck_assert_int_eq(yum_rate_admit(&rate, 1000, 2600), 0);
    ck_assert_int_eq(rate.accepted, 1500);
}
END_TEST

START_TEST(rate_reset_starts_over)
{
    yum_rate_t rate;

    yum_rate_reset(&rate, 1000);
    ck_assert_int_eq(yum_rate_admit(&rate, 1000, 1000), 2000);
    ck_assert_int_eq(yum_rate_admit(&rate, 1000, 2000), 0);
    yum_rate_reset(&rate, 1000);
    ck_assert_int_eq(rate.accepted, 0);
    ck_assert_int_eq(yum_rate_admit(&rate, 1000, 5000), 6000);
}
END_TEST

/* --- decompression ---------------------------------------------------------------------- */

/* Filters of libarchive that write each compression; NULL writes the data as it is. */
static int (*const compressors[])(struct archive *) = {
    NULL, archive_write_add_filter_gzip, archive_write_add_filter_bzip2,
    archive_write_add_filter_xz, archive_write_add_filter_zstd,
};

/* Writes text into path through one of the compressors. */
static void write_compressed(const char *path, int index, const char *text)
{
    struct archive *writer = archive_write_new();
    struct archive_entry *entry = archive_entry_new();

    ck_assert_ptr_nonnull(writer);
    if (compressors[index])
        ck_assert_int_eq(compressors[index](writer), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_set_format_raw(writer), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(writer, path), ARCHIVE_OK);
    archive_entry_set_filetype(entry, AE_IFREG);
    ck_assert_int_eq(archive_write_header(writer, entry), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_data(writer, text, strlen(text)), (la_ssize_t)strlen(text));
    ck_assert_int_eq(archive_write_close(writer), ARCHIVE_OK);
    archive_entry_free(entry);
    archive_write_free(writer);
}

/* Every compression is read by content: the files carry no suffix. */
START_TEST(decompress_detects_content)
{
    char dir[] = "/tmp/pulp-test-yum-XXXXXX";
    char source[256];
    char output[256];
    char text[64] = { 0 };
    FILE *in;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(source, sizeof source, "%s/input", dir);
    snprintf(output, sizeof output, "%s/output", dir);
    write_compressed(source, _i, "<metadata/>\n");

    ck_assert_int_eq(yum_decompress(source, output, NULL), PULP_OK);
    in = fopen(output, "r");
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(fgets(text, sizeof text, in));
    fclose(in);
    ck_assert_str_eq(text, "<metadata/>\n");
    pulp_storage_remove_tree(dir, NULL);
}
END_TEST

START_TEST(decompress_reports_corruption)
{
    char dir[] = "/tmp/pulp-test-yum-XXXXXX";
    char source[256];
    char output[256];
    char text[8192];
    uint32_t state = 1;
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(source, sizeof source, "%s/input", dir);
    snprintf(output, sizeof output, "%s/output", dir);
    /* Pseudo-random letters, which gzip cannot shrink below 2000 bytes. */
    for (size_t i = 0; i < sizeof text - 1; i++) {
        state = state * 1103515245u + 12345u;
        text[i] = (char)('0' + (state >> 16) % 64);
    }
    text[sizeof text - 1] = '\0';
    write_compressed(source, 1, text);
    /* A gzip stream cut in half. */
    ck_assert_int_eq(truncate(source, 2000), 0);

    ck_assert_int_ne(yum_decompress(source, output, &error), PULP_OK);
    ck_assert(strstr(error.message, "could not decompress") != NULL);
    pulp_storage_remove_tree(dir, NULL);
}
END_TEST

/* --- published layout ------------------------------------------------------------------- */

START_TEST(package_location_by_letter)
{
    char out[256];

    yum_package_location("tapir-2.0-1.noarch.rpm", out, sizeof out);
    ck_assert_str_eq(out, "Packages/t/tapir-2.0-1.noarch.rpm");
    yum_package_location("NetworkManager-1.0-1.x86_64.rpm", out, sizeof out);
    ck_assert_str_eq(out, "Packages/n/NetworkManager-1.0-1.x86_64.rpm");
}
END_TEST

START_TEST(package_target_reaches_store)
{
    char out[512];

    yum_tree_package_target("content/rpm/ab/abcd/x.rpm", out, sizeof out);
    ck_assert_str_eq(out, "../../../../../../../../content/rpm/ab/abcd/x.rpm");
}
END_TEST

START_TEST(master_dir_rejects_bad_ids)
{
    char out[512];

    ck_assert_int_eq(yum_tree_master_dir("/s", "zoo", "yum", out, sizeof out, NULL), PULP_OK);
    ck_assert_str_eq(out, "/s/published/yum/master/zoo/yum");
    ck_assert_int_eq(yum_tree_master_dir("/s", "..", "yum", out, sizeof out, NULL),
                     PULP_ERR_INVALID_VALUE);
    ck_assert_int_eq(yum_tree_master_dir("/s", "a/b", "yum", out, sizeof out, NULL),
                     PULP_ERR_INVALID_VALUE);
}
END_TEST

/* A tree served at a nested relative URL resolves through the relative symlink. */
START_TEST(serve_links_relative_url)
{
    char storage[] = "/tmp/pulp-test-yum-XXXXXX";
    char path[512];
    pulp_error_t error = PULP_ERROR_INIT;
    FILE *out;

    ck_assert_ptr_nonnull(mkdtemp(storage));
    snprintf(path, sizeof path, "%s/published/yum/master/zoo/yum/t1/repodata", storage);
    ck_assert_int_eq(pulp_storage_mkdirs(path, 0755, NULL), PULP_OK);
    strcat(path, "/repomd.xml");
    out = fopen(path, "w");
    fputs("repomd", out);
    fclose(out);

    ck_assert_int_eq(yum_tree_serve(storage, "http", "a/b/zoo", "zoo", "yum", "t1", &error),
                     PULP_OK);
    snprintf(path, sizeof path, "%s/published/yum/http/repos/a/b/zoo/repodata/repomd.xml",
             storage);
    ck_assert_int_eq(access(path, R_OK), 0);

    ck_assert_int_eq(yum_tree_serve(storage, "http", "a/b/zoo/inner", "other", "yum", "t1",
                                    &error), PULP_ERR_CONFLICT);
    ck_assert(strstr(error.message, "published by another repository") != NULL);
    ck_assert_int_eq(yum_tree_unserve(storage, "http", "a/b/zoo", "other", "yum", &error),
                     PULP_OK);
    ck_assert_int_eq(access(path, R_OK), 0);
    ck_assert_int_eq(yum_tree_unserve(storage, "http", "a/b/zoo", "zoo", "yum", &error),
                     PULP_OK);
    ck_assert_int_ne(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/published/yum/http/repos/a", storage);
    ck_assert_int_ne(access(path, F_OK), 0);
    pulp_storage_remove_tree(storage, NULL);
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *out = fopen(path, "w");

    ck_assert_ptr_nonnull(out);
    fputs(text, out);
    fclose(out);
}

/* Makes master/<tree>/repodata/<name> and lists it in <tree>.files. */
static void make_tree(const char *master, const char *tree, const char *name)
{
    char path[512];
    char line[256];

    snprintf(path, sizeof path, "%s/%s/repodata", master, tree);
    ck_assert_int_eq(pulp_storage_mkdirs(path, 0755, NULL), PULP_OK);
    snprintf(path, sizeof path, "%s/%s/repodata/%s", master, tree, name);
    write_file(path, tree);
    snprintf(path, sizeof path, "%s/%s.files", master, tree);
    snprintf(line, sizeof line, "repodata/%s\n", name);
    write_file(path, line);
}

static int exists(const char *master, const char *relative)
{
    char path[512];

    snprintf(path, sizeof path, "%s/%s", master, relative);
    return access(path, F_OK) == 0;
}

/* Files of the served tree and of recently retired trees are linked into the new tree;
 * files of trees retired before the grace period are not, and those trees are removed. */
START_TEST(carry_over_and_prune)
{
    char master[] = "/tmp/pulp-test-yum-XXXXXX";
    char path[512];
    struct timespec old_times[2] = { { 0, 0 }, { 0, 0 } };

    ck_assert_ptr_nonnull(mkdtemp(master));
    make_tree(master, "old", "old-primary.xml.gz");
    make_tree(master, "recent", "recent-primary.xml.gz");
    make_tree(master, "served", "served-primary.xml.gz");
    make_tree(master, "new", "new-primary.xml.gz");
    yum_tree_retire(master, "old");
    yum_tree_retire(master, "recent");
    /* Retired two hours ago, beyond the grace period of one hour. */
    old_times[0].tv_sec = old_times[1].tv_sec = time(NULL) - 7200;
    snprintf(path, sizeof path, "%s/old.retired", master);
    ck_assert_int_eq(utimensat(AT_FDCWD, path, old_times, 0), 0);

    yum_tree_carry_over(master, "served", "new");
    ck_assert(exists(master, "new/repodata/served-primary.xml.gz"));
    ck_assert(exists(master, "new/repodata/recent-primary.xml.gz"));
    ck_assert(!exists(master, "new/repodata/old-primary.xml.gz"));

    yum_tree_retire(master, "served");
    yum_tree_prune(master, "new");
    ck_assert(!exists(master, "old"));
    ck_assert(!exists(master, "old.files"));
    ck_assert(!exists(master, "old.retired"));
    ck_assert(exists(master, "recent"));
    ck_assert(exists(master, "served"));
    ck_assert(exists(master, "new"));
    pulp_storage_remove_tree(master, NULL);
}
END_TEST

static Suite *yum_suite(void)
{
    Suite *suite = suite_create("yum");
    TCase *config = tcase_create("config");
    TCase *urls = tcase_create("urls");
    TCase *failures = tcase_create("failures");
    TCase *rate = tcase_create("rate");
    TCase *metadata = tcase_create("metadata");
    TCase *layout = tcase_create("layout");

    tcase_add_test(config, importer_accepts_full_config);
    tcase_add_test(config, importer_rejects_unknown_key);
    tcase_add_test(config, importer_rejects_bad_values);
    tcase_add_test(config, importer_requires_credential_pairs);
    tcase_add_test(config, distributor_requires_keys);
    tcase_add_test(config, distributor_protected_needs_https);
    tcase_add_test(config, distributor_rejects_invalid_auth_ca);
    tcase_add_test(config, distributor_rejects_oversized_auth_ca);
    tcase_add_test(config, content_types_registered);
    suite_add_tcase(suite, config);

    tcase_add_test(urls, url_join_adds_slash);
    tcase_add_test(urls, url_join_encodes_path);
    tcase_add_test(urls, url_join_too_long);
    tcase_add_test(urls, url_origin_parts);
    tcase_add_test(urls, url_split_credentials_removes_userinfo);
    tcase_add_test(urls, url_split_credentials_keeps_plain_url);
    tcase_add_test(urls, url_split_credentials_hides_rejected_url);
    suite_add_tcase(suite, urls);

    tcase_add_test(failures, failure_names_proxy_credentials);
    tcase_add_test(failures, failure_names_tls_options);
    suite_add_tcase(suite, failures);

    tcase_add_test(rate, rate_without_limit_admits_all);
    tcase_add_test(rate, rate_holds_back_early_bytes);
    tcase_add_test(rate, rate_reset_starts_over);
    suite_add_tcase(suite, rate);

    tcase_add_loop_test(metadata, decompress_detects_content, 0,
                        sizeof compressors / sizeof compressors[0]);
    tcase_add_test(metadata, decompress_reports_corruption);
    suite_add_tcase(suite, metadata);

    tcase_add_test(layout, package_location_by_letter);
    tcase_add_test(layout, package_target_reaches_store);
    tcase_add_test(layout, master_dir_rejects_bad_ids);
    tcase_add_test(layout, serve_links_relative_url);
    tcase_add_test(layout, carry_over_and_prune);
    suite_add_tcase(suite, layout);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(yum_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
