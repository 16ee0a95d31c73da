/* pulp-manage-db: applies the SQL migrations and creates or updates the first admin user.
 *
 * Every migration runs in its own transaction, and the whole run holds a session advisory
 * lock, so several hosts running it at once end with one schema: the second waits for the
 * first and then finds nothing left to apply. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_db.h"
#include "pulp_log.h"
#include "pulp_password.h"
#include "tools/pulp-manage-db/migrations.h"

#define MIGRATION_LOCK_SQL "SELECT pg_advisory_lock(hashtextextended('pulp:migrations', 0))"
#define MIGRATION_UNLOCK_SQL "SELECT pg_advisory_unlock(hashtextextended('pulp:migrations', 0))"

typedef struct options {
    const char *database;
    const char *admin_login;
    const char *admin_password;
} options_t;

static void print_usage(FILE *out)
{
    fputs("Usage: pulp-manage-db [--database CONNINFO] [--admin-login LOGIN]\n"
          "                      [--admin-password PASSWORD]\n"
          "\n"
          "Applies pending database migrations, then creates or updates the admin user.\n"
          "\n"
          "  -d, --database CONNINFO       libpq connection string (default: $PULP_DATABASE)\n"
          "  -l, --admin-login LOGIN       login of the admin user (default: admin)\n"
          "  -p, --admin-password PASSWORD password of the admin user (default:\n"
          "                                $PULP_ADMIN_PASSWORD); without one, no user is\n"
          "                                created or changed\n"
          "  -h, --help                    show this help\n",
          out);
}

static int parse_options(int argc, char **argv, options_t *options)
{
    static const struct option long_options[] = {
        { "database", required_argument, NULL, 'd' },
        { "admin-login", required_argument, NULL, 'l' },
        { "admin-password", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int option;

    options->database = getenv("PULP_DATABASE");
    options->admin_login = "admin";
    options->admin_password = getenv("PULP_ADMIN_PASSWORD");

    while ((option = getopt_long(argc, argv, "d:l:p:h", long_options, NULL)) != -1) {
        switch (option) {
        case 'd':
            options->database = optarg;
            break;
        case 'l':
            options->admin_login = optarg;
            break;
        case 'p':
            options->admin_password = optarg;
            break;
        case 'h':
            print_usage(stdout);
            exit(0);
        default:
            print_usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pulp-manage-db: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (!options->database) {
        fputs("pulp-manage-db: no database given: use --database or set PULP_DATABASE\n", stderr);
        return -1;
    }
    if (options->admin_password && !*options->admin_password) {
        fputs("pulp-manage-db: the admin password is empty\n", stderr);
        return -1;
    }
    return 0;
}

/* Returns the highest applied migration, 0 on an empty database, -1 on error. */
static int current_version(PGconn *conn, pulp_error_t *error)
{
    PGresult *result;
    int exists;
    int version;

    result = pulp_db_query(conn, error, "SELECT to_regclass('schema_version') IS NOT NULL", 0,
                           NULL);
    if (!result)
        return -1;
    exists = strcmp(PQgetvalue(result, 0, 0), "t") == 0;
    PQclear(result);
    if (!exists)
        return 0;

    result = pulp_db_query(conn, error, "SELECT coalesce(max(version), 0) FROM schema_version",
                           0, NULL);
    if (!result)
        return -1;
    version = atoi(PQgetvalue(result, 0, 0));
    PQclear(result);
    return version;
}

static pulp_status_t apply_migration(PGconn *conn, const pulp_migration_t *migration,
                                     pulp_error_t *error)
{
    char version[16];
    const char *params[2];
    PGresult *result;

    if (pulp_db_begin(conn, error) != PULP_OK)
        return error->status;

    /* Plain PQexec, because a migration file holds several statements. */
    result = PQexec(conn, migration->sql);
    if (PQresultStatus(result) != PGRES_COMMAND_OK && PQresultStatus(result) != PGRES_TUPLES_OK) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "migration %s failed: %s", migration->name,
                       PQresultErrorMessage(result));
        PQclear(result);
        pulp_db_rollback(conn);
        return error->status;
    }
    PQclear(result);

    snprintf(version, sizeof version, "%d", migration->version);
    params[0] = version;
    params[1] = migration->name;
    if (pulp_db_command(conn, error, "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
                        2, params) != PULP_OK) {
        pulp_db_rollback(conn);
        return error->status;
    }
    return pulp_db_commit(conn, error);
}

static pulp_status_t apply_pending_migrations(PGconn *conn, pulp_error_t *error)
{
    int version = current_version(conn, error);
    int applied = 0;

    if (version < 0)
        return error->status;

    for (size_t i = 0; i < pulp_migration_count; i++) {
        const pulp_migration_t *migration = &pulp_migrations[i];

        if (migration->version <= version)
            continue;
        if (apply_migration(conn, migration, error) != PULP_OK)
            return error->status;
        printf("applied migration %s\n", migration->name);
        applied++;
    }
    if (applied == 0)
        printf("database schema is up to date (version %d)\n", version);
    return PULP_OK;
}

static pulp_status_t ensure_admin_user(PGconn *conn, const options_t *options,
                                       pulp_error_t *error)
{
    char hash[256];
    const char *params[2];

    if (pulp_password_hash(options->admin_password, hash, sizeof hash) != 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not hash the admin password");

    params[0] = options->admin_login;
    params[1] = hash;
    if (pulp_db_begin(conn, error) != PULP_OK)
        return error->status;
    if (pulp_db_command(conn, error,
                        "INSERT INTO users (login, name, password_hash) VALUES ($1, $1, $2)"
                        " ON CONFLICT (login) DO UPDATE SET password_hash = EXCLUDED.password_hash,"
                        " generation = users.generation + 1",
                        2, params) != PULP_OK ||
        pulp_db_command(conn, error,
                        "INSERT INTO user_roles (login, role_id) VALUES ($1, 'super-users')"
                        " ON CONFLICT DO NOTHING",
                        1, params) != PULP_OK) {
        pulp_db_rollback(conn);
        return error->status;
    }
    if (pulp_db_commit(conn, error) != PULP_OK)
        return error->status;
    printf("admin user \"%s\" is ready\n", options->admin_login);
    return PULP_OK;
}

int main(int argc, char **argv)
{
    options_t options;
    pulp_error_t error = PULP_ERROR_INIT;
    PGconn *conn = NULL;
    int exit_code = 1;

    if (parse_options(argc, argv, &options) != 0)
        return 2;

    conn = pulp_db_connect(options.database, "pulp-manage-db", &error);
    if (!conn)
        goto end;
    if (pulp_db_command(conn, &error, "SET client_min_messages = warning", 0, NULL) != PULP_OK)
        goto end;
    if (pulp_db_command(conn, &error, MIGRATION_LOCK_SQL, 0, NULL) != PULP_OK)
        goto end;
    if (apply_pending_migrations(conn, &error) != PULP_OK)
        goto end;
    if (options.admin_password && ensure_admin_user(conn, &options, &error) != PULP_OK)
        goto end;
    if (!options.admin_password)
        printf("no admin password given: users are unchanged\n");

    pulp_db_command(conn, NULL, MIGRATION_UNLOCK_SQL, 0, NULL);
    exit_code = 0;

end:
    if (exit_code != 0)
        fprintf(stderr, "pulp-manage-db: %s\n", error.message);
    pulp_error_clear(&error);
    PQfinish(conn);
    return exit_code;
}
