-- Scheduled syncs and publishes; the housekeeping leader dispatches the due ones.

CREATE TABLE schedules (
    id                  uuid PRIMARY KEY,
    action              text NOT NULL CHECK (action IN ('sync', 'publish')),
    repo_id             text NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    -- The importer's or distributor's id, as in the schedule's path.
    owner_id            text NOT NULL,
    schedule            text NOT NULL,
    enabled             boolean NOT NULL DEFAULT true,
    failure_threshold   integer,
    consecutive_failures integer NOT NULL DEFAULT 0,
    first_run           timestamptz NOT NULL,
    last_run_at         timestamptz,
    next_run            timestamptz,
    remaining_runs      integer,
    total_run_count     integer NOT NULL DEFAULT 0,
    override_config     jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_task_id        uuid,
    created             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due ON schedules (next_run) WHERE enabled;
