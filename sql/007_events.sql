-- Event listeners: the sinks notified when a sync or publish starts or finishes.
CREATE TABLE event_listeners (
    id                  uuid PRIMARY KEY,
    notifier_type_id    text NOT NULL CHECK (notifier_type_id IN ('http', 'email', 'amqp')),
    notifier_config     jsonb NOT NULL DEFAULT '{}'::jsonb,
    event_types         text[] NOT NULL,
    created             timestamptz NOT NULL DEFAULT now()
);

-- Unit counts are part of the repository documents that httpd children cache: changes of
-- associations notify like changes of repositories (the function is in 002_repositories.sql).
CREATE TRIGGER repo_content_units_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON repo_content_units FOR EACH STATEMENT
    EXECUTE FUNCTION pulp_notify_repositories_changed();
