/* Unit tests for the content store: path checks, verified commits, concurrent stores. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pulp_storage.h"

/* SHA-256, SHA-1 and MD5 of the 11 bytes "hello world". */
#define HELLO_SHA256 "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
#define HELLO_SHA1 "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"
#define HELLO_MD5 "5eb63bbbe01eeed093cb22bb8f5acdc3"

static char storage_dir[256];

static void make_storage(void)
{
    snprintf(storage_dir, sizeof storage_dir, "/tmp/pulp-test-storage-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(storage_dir));
}

static void remove_storage(void)
{
    pulp_storage_remove_tree(storage_dir, NULL);
}

static int count_entries(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *entry;
    int count = 0;

    if (!dir)
        return -1;
    while ((entry = readdir(dir))) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            count++;
    }
    closedir(dir);
    return count;
}

static const struct {
    const char *input;
    const char *expected;
} normal_paths[] = {
    { "Packages/b/bear-4.1-1.noarch.rpm", "Packages/b/bear-4.1-1.noarch.rpm" },
    { "./a//b/./c/", "a/b/c" },
    { "bear.rpm", "bear.rpm" },
    { "a/.../b", "a/.../b" },
    { "a/..b/c", "a/..b/c" },
};

static const char *const rejected_paths[] = {
    "", "/etc/passwd", "../x", "a/../b", "a/..", "..", "./", ".", "a\\b", "a\nb", "//x",
};

START_TEST(normalize_accepts_relative)
{
    char out[PULP_STORAGE_PATH_MAX];
    const char *input = normal_paths[_i].input;

    ck_assert_int_eq(pulp_storage_path_normalize(input, strlen(input), out, sizeof out, NULL),
                     PULP_OK);
    ck_assert_str_eq(out, normal_paths[_i].expected);
}
END_TEST

START_TEST(normalize_rejects_escapes)
{
    char out[PULP_STORAGE_PATH_MAX];
    pulp_error_t error = PULP_ERROR_INIT;
    const char *input = rejected_paths[_i];

    ck_assert_int_eq(pulp_storage_path_normalize(input, strlen(input), out, sizeof out, &error),
                     PULP_ERR_INVALID_VALUE);
    ck_assert(strstr(error.message, "invalid path") != NULL);
}
END_TEST

START_TEST(normalize_rejects_nul)
{
    char out[PULP_STORAGE_PATH_MAX];
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(pulp_storage_path_normalize("a\0/../../etc", 12, out, sizeof out, &error),
                     PULP_ERR_INVALID_VALUE);
    ck_assert(strstr(error.message, "NUL") != NULL);
}
END_TEST

START_TEST(normalize_rejects_too_long)
{
    char out[8];

    ck_assert_int_eq(pulp_storage_path_normalize("abcd/efgh", 9, out, sizeof out, NULL),
                     PULP_ERR_INVALID_VALUE);
}
END_TEST

START_TEST(name_validity)
{
    char long_name[300];

    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';

    ck_assert(pulp_storage_name_is_valid("bear-4.1-1.noarch.rpm"));
    ck_assert(pulp_storage_name_is_valid("..."));
    ck_assert(!pulp_storage_name_is_valid(""));
    ck_assert(!pulp_storage_name_is_valid("."));
    ck_assert(!pulp_storage_name_is_valid(".."));
    ck_assert(!pulp_storage_name_is_valid("a/b"));
    ck_assert(!pulp_storage_name_is_valid("a\tb"));
    ck_assert(!pulp_storage_name_is_valid(long_name));
    ck_assert(!pulp_storage_name_is_valid(NULL));
}
END_TEST

START_TEST(content_path_layout)
{
    char out[PULP_STORAGE_PATH_MAX];

    ck_assert_int_eq(pulp_storage_content_path("rpm", HELLO_SHA256, "hello.rpm", out,
                                               sizeof out, NULL), PULP_OK);
    ck_assert_str_eq(out, "content/rpm/b9/" HELLO_SHA256 "-hello.rpm");
    ck_assert_int_eq(pulp_storage_content_path("rpm", "B94D", "hello.rpm", out, sizeof out,
                                               NULL), PULP_ERR_INVALID_VALUE);
    ck_assert_int_eq(pulp_storage_content_path("rpm", HELLO_SHA256, "../x", out, sizeof out,
                                               NULL), PULP_ERR_INVALID_VALUE);
    ck_assert_int_eq(pulp_storage_content_path("../rpm", HELLO_SHA256, "x", out, sizeof out,
                                               NULL), PULP_ERR_INVALID_VALUE);
}
END_TEST

/* "<sha256>-<name>" must fit in one file name (255 bytes): a longer name is cut, and never
 * inside a UTF-8 character. */
START_TEST(content_path_long_name)
{
    char name[256];
    char out[PULP_STORAGE_PATH_MAX];
    const char *last;

    memset(name, 'x', 200);
    strcpy(name + 200, ".rpm");
    ck_assert_int_eq(pulp_storage_content_path("rpm", HELLO_SHA256, name, out, sizeof out,
                                               NULL), PULP_OK);
    last = strrchr(out, '/') + 1;
    ck_assert_uint_eq(strlen(last), 255);
    ck_assert(strncmp(last + 65, "xxxx", 4) == 0);

    /* A two-byte character (U+00E9) that would straddle the limit is left out whole. */
    memset(name, 'x', 189);
    strcpy(name + 189, "\xc3\xa9tail.rpm");
    ck_assert_int_eq(pulp_storage_content_path("rpm", HELLO_SHA256, name, out, sizeof out,
                                               NULL), PULP_OK);
    last = strrchr(out, '/') + 1;
    ck_assert_uint_eq(strlen(last), 65 + 189);
}
END_TEST

START_TEST(commit_stores_verified_file)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_storage_file_t *file = pulp_storage_file_new(storage_dir, "sha256", &error);
    char relative[PULP_STORAGE_PATH_MAX];
    char full[PULP_STORAGE_PATH_MAX + 256];
    struct stat info;

    ck_assert_ptr_nonnull(file);
    ck_assert_int_eq(pulp_storage_file_write(file, "hello ", 6, &error), PULP_OK);
    ck_assert_int_eq(pulp_storage_file_write(file, "world", 5, &error), PULP_OK);
    ck_assert_int_eq(pulp_storage_file_size(file), 11);
    ck_assert_int_eq(pulp_storage_file_verify(file, 11, HELLO_SHA256, &error), PULP_OK);
    ck_assert_int_eq(pulp_storage_file_commit(file, "rpm", "hello.rpm", 0, relative,
                                              sizeof relative, &error), PULP_OK);
    pulp_storage_file_free(file);

    ck_assert_str_eq(relative, "content/rpm/b9/" HELLO_SHA256 "-hello.rpm");
    snprintf(full, sizeof full, "%s/%s", storage_dir, relative);
    ck_assert_int_eq(stat(full, &info), 0);
    ck_assert_int_eq(info.st_size, 11);
    snprintf(full, sizeof full, "%s/tmp", storage_dir);
    ck_assert_int_eq(count_entries(full), 0);
}
END_TEST

START_TEST(verify_rejects_wrong_checksum)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_storage_file_t *file = pulp_storage_file_new(storage_dir, "sha256", &error);
    char tmp_dir[512];

    pulp_storage_file_write(file, "hello world", 11, &error);
    ck_assert_int_eq(pulp_storage_file_verify(file, 11, HELLO_SHA1, &error),
                     PULP_ERR_INVALID_VALUE);
    ck_assert(strstr(error.message, "checksum mismatch") != NULL);
    pulp_storage_file_free(file);

    snprintf(tmp_dir, sizeof tmp_dir, "%s/tmp", storage_dir);
    ck_assert_int_eq(count_entries(tmp_dir), 0);
    snprintf(tmp_dir, sizeof tmp_dir, "%s/content", storage_dir);
    ck_assert_int_eq(count_entries(tmp_dir), -1);
}
END_TEST

START_TEST(verify_rejects_wrong_size)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_storage_file_t *file = pulp_storage_file_new(storage_dir, NULL, &error);

    pulp_storage_file_write(file, "hello", 5, &error);
    ck_assert_int_eq(pulp_storage_file_verify(file, 11, NULL, &error), PULP_ERR_INVALID_VALUE);
    ck_assert(strstr(error.message, "expected 11 bytes, received 5") != NULL);
    pulp_storage_file_free(file);
}
END_TEST

START_TEST(verify_other_checksum_types)
{
    pulp_storage_file_t *sha1 = pulp_storage_file_new(storage_dir, "sha", NULL);
    pulp_storage_file_t *md5 = pulp_storage_file_new(storage_dir, "md5", NULL);

    pulp_storage_file_write(sha1, "hello world", 11, NULL);
    pulp_storage_file_write(md5, "hello world", 11, NULL);
    ck_assert_int_eq(pulp_storage_file_verify(sha1, -1, HELLO_SHA1, NULL), PULP_OK);
    ck_assert_int_eq(pulp_storage_file_verify(md5, -1, HELLO_MD5, NULL), PULP_OK);
    ck_assert_str_eq(pulp_storage_file_sha256(sha1), HELLO_SHA256);
    pulp_storage_file_free(sha1);
    pulp_storage_file_free(md5);
}
END_TEST

START_TEST(unsupported_checksum_type)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_ptr_null(pulp_storage_file_new(storage_dir, "crc32", &error));
    ck_assert_int_eq(error.status, PULP_ERR_UNSUPPORTED_VALUE);
    ck_assert(!pulp_storage_checksum_type_is_supported("crc32"));
    ck_assert(pulp_storage_checksum_type_is_supported("sha224"));
    ck_assert(pulp_storage_checksum_type_is_supported("SHA256"));
}
END_TEST

START_TEST(reset_restarts_checksum)
{
    pulp_storage_file_t *file = pulp_storage_file_new(storage_dir, "sha256", NULL);

    pulp_storage_file_write(file, "partial", 7, NULL);
    ck_assert_int_eq(pulp_storage_file_reset(file, NULL), PULP_OK);
    pulp_storage_file_write(file, "hello world", 11, NULL);
    ck_assert_int_eq(pulp_storage_file_verify(file, 11, HELLO_SHA256, NULL), PULP_OK);
    pulp_storage_file_free(file);
}
END_TEST

/* Several processes store the same content at once: each one succeeds and one file stays. */
START_TEST(concurrent_commits_keep_one_copy)
{
    char relative[PULP_STORAGE_PATH_MAX];
    char directory[PULP_STORAGE_PATH_MAX + 256];
    pid_t children[8];

    for (int i = 0; i < 8; i++) {
        children[i] = fork();
        if (children[i] == 0) {
            pulp_storage_file_t *file = pulp_storage_file_new(storage_dir, "sha256", NULL);
            int ok = file && pulp_storage_file_write(file, "hello world", 11, NULL) == PULP_OK &&
                     pulp_storage_file_commit(file, "rpm", "hello.rpm", i % 2, relative,
                                              sizeof relative, NULL) == PULP_OK;

            pulp_storage_file_free(file);
            _exit(ok ? 0 : 1);
        }
    }
    for (int i = 0; i < 8; i++) {
        int status;

        ck_assert_int_eq(waitpid(children[i], &status, 0), children[i]);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    }

    snprintf(directory, sizeof directory, "%s/content/rpm/b9", storage_dir);
    ck_assert_int_eq(count_entries(directory), 1);
    snprintf(directory, sizeof directory, "%s/tmp", storage_dir);
    ck_assert_int_eq(count_entries(directory), 0);
}
END_TEST

/* A corrupt file under the final name (a crash before a deferred sync) is replaced. */
START_TEST(commit_replaces_corrupt_copy)
{
    char relative[PULP_STORAGE_PATH_MAX];
    char full[PULP_STORAGE_PATH_MAX + 256];
    char digest[PULP_SHA256_HEX_LENGTH + 1];
    pulp_storage_file_t *file;
    FILE *corrupt;

    snprintf(full, sizeof full, "%s/content/rpm/b9", storage_dir);
    ck_assert_int_eq(pulp_storage_mkdirs(full, 0755, NULL), PULP_OK);
    strcat(full, "/" HELLO_SHA256 "-hello.rpm");
    corrupt = fopen(full, "w");
    fputs("hello worle", corrupt);
    fclose(corrupt);

    file = pulp_storage_file_new(storage_dir, NULL, NULL);
    pulp_storage_file_write(file, "hello world", 11, NULL);
    ck_assert_int_eq(pulp_storage_file_commit(file, "rpm", "hello.rpm", PULP_STORAGE_DEFER_SYNC,
                                              relative, sizeof relative, NULL), PULP_OK);
    pulp_storage_file_free(file);
    ck_assert_int_eq(pulp_storage_sync(storage_dir, NULL), PULP_OK);

    ck_assert_int_eq(pulp_storage_sha256_of(full, digest, NULL), PULP_OK);
    ck_assert_str_eq(digest, HELLO_SHA256);
    *strrchr(full, '/') = '\0';
    ck_assert_int_eq(count_entries(full), 1);
}
END_TEST

START_TEST(temp_path_reads_written_data)
{
    pulp_storage_file_t *file = pulp_storage_file_new(storage_dir, NULL, NULL);
    char buffer[32] = "";
    FILE *in;

    ck_assert_ptr_nonnull(file);
    ck_assert_int_eq(pulp_storage_file_write(file, "hello world", 11, NULL), PULP_OK);
    in = fopen(pulp_storage_file_path(file), "r");
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(fgets(buffer, sizeof buffer, in));
    fclose(in);
    pulp_storage_file_free(file);
    ck_assert_str_eq(buffer, "hello world");
}
END_TEST

/* On a filesystem with O_TMPFILE (the tests run on ext4 or tmpfs), a file on its way in has
 * no name, so a process that dies leaves nothing in tmp. */
START_TEST(temp_file_has_no_name)
{
    pulp_storage_file_t *file = pulp_storage_file_new(storage_dir, NULL, NULL);
    char tmp_dir[512];

    ck_assert_ptr_nonnull(file);
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tmp", storage_dir);
    ck_assert_int_eq(count_entries(tmp_dir), 0);
    pulp_storage_file_free(file);
}
END_TEST

START_TEST(free_leaves_no_temp_file)
{
    pulp_storage_file_t *file = pulp_storage_file_new(storage_dir, NULL, NULL);
    char tmp_dir[512];

    ck_assert_ptr_nonnull(file);
    ck_assert_int_eq(pulp_storage_file_write(file, "hello world", 11, NULL), PULP_OK);
    pulp_storage_file_free(file);
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tmp", storage_dir);
    ck_assert_int_eq(count_entries(tmp_dir), 0);
}
END_TEST

START_TEST(add_file_copies_and_verifies)
{
    char source[512];
    char relative[PULP_STORAGE_PATH_MAX];
    pulp_error_t error = PULP_ERROR_INIT;
    FILE *out;

    snprintf(source, sizeof source, "%s/source.txt", storage_dir);
    out = fopen(source, "w");
    fputs("hello world", out);
    fclose(out);

    ck_assert_int_eq(pulp_storage_add_file(storage_dir, source, "iso", "hello.txt", "md5",
                                           HELLO_MD5, 11, relative, sizeof relative, &error),
                     PULP_OK);
    ck_assert_str_eq(relative, "content/iso/b9/" HELLO_SHA256 "-hello.txt");
    ck_assert_int_eq(pulp_storage_add_file(storage_dir, source, "iso", "hello.txt", "md5",
                                           HELLO_SHA1, 11, relative, sizeof relative, &error),
                     PULP_ERR_INVALID_VALUE);
}
END_TEST

START_TEST(remove_tree_keeps_symlink_targets)
{
    char target[512];
    char tree[512];
    char link_path[600];
    FILE *out;
    struct stat info;

    snprintf(target, sizeof target, "%s/keep.txt", storage_dir);
    out = fopen(target, "w");
    fputs("keep", out);
    fclose(out);
    snprintf(tree, sizeof tree, "%s/tree/a/b", storage_dir);
    ck_assert_int_eq(pulp_storage_mkdirs(tree, 0755, NULL), PULP_OK);
    snprintf(link_path, sizeof link_path, "%s/link", tree);
    ck_assert_int_eq(symlink(target, link_path), 0);

    snprintf(tree, sizeof tree, "%s/tree", storage_dir);
    ck_assert_int_eq(pulp_storage_remove_tree(tree, NULL), PULP_OK);
    ck_assert_int_ne(lstat(tree, &info), 0);
    ck_assert_int_eq(stat(target, &info), 0);
    ck_assert_int_eq(pulp_storage_remove_tree(tree, NULL), PULP_OK);
}
END_TEST

static Suite *storage_suite(void)
{
    Suite *suite = suite_create("storage");
    TCase *paths = tcase_create("paths");
    TCase *files = tcase_create("files");

    tcase_add_loop_test(paths, normalize_accepts_relative, 0,
                        sizeof normal_paths / sizeof normal_paths[0]);
    tcase_add_loop_test(paths, normalize_rejects_escapes, 0,
                        sizeof rejected_paths / sizeof rejected_paths[0]);
    tcase_add_test(paths, normalize_rejects_nul);
    tcase_add_test(paths, normalize_rejects_too_long);
    tcase_add_test(paths, name_validity);
    tcase_add_test(paths, content_path_layout);
    tcase_add_test(paths, content_path_long_name);
    suite_add_tcase(suite, paths);

    tcase_add_checked_fixture(files, make_storage, remove_storage);
    tcase_add_test(files, commit_stores_verified_file);
    tcase_add_test(files, verify_rejects_wrong_checksum);
    tcase_add_test(files, verify_rejects_wrong_size);
    tcase_add_test(files, verify_other_checksum_types);
    tcase_add_test(files, unsupported_checksum_type);
    tcase_add_test(files, reset_restarts_checksum);
    tcase_add_test(files, concurrent_commits_keep_one_copy);
    tcase_add_test(files, commit_replaces_corrupt_copy);
    tcase_add_test(files, temp_path_reads_written_data);
    tcase_add_test(files, temp_file_has_no_name);
    tcase_add_test(files, free_leaves_no_temp_file);
    tcase_add_test(files, add_file_copies_and_verifies);
    tcase_add_test(files, remove_tree_keeps_symlink_targets);
    suite_add_tcase(suite, files);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(storage_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
