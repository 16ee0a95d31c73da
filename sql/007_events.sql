-- Event listeners: who is told when a sync or publish starts or finishes.
CREATE TABLE event_listeners (
    id                  uuid PRIMARY KEY,
    notifier_type_id    text NOT NULL CHECK (notifier_type_id IN ('http', 'email', 'amqp')),
    notifier_config     jsonb NOT NULL DEFAULT '{}'::jsonb,
    event_types         text[] NOT NULL,
    created             timestamptz NOT NULL DEFAULT now()
);
