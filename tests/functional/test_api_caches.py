"""What each httpd child caches (verified credentials with their permissions, repository
lists, reports of completed tasks) follows a change at once, even one made straight in the
database, as another host or a worker makes it.

Each check sends its requests on new connections, so that they reach several children."""

import uuid

import pytest
import requests

from pulp_helpers import API_PREFIX, run_sql, wait_task

ROUNDS = 20


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def statuses(stack, path, auth):
    """The status codes of ROUNDS GETs of path, each on a new connection."""
    url = stack.url.rstrip("/") + API_PREFIX + path
    codes = set()
    for _ in range(ROUNDS):
        with requests.Session() as client:
            codes.add(client.get(url, auth=auth, timeout=30).status_code)
    return codes


@pytest.fixture
def user(api):
    """A user without any permission; yields (login, password)."""
    login = unique("cache-user")
    password = uuid.uuid4().hex
    response = api.post("users/", json={"login": login, "password": password})
    assert response.status_code == 201, response.text
    yield login, password
    api.delete(f"users/{login}/")


def grant_in_database(stack, login):
    run_sql(stack, "INSERT INTO permissions (resource, subject_type, subject, operations)"
                   " VALUES ('/v2/users/', 'user', :'login', '{READ}');", login=login)


def test_user_removed_in_database(stack, user):
    grant_in_database(stack, user[0])
    assert statuses(stack, "users/", user) == {200}
    run_sql(stack, "DELETE FROM users WHERE login = :'login';", login=user[0])
    assert statuses(stack, "users/", user) == {401}


def test_password_changed_in_database(stack, user):
    grant_in_database(stack, user[0])
    assert statuses(stack, "users/", user) == {200}
    run_sql(stack, "UPDATE users SET password_hash = '*', generation = generation + 1"
                   " WHERE login = :'login';", login=user[0])
    assert statuses(stack, "users/", user) == {401}


def test_permission_granted_in_database(stack, user):
    assert statuses(stack, "users/", user) == {403}
    grant_in_database(stack, user[0])
    assert statuses(stack, "users/", user) == {200}


def test_permission_revoked_in_database(stack, user):
    grant_in_database(stack, user[0])
    assert statuses(stack, "users/", user) == {200}
    run_sql(stack, "DELETE FROM permissions WHERE subject = :'login';", login=user[0])
    assert statuses(stack, "users/", user) == {403}


def test_role_membership_removed_in_database(api, stack, user):
    assert api.post("roles/super-users/users/", json={"login": user[0]}).status_code == 200
    assert statuses(stack, "users/", user) == {200}
    run_sql(stack, "DELETE FROM user_roles WHERE login = :'login';", login=user[0])
    assert statuses(stack, "users/", user) == {403}


@pytest.fixture
def finished_task(api):
    response = api.post("diagnostics/tasks/", json={"action": "noop", "seconds": 0})
    assert response.status_code == 202, response.text
    task_id = response.json()["spawned_tasks"][0]["task_id"]
    wait_task(api, response.json()["spawned_tasks"][0])
    return task_id


def admin(stack):
    return (stack.settings["PULP_USER"], stack.settings["PULP_PASSWORD"])


def test_completed_report_removed_in_database(stack, finished_task):
    path = f"tasks/{finished_task}/"
    assert statuses(stack, path, admin(stack)) == {200}
    run_sql(stack, "DELETE FROM tasks WHERE task_id = :'id';", id=finished_task)
    assert statuses(stack, path, admin(stack)) == {404}


def test_completed_report_changed_in_database(stack, finished_task):
    url = stack.url.rstrip("/") + API_PREFIX + f"tasks/{finished_task}/"
    assert statuses(stack, f"tasks/{finished_task}/", admin(stack)) == {200}
    run_sql(stack, "UPDATE tasks SET result = '\"changed\"' WHERE task_id = :'id';",
            id=finished_task)
    results = set()
    for _ in range(ROUNDS):
        with requests.Session() as client:
            results.add(client.get(url, auth=admin(stack), timeout=30).json()["result"])
    assert results == {"changed"}


def test_purged_report_gone(api, stack, finished_task):
    assert statuses(stack, f"tasks/{finished_task}/", admin(stack)) == {200}
    assert api.delete("tasks/", params=[("state", "finished")]).status_code == 204
    assert statuses(stack, f"tasks/{finished_task}/", admin(stack)) == {404}
