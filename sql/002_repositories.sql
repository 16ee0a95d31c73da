-- Repositories with their importer (at most one) and distributors.

CREATE TABLE repositories (
    id                  text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]+$'),
    display_name        text NOT NULL,
    description         text,
    notes               jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_unit_added     timestamptz,
    last_unit_removed   timestamptz,
    created             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE importers (
    repo_id             text PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    importer_type_id    text NOT NULL,
    config              jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Plugin state kept between syncs, such as the checksum of the last repomd.xml.
    scratchpad          jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_sync           timestamptz,
    last_override_config jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE distributors (
    repo_id             text NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    distributor_id      text NOT NULL CHECK (distributor_id ~ '^[A-Za-z0-9_.-]+$'),
    distributor_type_id text NOT NULL,
    config              jsonb NOT NULL DEFAULT '{}'::jsonb,
    auto_publish        boolean NOT NULL DEFAULT false,
    scratchpad          jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_publish        timestamptz,
    PRIMARY KEY (repo_id, distributor_id)
);

-- A relative_url is served at one place only, whatever repository it belongs to.
CREATE UNIQUE INDEX distributors_relative_url ON distributors ((config->>'relative_url'))
    WHERE config ? 'relative_url';

CREATE TABLE repo_sync_results (
    id                  bigserial PRIMARY KEY,
    repo_id             text NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    importer_type_id    text NOT NULL,
    result              text NOT NULL CHECK (result IN ('success', 'failed', 'error', 'canceled')),
    started             timestamptz NOT NULL,
    completed           timestamptz NOT NULL,
    added_count         integer NOT NULL DEFAULT 0,
    removed_count       integer NOT NULL DEFAULT 0,
    updated_count       integer NOT NULL DEFAULT 0,
    summary             jsonb,
    details             jsonb,
    error_message       text,
    exception           text,
    traceback           text
);
CREATE INDEX repo_sync_results_repo ON repo_sync_results (repo_id, started DESC);

CREATE TABLE repo_publish_results (
    id                  bigserial PRIMARY KEY,
    repo_id             text NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    distributor_id      text NOT NULL,
    distributor_type_id text NOT NULL,
    result              text NOT NULL CHECK (result IN ('success', 'failed', 'error', 'canceled')),
    started             timestamptz NOT NULL,
    completed           timestamptz NOT NULL,
    summary             jsonb,
    details             jsonb,
    error_message       text,
    exception           text,
    traceback           text
);
CREATE INDEX repo_publish_results_repo ON repo_publish_results (repo_id, distributor_id, started DESC);

-- Every change of a repository, importer or distributor sends a notification on the channel
-- pulp_repositories_changed when its transaction commits. httpd children LISTEN on it and
-- drop their cached repository lists, so a client reads its own writes on every host.
-- Statement-level, so that a statement touching many rows sends one notification, and
-- PostgreSQL folds repeats within one transaction into one.
CREATE FUNCTION pulp_notify_repositories_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pulp_repositories_changed', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER repositories_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON repositories FOR EACH STATEMENT EXECUTE FUNCTION pulp_notify_repositories_changed();
CREATE TRIGGER importers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON importers FOR EACH STATEMENT EXECUTE FUNCTION pulp_notify_repositories_changed();
CREATE TRIGGER distributors_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON distributors FOR EACH STATEMENT EXECUTE FUNCTION pulp_notify_repositories_changed();
