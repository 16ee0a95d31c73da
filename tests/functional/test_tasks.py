"""Task API and the task protocol's invariants, against the real stack.

The stack runs two workers with two task slots each and diagnostic tasks on. Diagnostic
tasks (POST diagnostics/tasks/) sleep on a resource, fail or crash, and report their own
start and end times with microseconds in their result, which the ordering checks use.
"""

import subprocess
import threading
import time
import uuid

import pytest

from pulp_helpers import CHECKOUT, wait_task, wait_until

WORKER_BIN = CHECKOUT / "build" / "pulp-worker"


# --- helpers, also used by test_faults.py ---------------------------------------------------


def unique_resource(prefix="repository"):
    return f"{prefix}:t-{uuid.uuid4().hex[:10]}"


def diagnostic(api, action="noop", seconds=0, resource=None, shared=None, **extra):
    """Dispatch a diagnostic task and return its id."""
    body = {"action": action, "seconds": seconds, **extra}
    if resource:
        body["resource"] = resource
    if shared:
        body["shared_resource"] = shared
    response = api.post("diagnostics/tasks/", json=body)
    assert response.status_code == 202, response.text
    return response.json()["spawned_tasks"][0]["task_id"]


def get_task(api, task_id):
    response = api.get(f"tasks/{task_id}/")
    assert response.status_code == 200, response.text
    return response.json()


def wait_state(api, task_id, states, timeout=30):
    """Wait until the task is in one of `states` and return its report."""
    return wait_until(
        lambda: (lambda t: t if t["state"] in states else None)(get_task(api, task_id)),
        timeout=timeout, interval=0.02, message=f"task {task_id} to be {'/'.join(states)}",
    )


def task_seqs(stack, task_ids):
    """Return {task_id: seq}: the dispatch order, which the API does not show."""
    # psql interpolates :'ids' as a quoted literal only in statements read from its input.
    result = subprocess.run(
        ["psql", stack.settings["PULP_DATABASE"], "-Atq", "-v", f"ids={{{','.join(task_ids)}}}"],
        input="SELECT task_id, seq FROM tasks WHERE task_id = ANY (:'ids'::uuid[]);\n",
        capture_output=True, text=True, check=True, timeout=30,
    )
    pairs = (line.split("|") for line in result.stdout.split())
    return {task_id: int(seq) for task_id, seq in pairs}


def wait_idle(api, timeout=60):
    """Wait until no task is waiting or running, so that every task slot is free."""
    criteria = {"criteria": {"filters": {"state": {"$in": ["waiting", "running"]}}}}
    wait_until(lambda: api.post("tasks/search/", json=criteria).json() == [],
               timeout=timeout, message="every task to end")


def send_dispatch_message(stack, task_id):
    """Send one more dispatch message for a task, as a lost-and-resent message would."""
    subprocess.run(
        [str(WORKER_BIN), "--send-task", task_id, "--broker", stack.settings["PULP_BROKER"],
         "--queue", stack.settings.get("PULP_QUEUE", "pulp.tasks"), "--name", "test-sender"],
        capture_output=True, text=True, check=True, timeout=30,
    )


def dispatch_concurrently(stack, bodies, threads=4):
    """POST each body to diagnostics/tasks/ from `threads` connections at once; returns the
    task ids in no particular order."""
    from pulp_helpers import ApiSession

    ids = []
    lock = threading.Lock()
    chunks = [bodies[i::threads] for i in range(threads)]

    def run(chunk):
        with ApiSession(stack.url, auth=(stack.user, stack.password)) as session:
            for body in chunk:
                response = session.post("diagnostics/tasks/", json=body)
                assert response.status_code == 202, response.text
                with lock:
                    ids.append(response.json()["spawned_tasks"][0]["task_id"])

    workers = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(ids) == len(bodies)
    return ids


# --- the task API ---------------------------------------------------------------------------


def test_report_shape(api):
    task_id = diagnostic(api, resource="repository:shape")
    report = wait_task(api, task_id)
    assert report["state"] == "finished"
    assert report["_href"] == f"/pulp/api/v2/tasks/{task_id}/"
    assert report["task_id"] == task_id
    assert report["task_type"] == "pulp.server.tasks.diagnostic"
    assert set(report["tags"]) == {"pulp:action:diagnostic", "pulp:repository:shape"}
    assert report["queue"]
    assert report["worker_name"]
    assert report["start_time"].endswith("Z")
    assert report["finish_time"].endswith("Z")
    assert report["error"] is None
    assert report["exception"] is None
    assert report["traceback"] is None
    assert report["spawned_tasks"] == []
    assert "started" in report["result"]


def test_call_report_shape(api):
    response = api.post("diagnostics/tasks/", json={"action": "noop"})
    assert response.status_code == 202
    body = response.json()
    assert body["result"] is None
    assert body["error"] is None
    assert len(body["spawned_tasks"]) == 1
    assert body["spawned_tasks"][0]["_href"].startswith("/pulp/api/v2/tasks/")


def test_unknown_task_404(api):
    response = api.get(f"tasks/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "PLP0009"


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "..%2Fx", "%00"])
def test_bad_task_id_404(api, bad_id):
    response = api.get(f"tasks/{bad_id}/")
    assert response.status_code == 404
    assert response.json()["http_status"] == 404


def test_tasks_need_authentication(anon):
    assert anon.get("tasks/").status_code == 401


def test_list_matches_all_tags(api):
    first = unique_resource()
    second = unique_resource()
    first_id = diagnostic(api, resource=first)
    second_id = diagnostic(api, resource=second)
    response = api.get("tasks/", params=[("tag", f"pulp:{first}"),
                                         ("tag", "pulp:action:diagnostic")])
    assert response.status_code == 200
    ids = {task["task_id"] for task in response.json()}
    assert first_id in ids
    assert second_id not in ids


def test_search_by_state_and_tag(api):
    resource = unique_resource()
    finished_id = diagnostic(api, resource=resource)
    failed_id = diagnostic(api, action="fail", resource=resource)
    wait_task(api, finished_id)
    wait_task(api, failed_id)
    criteria = {"criteria": {"filters": {"state": "error", "tags": f"pulp:{resource}"},
                             "fields": ["state"]}}
    response = api.post("tasks/search/", json=criteria)
    assert response.status_code == 200
    documents = response.json()
    assert [document["task_id"] for document in documents] == [failed_id]
    assert set(documents[0]) == {"_href", "task_id", "state"}


def test_search_rejects_unknown_field(api):
    response = api.post("tasks/search/", json={"criteria": {"filters": {"no_such": 1}}})
    assert response.status_code == 400


def test_failed_task_reports_error(api):
    report = wait_task(api, diagnostic(api, action="fail"))
    assert report["state"] == "error"
    assert "failed as requested" in report["error"]["description"]


def test_crashed_task_reports_signal(api):
    report = wait_task(api, diagnostic(api, action="crash"))
    assert report["state"] == "error"
    assert "killed by signal 11" in report["error"]["description"]
    assert wait_task(api, diagnostic(api))["state"] == "finished"


def test_diagnostic_rejects_unknown_action(api):
    response = api.post("diagnostics/tasks/", json={"action": "explode"})
    assert response.status_code == 400
    assert response.json()["property_names"] == ["action"]


def test_status_messaging_connected(anon):
    assert anon.get("status/").json()["messaging_connection"]["connected"] is True


# --- ordering and exclusion -----------------------------------------------------------------


def test_one_repository_serial_in_dispatch_order(api, stack):
    resource = unique_resource()
    bodies = [{"action": "sleep", "seconds": 0.05, "resource": resource}] * 20
    ids = dispatch_concurrently(stack, bodies, threads=4)
    reports = [wait_task(api, task_id) for task_id in ids]
    assert all(report["state"] == "finished" for report in reports)

    seqs = task_seqs(stack, ids)
    runs = sorted((seqs[r["task_id"]], r["result"]["started"], r["result"]["ended"])
                  for r in reports)
    for earlier, later in zip(runs, runs[1:]):
        assert later[1] >= earlier[2], f"task seq {later[0]} started before seq {earlier[0]} ended"


def test_four_repositories_in_parallel(api):
    wait_idle(api)
    ids = [diagnostic(api, "sleep", 1.0, resource=unique_resource()) for _ in range(4)]
    results = [wait_task(api, task_id)["result"] for task_id in ids]
    latest_start = max(result["started"] for result in results)
    earliest_end = min(result["ended"] for result in results)
    assert latest_start < earliest_end, "the four tasks did not all run at the same time"


def test_shared_holders_run_together(api):
    wait_idle(api)
    resource = unique_resource()
    shared = [diagnostic(api, "sleep", 0.8, shared=resource) for _ in range(2)]
    exclusive = diagnostic(api, "sleep", 0.1, resource=resource)
    first, second = (wait_task(api, task_id)["result"] for task_id in shared)
    last = wait_task(api, exclusive)["result"]
    assert max(first["started"], second["started"]) < min(first["ended"], second["ended"])
    assert last["started"] >= max(first["ended"], second["ended"])


def test_no_overtaking_on_a_resource(api):
    first = unique_resource()
    second = unique_resource()
    blocker = diagnostic(api, "sleep", 1.0, resource=first)
    both = diagnostic(api, "sleep", 0.1, resource=first, shared=second)
    later = diagnostic(api, "sleep", 0.1, resource=second)
    blocker_run = wait_task(api, blocker)["result"]
    both_run = wait_task(api, both)["result"]
    later_run = wait_task(api, later)["result"]
    assert both_run["started"] >= blocker_run["ended"]
    assert later_run["started"] >= both_run["ended"]


# --- duplicates -----------------------------------------------------------------------------


def test_duplicate_message_after_finish_is_ignored(api, stack):
    task_id = diagnostic(api)
    first = wait_task(api, task_id)
    send_dispatch_message(stack, task_id)
    time.sleep(1)
    again = get_task(api, task_id)
    assert again["state"] == "finished"
    assert again["result"] == first["result"]
    assert again["finish_time"] == first["finish_time"]


def test_duplicate_message_while_running_is_ignored(api, stack):
    task_id = diagnostic(api, "sleep", 1.0)
    wait_state(api, task_id, {"running"})
    send_dispatch_message(stack, task_id)
    report = wait_task(api, task_id)
    assert report["state"] == "finished"
    assert report["result"]["slept"] == 1.0


def test_duplicate_message_of_blocked_task_waits(api, stack):
    resource = unique_resource()
    blocker = diagnostic(api, "sleep", 1.0, resource=resource)
    blocked = diagnostic(api, resource=resource)
    wait_state(api, blocker, {"running"})
    send_dispatch_message(stack, blocked)
    send_dispatch_message(stack, blocked)
    blocker_run = wait_task(api, blocker)["result"]
    blocked_run = wait_task(api, blocked)["result"]
    assert blocked_run["started"] >= blocker_run["ended"]


# --- cancel and purge -----------------------------------------------------------------------


def test_cancel_waiting_task(api):
    resource = unique_resource()
    blocker = diagnostic(api, "sleep", 1.0, resource=resource)
    waiting = diagnostic(api, resource=resource)
    follower = diagnostic(api, resource=resource)
    response = api.delete(f"tasks/{waiting}/")
    assert response.status_code == 200
    assert response.json() is None
    assert wait_task(api, waiting)["state"] == "canceled"
    assert wait_task(api, blocker)["state"] == "finished"
    assert wait_task(api, follower)["state"] == "finished"


def test_cancel_running_task(api):
    task_id = diagnostic(api, "sleep", 60)
    wait_state(api, task_id, {"running"})
    started = time.monotonic()
    assert api.delete(f"tasks/{task_id}/").status_code == 200
    report = wait_task(api, task_id, timeout=10)
    assert report["state"] == "canceled"
    assert time.monotonic() - started < 2


def test_cancel_unblocks_next_task(api):
    resource = unique_resource()
    running = diagnostic(api, "sleep", 60, resource=resource)
    waiting = diagnostic(api, resource=resource)
    wait_state(api, running, {"running"})
    api.delete(f"tasks/{running}/")
    assert wait_task(api, waiting, timeout=10)["state"] == "finished"


def test_cancel_finished_task_conflict(api):
    task_id = diagnostic(api)
    wait_task(api, task_id)
    response = api.delete(f"tasks/{task_id}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "PLP0023"


def test_cancel_unknown_task_404(api):
    response = api.delete(f"tasks/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "PLP0009"


def test_purge_deletes_completed_states(api):
    finished = diagnostic(api)
    failed = diagnostic(api, action="fail")
    wait_task(api, finished)
    wait_task(api, failed)
    response = api.delete("tasks/", params=[("state", "finished")])
    assert response.status_code == 204
    assert api.get(f"tasks/{finished}/").status_code == 404
    assert api.get(f"tasks/{failed}/").status_code == 200


def test_purge_keeps_unfinished_tasks(api):
    running = diagnostic(api, "sleep", 60)
    wait_state(api, running, {"running"})
    assert api.delete("tasks/").status_code == 204
    assert get_task(api, running)["state"] == "running"
    api.delete(f"tasks/{running}/")
    wait_task(api, running)


def test_purge_rejects_unfinished_state(api):
    response = api.delete("tasks/", params=[("state", "running")])
    assert response.status_code == 400
    assert response.json()["property_names"] == ["state"]


# --- task kinds -----------------------------------------------------------------------------


def test_repository_delete_task(api):
    repo_id = f"delete-{uuid.uuid4().hex[:10]}"
    assert api.post("repositories/", json={"id": repo_id}).status_code == 201
    response = api.delete(f"repositories/{repo_id}/")
    assert response.status_code == 202
    report = wait_task(api, response.json())
    assert report["state"] == "finished"
    assert report["task_type"] == "pulp.server.tasks.repository.delete"
    assert f"pulp:repository:{repo_id}" in report["tags"]
    assert api.get(f"repositories/{repo_id}/").status_code == 404


def test_repository_delete_waits_for_running_task(api):
    repo_id = f"delete-{uuid.uuid4().hex[:10]}"
    assert api.post("repositories/", json={"id": repo_id}).status_code == 201
    sleeper = diagnostic(api, "sleep", 1.0, resource=f"repository:{repo_id}")
    wait_state(api, sleeper, {"running"})
    deletion = wait_task(api, api.delete(f"repositories/{repo_id}/").json())
    sleeper_run = wait_task(api, sleeper)
    assert deletion["state"] == "finished"
    assert sleeper_run["state"] == "finished"
    assert api.get(f"repositories/{repo_id}/").status_code == 404


def test_sync_queued_behind_delete_names_repository(api):
    repo_id = f"delete-{uuid.uuid4().hex[:10]}"
    response = api.post("repositories/", json={
        "id": repo_id, "importer_type_id": "yum_importer",
        "importer_config": {"feed": "http://127.0.0.1:9/"}})
    assert response.status_code == 201, response.text
    sleeper = diagnostic(api, "sleep", 1.0, resource=f"repository:{repo_id}")
    wait_state(api, sleeper, {"running"})
    deletion = api.delete(f"repositories/{repo_id}/").json()
    sync = api.post(f"repositories/{repo_id}/actions/sync/", json={})
    assert sync.status_code == 202, sync.text
    assert wait_task(api, deletion)["state"] == "finished"
    report = wait_task(api, sync.json())
    assert report["state"] == "error"
    assert report["error"]["code"] == "PLP0009"
    assert f'importer of repository "{repo_id}"' in report["error"]["description"]
