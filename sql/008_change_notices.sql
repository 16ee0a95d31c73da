-- Notifications that let each httpd child cache what rarely changes (see
-- mod_pulp/change_notices.h). Like pulp_repositories_changed (002_repositories.sql), each is
-- sent when the changing transaction commits, and PostgreSQL folds repeats within one
-- transaction into one.

-- Notifies the channel named by the trigger's argument.
CREATE FUNCTION pulp_notify_channel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END
$$;

-- Users, roles and permissions: cached credential checks and permission decisions.
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON users FOR EACH STATEMENT EXECUTE FUNCTION pulp_notify_channel('pulp_auth_changed');
CREATE TRIGGER roles_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON roles FOR EACH STATEMENT EXECUTE FUNCTION pulp_notify_channel('pulp_auth_changed');
CREATE TRIGGER user_roles_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON user_roles FOR EACH STATEMENT EXECUTE FUNCTION pulp_notify_channel('pulp_auth_changed');
CREATE TRIGGER permissions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON permissions FOR EACH STATEMENT EXECUTE FUNCTION pulp_notify_channel('pulp_auth_changed');

-- Task reports: only reports of completed tasks are cached, so only the removal of a task or
-- a change to a completed one is announced. The far more frequent progress updates of
-- running tasks send nothing.
CREATE TRIGGER completed_tasks_changed AFTER UPDATE ON tasks FOR EACH ROW
    WHEN (OLD.state IN ('finished', 'error', 'canceled', 'skipped'))
    EXECUTE FUNCTION pulp_notify_channel('pulp_tasks_changed');
CREATE TRIGGER tasks_removed AFTER DELETE OR TRUNCATE
    ON tasks FOR EACH STATEMENT EXECUTE FUNCTION pulp_notify_channel('pulp_tasks_changed');
