"""Scheduled syncs and publishes: the REST resources under an importer's schedules/sync/ and a
distributor's schedules/publish/, their documents and errors, and the runs that the workers'
housekeeping leader dispatches."""

import json
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from pulp_helpers import run_sql, wait_task, wait_until  # noqa: E402
from server_ports import bind_free_port  # noqa: E402
from yum_testing import create_repo, unique_id  # noqa: E402
from yum_upstream import make_test_repo, serve  # noqa: E402

SCHEDULE_KEYS = {
    "_id", "_href", "schedule", "enabled", "failure_threshold", "consecutive_failures",
    "first_run", "last_run_at", "next_run", "remaining_runs", "total_run_count",
    "override_config",
}
# A schedule whose first run is far ahead, so that the leader never runs it during a test.
FUTURE = "R3/2030-01-01T00:00:00Z/PT6H"
UNUSED_FEED = "http://127.0.0.1:9/unused/"
MISSING_UUID = "00000000-0000-4000-8000-000000000000"


def sync_schedules(repo_id, importer_id="yum_importer"):
    return f"repositories/{repo_id}/importers/{importer_id}/schedules/sync/"


def publish_schedules(repo_id, distributor_id="yum"):
    return f"repositories/{repo_id}/distributors/{distributor_id}/schedules/publish/"


def create_schedule(api, path, **body):
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def assert_error(response, status, code, property_name=None):
    """Check a Pulp error body: its status, its code and the property it names."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["http_status"] == status
    assert body["error"]["code"] == code
    if property_name is not None:
        assert body["property_names"] == [property_name]
    return body


def utc(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def repo(api):
    """A repository with a yum importer, whose feed is never read, and the distributor
    "yum"."""
    repo_id = unique_id("sched")
    create_repo(api, repo_id, UNUSED_FEED)
    return repo_id


@pytest.fixture
def sync_schedule(api, repo):
    """A sync schedule of repo that does not run during the test; deleted afterwards."""
    schedule = create_schedule(api, sync_schedules(repo), schedule=FUTURE)
    yield schedule
    api.delete(schedule["_href"])


# --- documents -----------------------------------------------------------------------------


def test_create_returns_document(api, repo):
    path = sync_schedules(repo)
    response = api.post(path, json={"schedule": FUTURE})
    assert response.status_code == 201, response.text
    schedule = response.json()
    assert set(schedule) == SCHEDULE_KEYS
    assert schedule["_href"] == f"/pulp/api/v2/{path}{schedule['_id']}/"
    assert response.headers["Location"].endswith(schedule["_href"])
    assert schedule["schedule"] == FUTURE
    assert schedule["enabled"] is True
    assert schedule["failure_threshold"] is None
    assert schedule["consecutive_failures"] == 0
    assert schedule["first_run"] == "2030-01-01T00:00:00Z"
    assert schedule["next_run"] == "2030-01-01T00:00:00Z"
    assert schedule["last_run_at"] is None
    assert schedule["remaining_runs"] == 3
    assert schedule["total_run_count"] == 0
    assert schedule["override_config"] == {}


def test_create_with_every_field(api, repo):
    schedule = create_schedule(api, sync_schedules(repo), schedule=FUTURE,
                               override_config={"validate": False}, failure_threshold=4,
                               enabled=False)
    assert schedule["override_config"] == {"validate": False}
    assert schedule["failure_threshold"] == 4
    assert schedule["enabled"] is False


def test_create_without_start_runs_now(api, repo):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    schedule = create_schedule(api, sync_schedules(repo), schedule="PT6H", enabled=False)
    after = datetime.now(timezone.utc)
    assert schedule["first_run"] == schedule["next_run"]
    assert before - timedelta(seconds=5) <= utc(schedule["first_run"]) <= after
    assert schedule["remaining_runs"] is None


def test_create_past_start_waits_for_grid(api, repo):
    now = datetime.now(timezone.utc)
    schedule = create_schedule(api, sync_schedules(repo), schedule="2020-01-01T00:00:00Z/P1D",
                               enabled=False)
    next_run = utc(schedule["next_run"])
    assert schedule["first_run"] == "2020-01-01T00:00:00Z"
    assert (next_run.hour, next_run.minute, next_run.second) == (0, 0, 0)
    assert now - timedelta(seconds=5) <= next_run <= now + timedelta(days=1)


def test_get_and_list(api, repo, sync_schedule):
    response = api.get(sync_schedule["_href"])
    assert response.status_code == 200
    assert response.json() == sync_schedule
    response = api.get(sync_schedules(repo))
    assert response.status_code == 200
    assert sync_schedule in response.json()


def test_update_schedule_recomputes_runs(api, sync_schedule):
    response = api.put(sync_schedule["_href"], json={"schedule": "R2/2031-01-31T00:00:00Z/P1M"})
    assert response.status_code == 200, response.text
    schedule = response.json()
    assert schedule["schedule"] == "R2/2031-01-31T00:00:00Z/P1M"
    assert schedule["first_run"] == "2031-01-31T00:00:00Z"
    assert schedule["next_run"] == "2031-01-31T00:00:00Z"
    assert schedule["remaining_runs"] == 2


def test_update_other_fields(api, sync_schedule):
    response = api.put(sync_schedule["_href"], json={
        "override_config": {"validate": False}, "failure_threshold": 7, "enabled": False,
    })
    assert response.status_code == 200, response.text
    schedule = response.json()
    assert schedule["override_config"] == {"validate": False}
    assert schedule["failure_threshold"] == 7
    assert schedule["enabled"] is False
    assert schedule["schedule"] == FUTURE
    assert schedule["next_run"] == sync_schedule["next_run"]
    assert schedule["remaining_runs"] == 3
    assert api.get(sync_schedule["_href"]).json() == schedule


def test_update_failure_threshold_to_null(api, sync_schedule):
    api.put(sync_schedule["_href"], json={"failure_threshold": 3})
    response = api.put(sync_schedule["_href"], json={"failure_threshold": None})
    assert response.status_code == 200, response.text
    assert response.json()["failure_threshold"] is None


def test_delete_schedule(api, sync_schedule):
    response = api.delete(sync_schedule["_href"])
    assert response.status_code == 200
    assert response.json() is None
    assert_error(api.get(sync_schedule["_href"]), 404, "PLP0009")
    assert_error(api.delete(sync_schedule["_href"]), 404, "PLP0009")


def test_publish_schedule_crud(api, repo):
    path = publish_schedules(repo)
    schedule = create_schedule(api, path, schedule=FUTURE)
    assert set(schedule) == SCHEDULE_KEYS
    assert schedule["_href"] == f"/pulp/api/v2/{path}{schedule['_id']}/"
    assert api.get(path).json() == [schedule]
    response = api.put(schedule["_href"], json={"enabled": False})
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert api.delete(schedule["_href"]).status_code == 200
    assert api.get(path).json() == []


def test_schedules_of_one_owner_only(api, repo, sync_schedule):
    assert sync_schedule not in api.get(publish_schedules(repo)).json()
    href = sync_schedule["_href"].replace("/importers/yum_importer/schedules/sync/",
                                          "/distributors/yum/schedules/publish/")
    assert_error(api.get(href), 404, "PLP0009")


# --- bad input -----------------------------------------------------------------------------

BAD_BODIES = [
    ({}, "PLP0016", "schedule"),
    ({"schedule": None}, "PLP0016", "schedule"),
    ({"schedule": 5}, "PLP0015", "schedule"),
    ({"schedule": ""}, "PLP0015", "schedule"),
    ({"schedule": "bogus"}, "PLP0015", "schedule"),
    ({"schedule": "PT0S"}, "PLP0015", "schedule"),
    ({"schedule": "P1M"}, "PLP0015", "schedule"),
    ({"schedule": "R0/PT1H"}, "PLP0015", "schedule"),
    ({"schedule": "2026-02-30T00:00:00Z/PT1H"}, "PLP0015", "schedule"),
    ({"schedule": "PT1H", "bogus": 1}, "PLP0017", "bogus"),
    ({"schedule": "PT1H", "failure_threshold": -1}, "PLP0015", "failure_threshold"),
    ({"schedule": "PT1H", "failure_threshold": "2"}, "PLP0015", "failure_threshold"),
    ({"schedule": "PT1H", "failure_threshold": 1.5}, "PLP0015", "failure_threshold"),
    ({"schedule": "PT1H", "failure_threshold": True}, "PLP0015", "failure_threshold"),
    ({"schedule": "PT1H", "failure_threshold": 2 ** 31}, "PLP0015", "failure_threshold"),
    ({"schedule": "PT1H", "enabled": "yes"}, "PLP0015", "enabled"),
    ({"schedule": "PT1H", "enabled": 1}, "PLP0015", "enabled"),
    ({"schedule": "PT1H", "override_config": []}, "PLP0015", "override_config"),
    ({"schedule": "PT1H", "override_config": "x"}, "PLP0015", "override_config"),
]

# On creation a null member is a member left out; an update could not tell which was meant.
NULL_UPDATES = [
    ({"override_config": None}, "PLP0015", "override_config"),
    ({"enabled": None}, "PLP0015", "enabled"),
    ({"schedule": None}, "PLP0015", "schedule"),
]


@pytest.mark.parametrize("body,code,property_name", BAD_BODIES)
def test_create_rejects_bad_body(api, repo, body, code, property_name):
    response = api.post(sync_schedules(repo), json=body)
    assert_error(response, 400, code, property_name)


@pytest.mark.parametrize("body,code,property_name", BAD_BODIES[2:] + NULL_UPDATES)
def test_update_rejects_bad_body(api, sync_schedule, body, code, property_name):
    response = api.put(sync_schedule["_href"], json=body)
    assert_error(response, 400, code, property_name)
    assert api.get(sync_schedule["_href"]).json() == sync_schedule


def test_schedule_error_names_problem(api, repo):
    body = assert_error(api.post(sync_schedules(repo), json={"schedule": "P1Y"}), 400, "PLP0015")
    assert "P1Y" in body["error_message"]
    assert "needs a start" in body["error_message"]


def test_rejects_body_not_object(api, repo):
    assert_error(api.post(sync_schedules(repo), json=["PT1H"]), 400, "PLP0015")


def test_rejects_invalid_override(api, repo):
    response = api.post(sync_schedules(repo),
                        json={"schedule": "PT1H", "override_config": {"validate": "yes"}})
    assert_error(response, 400, "PLP0015")
    assert response.json()["error_message"].startswith("invalid override_config: ")
    assert all(s["schedule"] != "PT1H" or s["override_config"] != {"validate": "yes"}
               for s in api.get(sync_schedules(repo)).json())


def test_create_failure_stores_nothing(api, repo):
    before = api.get(sync_schedules(repo)).json()
    api.post(sync_schedules(repo), json={"schedule": "PT1H", "failure_threshold": -1})
    assert api.get(sync_schedules(repo)).json() == before


# --- missing resources ---------------------------------------------------------------------


def missing_paths(repo):
    return [
        (sync_schedules("no-such-repo"), "repository"),
        (sync_schedules(repo, "iso_importer"), "importer"),
        (publish_schedules("no-such-repo"), "repository"),
        (publish_schedules(repo, "no-such-distributor"), "distributor"),
    ]


def test_collection_of_missing_owner(api, repo):
    for path, kind in missing_paths(repo):
        for response in (api.get(path), api.post(path, json={"schedule": FUTURE})):
            body = assert_error(response, 404, "PLP0009")
            assert kind in body["resources"], (path, body)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_schedule_of_missing_owner(api, repo, method):
    for path, kind in missing_paths(repo):
        response = api.request(method, f"{path}{MISSING_UUID}/", json={})
        body = assert_error(response, 404, "PLP0009")
        assert kind in body["resources"], (path, body)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("schedule_id", [MISSING_UUID, "not-a-uuid"])
def test_missing_schedule(api, repo, method, schedule_id):
    for path in (sync_schedules(repo), publish_schedules(repo)):
        response = api.request(method, f"{path}{schedule_id}/", json={"enabled": True})
        body = assert_error(response, 404, "PLP0009")
        assert body["resources"]["schedule"] == schedule_id


def test_importer_removal_removes_schedules(api, stack):
    repo_id = unique_id("sched-rm")
    create_repo(api, repo_id, UNUSED_FEED)
    schedule = create_schedule(api, sync_schedules(repo_id), schedule=FUTURE)
    publish = create_schedule(api, publish_schedules(repo_id), schedule=FUTURE)
    response = api.delete(f"repositories/{repo_id}/importers/yum_importer/")
    assert response.status_code == 202, response.text
    assert_error(api.get(schedule["_href"]), 404, "PLP0009")
    assert api.get(publish["_href"]).status_code == 200
    response = api.post(f"repositories/{repo_id}/importers/",
                        json={"importer_type_id": "yum_importer",
                              "importer_config": {"feed": UNUSED_FEED}})
    assert response.status_code == 202, response.text
    assert api.get(sync_schedules(repo_id)).json() == []


def test_importer_replacement_removes_schedules(api, stack):
    repo_id = unique_id("sched-replace")
    create_repo(api, repo_id, UNUSED_FEED)
    schedule = create_schedule(api, sync_schedules(repo_id), schedule=FUTURE)
    response = api.post(f"repositories/{repo_id}/importers/",
                        json={"importer_type_id": "yum_importer",
                              "importer_config": {"feed": UNUSED_FEED + "other/"}})
    assert response.status_code == 202, response.text
    assert api.get(schedule["_href"]).status_code == 200

    response = api.post(f"repositories/{repo_id}/importers/",
                        json={"importer_type_id": "iso_importer", "importer_config": {}})
    assert response.status_code == 202, response.text
    assert api.get(sync_schedules(repo_id, "iso_importer")).json() == []
    assert run_sql(stack, "SELECT count(*) FROM schedules WHERE repo_id = :'repo'",
                   repo=repo_id).strip() == "0"


def test_schedule_routes_need_credentials(anon, repo):
    response = anon.get(sync_schedules(repo))
    assert response.status_code == 401
    assert re.match(r"PLP\d{4}", response.json()["error"]["code"])


def test_repository_delete_removes_schedules(api, stack):
    repo_id = unique_id("sched-rm")
    create_repo(api, repo_id, UNUSED_FEED)
    create_schedule(api, sync_schedules(repo_id), schedule=FUTURE)
    create_schedule(api, publish_schedules(repo_id), schedule=FUTURE)
    wait_task(api, api.delete(f"repositories/{repo_id}/").json())
    assert run_sql(stack, "SELECT count(*) FROM schedules WHERE repo_id = :'repo'",
                   repo=repo_id).strip() == "0"


def test_distributor_removal_removes_schedules(api, repo):
    response = api.post(f"repositories/{repo}/distributors/", json={
        "distributor_type_id": "yum_distributor", "distributor_id": "gone",
        "distributor_config": {"relative_url": f"{repo}-gone", "http": True, "https": False},
    })
    assert response.status_code == 201, response.text
    schedule = create_schedule(api, publish_schedules(repo, "gone"), schedule=FUTURE)
    task = wait_task(api, api.delete(f"repositories/{repo}/distributors/gone/").json())
    assert task["state"] == "finished", task["error"]
    assert_error(api.get(schedule["_href"]), 404, "PLP0009")


# --- runs ----------------------------------------------------------------------------------
# The housekeeping leader checks the schedules once a second. The timeouts below are generous
# limits for a loaded machine, not expectations.

RUN_TIMEOUT = 90


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    with serve(make_test_repo(tmp_path_factory.mktemp("schedules") / "feed")) as server:
        yield server


@pytest.fixture
def refused_url():
    """The URL of a loopback port that refuses connections, as a feed that is down."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bind_free_port(lambda port: listener.bind(("127.0.0.1", port)))
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/repo/"
    listener.close()


def scheduled_tasks(stack, schedule):
    """Return the rows of the tasks that the schedule dispatched, oldest first, as dicts."""
    output = run_sql(stack, "SELECT row_to_json(t) FROM (SELECT task_id, task_type, state,"
                            " tags, resources, shared_resources, args FROM tasks"
                            " WHERE schedule_id = :'id' ORDER BY seq) AS t",
                     id=schedule["_id"])
    return [json.loads(line) for line in output.splitlines()]


def wait_schedule(api, schedule, condition, message, timeout=RUN_TIMEOUT):
    """Poll the schedule until condition(document) is true; returns the document."""
    def check():
        response = api.get(schedule["_href"])
        assert response.status_code == 200, response.text
        document = response.json()
        return document if condition(document) else None
    return wait_until(check, timeout=timeout, interval=0.25, message=message)


def wait_tasks_final(api, stack, schedule):
    """Wait for every task of the schedule to end; returns their final reports."""
    return [wait_task(api, row["task_id"], timeout=RUN_TIMEOUT)
            for row in scheduled_tasks(stack, schedule)]


def test_schedule_runs_sync(api, stack, feed):
    repo_id = unique_id("sched-sync")
    create_repo(api, repo_id, feed.url, auto_publish=False)
    schedule = create_schedule(api, sync_schedules(repo_id), schedule="PT1S")
    document = wait_schedule(api, schedule, lambda d: d["total_run_count"] >= 1,
                             "the first scheduled sync")
    assert document["last_run_at"] is not None
    assert document["next_run"] is not None

    first = scheduled_tasks(stack, schedule)[0]
    report = wait_task(api, first["task_id"], timeout=RUN_TIMEOUT)
    assert report["state"] == "finished", report["error"]
    assert report["task_type"] == "pulp.server.managers.repo.sync.sync"
    assert f"pulp:repository:{repo_id}" in report["tags"]
    assert "pulp:action:sync" in report["tags"]
    assert first["resources"] == [f"repository:{repo_id}"]
    assert first["shared_resources"] == []
    assert first["args"] == {"repo_id": repo_id, "override_config": {}}
    assert api.get(f"repositories/{repo_id}/").json()["content_unit_counts"]["rpm"] > 0


def test_delete_stops_schedule(api, stack, feed):
    repo_id = unique_id("sched-stop")
    create_repo(api, repo_id, feed.url, auto_publish=False)
    schedule = create_schedule(api, sync_schedules(repo_id), schedule="PT1S")
    wait_schedule(api, schedule, lambda d: d["total_run_count"] >= 1, "a scheduled sync")
    assert api.delete(schedule["_href"]).status_code == 200

    count = len(wait_tasks_final(api, stack, schedule))
    time.sleep(3)
    assert len(scheduled_tasks(stack, schedule)) == count


def test_limited_schedule_stops(api, stack, feed):
    repo_id = unique_id("sched-r2")
    create_repo(api, repo_id, feed.url, auto_publish=False)
    schedule = create_schedule(api, sync_schedules(repo_id), schedule="R2/PT1S")
    assert schedule["remaining_runs"] == 2
    document = wait_schedule(api, schedule, lambda d: not d["enabled"],
                             "the schedule to be disabled after two runs")
    assert document["total_run_count"] == 2
    assert document["remaining_runs"] == 0
    assert document["next_run"] is None
    reports = wait_tasks_final(api, stack, schedule)
    assert [report["state"] for report in reports] == ["finished", "finished"]
    time.sleep(2)
    assert len(scheduled_tasks(stack, schedule)) == 2

    # Enabled without a new schedule, it would never run.
    response = api.put(schedule["_href"], json={"enabled": True})
    assert response.status_code == 400, response.text
    assert response.json()["property_names"] == ["enabled"]
    response = api.put(schedule["_href"], json={"enabled": True, "schedule": "R1/PT1H"})
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is True
    assert response.json()["remaining_runs"] == 1


def test_failure_threshold_disables(api, stack, refused_url):
    repo_id = unique_id("sched-fail")
    create_repo(api, repo_id, refused_url, importer_config={"retries": 0}, auto_publish=False)
    schedule = create_schedule(api, sync_schedules(repo_id), schedule="PT1S",
                               failure_threshold=2)
    document = wait_schedule(api, schedule, lambda d: not d["enabled"],
                             "the schedule to be disabled after two failures")
    assert document["consecutive_failures"] == 2
    assert document["total_run_count"] == 2
    reports = wait_tasks_final(api, stack, schedule)
    assert [report["state"] for report in reports] == ["error", "error"]


def test_success_resets_failures(api, stack, feed, refused_url):
    repo_id = unique_id("sched-reset")
    create_repo(api, repo_id, feed.url, auto_publish=False)
    override = {"feed": refused_url, "retries": 0}
    schedule = create_schedule(api, sync_schedules(repo_id), schedule="PT1S",
                               override_config=override, failure_threshold=0)
    wait_schedule(api, schedule, lambda d: d["consecutive_failures"] >= 2,
                  "two failed scheduled syncs")
    failed = scheduled_tasks(stack, schedule)[0]
    assert failed["args"]["override_config"] == override

    response = api.put(schedule["_href"], json={"override_config": {}})
    assert response.status_code == 200, response.text
    document = wait_schedule(api, schedule, lambda d: d["consecutive_failures"] == 0,
                             "a successful scheduled sync")
    assert document["enabled"] is True
    api.delete(schedule["_href"])
    wait_tasks_final(api, stack, schedule)


def test_invalid_configuration_skips_run(api, stack):
    """A run whose configuration became invalid after the schedule was stored is not
    dispatched and counts as a failure."""
    repo_id = unique_id("sched-invalid")
    create_repo(api, repo_id, UNUSED_FEED, importer_config={"proxy_host": "127.0.0.1"})
    schedule = create_schedule(api, sync_schedules(repo_id), schedule="PT1S",
                               override_config={"proxy_port": 9}, enabled=False)
    response = api.put(f"repositories/{repo_id}/importers/yum_importer/",
                       json={"importer_config": {"proxy_host": None}})
    assert response.status_code == 202, response.text
    response = api.put(schedule["_href"], json={"enabled": True, "failure_threshold": 2})
    assert response.status_code == 200, response.text

    document = wait_schedule(api, schedule, lambda d: not d["enabled"],
                             "the schedule to be disabled after two skipped runs")
    assert document["consecutive_failures"] == 2
    assert document["total_run_count"] == 0
    assert document["last_run_at"] is None
    assert scheduled_tasks(stack, schedule) == []


def test_publish_schedule_runs_publish(api, stack):
    repo_id = unique_id("sched-pub")
    create_repo(api, repo_id, UNUSED_FEED)
    schedule = create_schedule(api, publish_schedules(repo_id), schedule="R1/PT1S")
    document = wait_schedule(api, schedule, lambda d: not d["enabled"], "the scheduled publish")
    assert document["total_run_count"] == 1
    (report,) = wait_tasks_final(api, stack, schedule)
    assert report["state"] == "finished", report["error"]
    assert report["task_type"] == "pulp.server.managers.repo.publish.publish"
    assert "pulp:action:publish" in report["tags"]
    (row,) = scheduled_tasks(stack, schedule)
    assert row["args"] == {"repo_id": repo_id, "distributor_id": "yum", "override_config": {}}
    assert row["resources"] == [f"repository:{repo_id}"]


def test_run_waits_for_previous_task(api, stack):
    repo_id = unique_id("sched-busy")
    create_repo(api, repo_id, UNUSED_FEED, auto_publish=False)
    response = api.post("diagnostics/tasks/", json={
        "action": "sleep", "seconds": 30, "resource": f"repository:{repo_id}"})
    assert response.status_code == 202, response.text
    sleeper = response.json()["spawned_tasks"][0]["task_id"]
    schedule = create_schedule(api, publish_schedules(repo_id), schedule="PT1S")
    wait_schedule(api, schedule, lambda d: d["total_run_count"] >= 1, "the first run")

    time.sleep(3)
    assert api.get(f"tasks/{sleeper}/").json()["state"] in {"waiting", "running"}
    assert api.get(schedule["_href"]).json()["total_run_count"] == 1
    (row,) = scheduled_tasks(stack, schedule)
    assert row["state"] == "waiting"
    api.delete(schedule["_href"])
    assert api.delete(f"tasks/{sleeper}/").status_code == 200
    wait_task(api, sleeper, timeout=RUN_TIMEOUT)
    wait_tasks_final(api, stack, schedule)


def test_locked_schedule_is_skipped(api, stack):
    """A due schedule whose row another session has locked (a second leader, say) is skipped,
    not waited for: a schedule due later runs meanwhile, and the locked one runs once after
    the lock is released."""
    repo_id = unique_id("sched-lock")
    create_repo(api, repo_id, UNUSED_FEED)
    now = datetime.now(timezone.utc)
    locked = create_schedule(api, publish_schedules(repo_id),
                             schedule=f"R1/{stamp(now + timedelta(seconds=5))}/PT1S")
    other = create_schedule(api, sync_schedules(repo_id),
                            schedule=f"R1/{stamp(now + timedelta(seconds=6))}/PT1S")
    holder = subprocess.Popen(
        ["psql", stack.settings["PULP_DATABASE"], "-Atq", "-v", "ON_ERROR_STOP=1",
         "-c", "BEGIN",
         "-c", f"SELECT 1 FROM schedules WHERE id = '{locked['_id']}' FOR UPDATE",
         "-c", "SELECT pg_sleep(15)", "-c", "COMMIT"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_schedule(api, other, lambda d: d["total_run_count"] == 1,
                      "the unlocked schedule to run")
        assert holder.poll() is None, "the lock ended before the test could check it"
        assert utc(api.get(locked["_href"]).json()["next_run"]) <= datetime.now(timezone.utc)
        assert scheduled_tasks(stack, locked) == []
    finally:
        _, errors = holder.communicate(timeout=60)
    assert holder.returncode == 0, errors
    document = wait_schedule(api, locked, lambda d: d["total_run_count"] == 1,
                             "the locked schedule to run after the lock")
    assert document["enabled"] is False
    assert len(scheduled_tasks(stack, locked)) == 1
    wait_tasks_final(api, stack, locked)
    wait_tasks_final(api, stack, other)


def test_dispatch_resent_after_broker_outage(api, stack, managed_stack):
    """A run dispatched while the broker is down waits until the sweeper sends its message."""
    repo_id = unique_id("sched-broker")
    create_repo(api, repo_id, UNUSED_FEED)
    managed_stack.stop("rabbitmq")
    try:
        schedule = create_schedule(api, publish_schedules(repo_id), schedule="R1/PT1S")
        wait_schedule(api, schedule, lambda d: d["total_run_count"] == 1,
                      "the run dispatched while the broker is down")
        (row,) = scheduled_tasks(stack, schedule)
        assert row["state"] == "waiting"
    finally:
        managed_stack.start()
    report = wait_task(api, row["task_id"], timeout=RUN_TIMEOUT)
    assert report["state"] == "finished", report["error"]
