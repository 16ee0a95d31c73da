-- Tasks and the workers that run them. The dispatch protocol is described in
-- docs/tasks.md; seq is the dispatch order that per-resource FIFO relies on.

CREATE SEQUENCE task_seq;

CREATE TABLE tasks (
    task_id             uuid PRIMARY KEY,
    seq                 bigint NOT NULL UNIQUE,
    task_type           text NOT NULL,
    state               text NOT NULL DEFAULT 'waiting'
                        CHECK (state IN ('waiting', 'running', 'finished', 'error', 'canceled', 'skipped')),
    tags                text[] NOT NULL DEFAULT '{}',
    resources           text[] NOT NULL DEFAULT '{}',
    shared_resources    text[] NOT NULL DEFAULT '{}',
    args                jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The queue its dispatch messages go to, shown in task reports.
    queue               text,
    worker_name         text,
    progress_report     jsonb NOT NULL DEFAULT '{}'::jsonb,
    result              jsonb,
    error               jsonb,
    exception           text,
    traceback           text,
    spawned_tasks       uuid[] NOT NULL DEFAULT '{}',
    start_time          timestamptz,
    finish_time         timestamptz,
    cancel_requested    boolean NOT NULL DEFAULT false,
    -- The schedule that dispatched this task, if any.
    schedule_id         uuid,
    created             timestamptz NOT NULL DEFAULT now(),
    -- When the housekeeping sweeper last sent a dispatch message for this waiting task
    -- (initially its creation), and how many messages were sent in all: the sweeper waits
    -- longer after each re-send, so a long backlog is not flooded with duplicates.
    dispatched          timestamptz NOT NULL DEFAULT now(),
    dispatch_count      integer NOT NULL DEFAULT 1
);
CREATE INDEX tasks_unfinished ON tasks (seq) WHERE state IN ('waiting', 'running');
CREATE INDEX tasks_tags ON tasks USING gin (tags);
CREATE INDEX tasks_resources ON tasks USING gin (resources) WHERE state IN ('waiting', 'running');
CREATE INDEX tasks_shared_resources ON tasks USING gin (shared_resources)
    WHERE state IN ('waiting', 'running');
CREATE INDEX tasks_finish_time ON tasks (finish_time) WHERE finish_time IS NOT NULL;
-- For the sweeper: waiting tasks by the age of their last dispatch message, and the tasks
-- that started lately.
CREATE INDEX tasks_waiting_dispatched ON tasks (dispatched) WHERE state = 'waiting';
CREATE INDEX tasks_start_time ON tasks (start_time) WHERE start_time IS NOT NULL;

CREATE TABLE workers (
    name                text PRIMARY KEY,
    hostname            text NOT NULL,
    pid                 integer NOT NULL,
    concurrency         integer NOT NULL,
    started             timestamptz NOT NULL DEFAULT now(),
    last_heartbeat      timestamptz NOT NULL DEFAULT now(),
    missing             boolean NOT NULL DEFAULT false
);
