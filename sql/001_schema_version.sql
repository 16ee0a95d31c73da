-- Migrations applied so far; pulp-manage-db inserts one row per file it applies.
CREATE TABLE schema_version (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
