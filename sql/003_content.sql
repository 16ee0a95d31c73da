-- Content units, stored once and shared by every repository that holds them.

CREATE TABLE units (
    id                  uuid PRIMARY KEY,
    type_id             text NOT NULL,
    -- The fields that identify a unit within its type, such as an RPM's NEVRA and checksum.
    unit_key            jsonb NOT NULL,
    -- Every other field of the unit, searchable through criteria.
    metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Path of the stored file relative to the storage directory; NULL for units without a
    -- file (errata, comps groups).
    storage_path        text,
    size                bigint,
    sha256              text,
    created             timestamptz NOT NULL DEFAULT now(),
    updated             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (type_id, unit_key)
);
CREATE INDEX units_type ON units (type_id);

-- The repodata fragments of an RPM as createrepo_c wrote them when the unit entered the
-- store, so that a publish concatenates them instead of reading every package again.
CREATE TABLE rpm_repodata (
    unit_id             uuid PRIMARY KEY REFERENCES units(id) ON DELETE CASCADE,
    primary_xml         text NOT NULL,
    filelists_xml       text NOT NULL,
    other_xml           text NOT NULL
);

CREATE TABLE repo_content_units (
    repo_id             text NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    unit_id             uuid NOT NULL REFERENCES units(id),
    unit_type_id        text NOT NULL,
    owner_type          text NOT NULL DEFAULT 'importer',
    owner_id            text NOT NULL DEFAULT '',
    created             timestamptz NOT NULL DEFAULT now(),
    updated             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, unit_id)
);
CREATE INDEX repo_content_units_unit ON repo_content_units (unit_id);
CREATE INDEX repo_content_units_type ON repo_content_units (repo_id, unit_type_id);

CREATE TABLE upload_requests (
    upload_id           uuid PRIMARY KEY,
    created             timestamptz NOT NULL DEFAULT now(),
    -- Bytes written so far, as the highest offset plus length of any chunk.
    size                bigint NOT NULL DEFAULT 0
);
