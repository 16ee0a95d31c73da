#ifndef PULP_MIGRATIONS_H
#define PULP_MIGRATIONS_H

#include <stddef.h>

/* One forward-only migration: sql/<version>_<name>.sql compiled into the program. */
typedef struct pulp_migration {
    int version;
    const char *name;
    const char *sql;
} pulp_migration_t;

extern const pulp_migration_t pulp_migrations[];
extern const size_t pulp_migration_count;

#endif
