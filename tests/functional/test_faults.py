"""Fault tests: kill task processes, workers, the broker and PostgreSQL while tasks run.

They kill and restart components, so they run on a private stack of their own, started by
scripts/stack on the ports from PULP_FAULT_PORT_BASE (default PULP_TEST_PORT_BASE + 50) to
+16 and deleted at the end unless PULP_TEST_KEEP_STACK=1. Each test leaves that stack running again.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from pulp_helpers import (
    DEFAULT_TEST_PORT_BASE,
    STACK_SCRIPT,
    STACK_SETTINGS,
    ApiSession,
    Stack,
    read_stack_env,
    task_process,
    wait_task,
    wait_until,
)
from test_tasks import (
    diagnostic,
    dispatch_concurrently,
    get_task,
    unique_resource,
    wait_state,
)

FAULT_PORT_BASE = int(os.environ.get(
    "PULP_FAULT_PORT_BASE", int(os.environ.get("PULP_TEST_PORT_BASE", DEFAULT_TEST_PORT_BASE)) + 50))
# Time within which a dead task must be marked as failed.
REAP_LIMIT = 2.0


@pytest.fixture(scope="module")
def fault_stack():
    run_dir = Path(tempfile.mkdtemp(prefix=f"pulp-faults-{FAULT_PORT_BASE}-", dir="/var/tmp"))
    run_dir.chmod(0o755)
    environment = {k: v for k, v in os.environ.items() if k not in STACK_SETTINGS}
    environment.update(PULP_RUN_DIR=str(run_dir), PULP_PORT_BASE=str(FAULT_PORT_BASE))

    def stack_command(*args):
        return subprocess.run([str(STACK_SCRIPT), *args], env=environment,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=300, check=False)

    started = stack_command("start")
    if started.returncode != 0:
        stack_command("clean")
        pytest.fail(f"scripts/stack start failed for the fault stack:\n{started.stdout}"
                    f"{started.stderr}")
    try:
        yield Stack(read_stack_env(run_dir / "stack.env"), owned=True)
    finally:
        if os.environ.get("PULP_TEST_KEEP_STACK") == "1":
            print(f"\nkeeping the fault stack in {run_dir}")
        else:
            stack_command("clean")
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def fapi(fault_stack):
    """An admin session on the fault stack, which is started again after each test."""
    with ApiSession(fault_stack.url, auth=(fault_stack.user, fault_stack.password)) as session:
        yield session
    fault_stack.start()
    wait_until(lambda: len(session_status(fault_stack)["known_workers"]) == 2, timeout=60,
               message="both workers to report to /status/")


def session_status(stack):
    with ApiSession(stack.url) as session:
        response = session.get("status/")
        return response.json() if response.status_code == 200 else {"known_workers": []}


def worker_of(report):
    """Return the scripts/stack name of the worker that runs a task ("worker-1")."""
    return report["worker_name"].split("@")[0]


def children_of(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(child) for child in path.read_text().split()]
    except OSError:
        return []


def wait_error(api, task_id, limit):
    """Wait until the task is "error"; return its report and the seconds it took."""
    started = time.monotonic()
    report = wait_state(api, task_id, {"error", "finished", "canceled"}, timeout=30)
    return report, time.monotonic() - started


def leader(stack):
    """Return the worker whose log last records that it became the housekeeping leader."""
    latest = None
    for name in ("worker-1", "worker-2"):
        for line in stack.log(f"{name}.log").splitlines():
            if "became leader" in line and (latest is None or line[:24] > latest[0]):
                latest = (line[:24], name)
    return latest[1] if latest else None


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- task processes and workers -------------------------------------------------------------


def test_killed_task_process_ends_in_error(fapi):
    resource = unique_resource()
    victim = diagnostic(fapi, "sleep", 60, resource=resource)
    follower = diagnostic(fapi, resource=resource)
    report = wait_state(fapi, victim, {"running"})
    supervisor = report["worker_name"]

    os.kill(wait_until(lambda: task_process(victim), message="the task process"), signal.SIGKILL)
    report, elapsed = wait_error(fapi, victim, REAP_LIMIT)
    assert report["state"] == "error"
    assert "killed by signal 9" in report["error"]["description"]
    assert elapsed < REAP_LIMIT
    assert wait_task(fapi, follower, timeout=10)["state"] == "finished"
    # The worker that lost its task process keeps serving.
    later = [diagnostic(fapi, resource=unique_resource()) for _ in range(6)]
    workers = {wait_task(fapi, task_id)["worker_name"] for task_id in later}
    assert supervisor in workers


def test_killed_worker_ends_task_through_other(fapi, fault_stack):
    resource = unique_resource()
    victim = diagnostic(fapi, "sleep", 60, resource=resource)
    follower = diagnostic(fapi, resource=resource)
    report = wait_state(fapi, victim, {"running"})
    name = worker_of(report)
    supervisor = fault_stack.pid(name)
    task_pid = wait_until(lambda: task_process(victim), message="the task process")

    os.kill(supervisor, signal.SIGKILL)
    os.kill(task_pid, signal.SIGKILL)
    report, elapsed = wait_error(fapi, victim, REAP_LIMIT)
    assert report["state"] == "error"
    assert f"worker {report['worker_name']} is gone" in report["error"]["description"]
    assert elapsed < REAP_LIMIT
    follower_report = wait_task(fapi, follower, timeout=10)
    assert follower_report["state"] == "finished"
    assert worker_of(follower_report) != name


def test_leader_failover(fapi, fault_stack):
    old_leader = wait_until(lambda: leader(fault_stack), message="a leader")
    ids = [diagnostic(fapi, "sleep", 60, resource=unique_resource()) for _ in range(4)]
    reports = [wait_state(fapi, task_id, {"running"}) for task_id in ids]
    victims = [r["task_id"] for r in reports if worker_of(r) == old_leader]
    survivors = [r["task_id"] for r in reports if worker_of(r) != old_leader]
    assert victims, "no task ran on the leader"

    supervisor = fault_stack.pid(old_leader)
    pids = [task_process(task_id) for task_id in victims]
    os.kill(supervisor, signal.SIGKILL)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)

    new_leader = wait_until(lambda: leader(fault_stack) != old_leader and leader(fault_stack),
                            timeout=REAP_LIMIT, interval=0.05, message="a new leader")
    assert new_leader != old_leader
    for task_id in victims:
        report, elapsed = wait_error(fapi, task_id, REAP_LIMIT)
        assert report["state"] == "error"
        assert "is gone" in report["error"]["description"]
    for task_id in survivors:
        fapi.delete(f"tasks/{task_id}/")
        assert wait_task(fapi, task_id, timeout=15)["state"] == "canceled"


def test_sigterm_lets_running_task_finish(fapi, fault_stack):
    task_id = diagnostic(fapi, "sleep", 2)
    name = worker_of(wait_state(fapi, task_id, {"running"}))
    supervisor = fault_stack.pid(name)

    os.kill(supervisor, signal.SIGTERM)
    assert wait_task(fapi, task_id, timeout=10)["state"] == "finished"
    wait_until(lambda: not pid_alive(supervisor), timeout=10, message="the worker to exit")
    others = {worker_of(wait_task(fapi, diagnostic(fapi))) for _ in range(4)}
    assert others == {"worker-2" if name == "worker-1" else "worker-1"}


def test_stopping_leader_hands_over_housekeeping(fapi, fault_stack):
    old_leader = wait_until(lambda: leader(fault_stack), message="a leader")
    ids = [diagnostic(fapi, "sleep", 6, resource=unique_resource()) for _ in range(4)]
    reports = [wait_state(fapi, task_id, {"running"}) for task_id in ids]
    on_leader = [r["task_id"] for r in reports if worker_of(r) == old_leader]
    assert on_leader, "no task ran on the leader"
    supervisor = fault_stack.pid(old_leader)

    os.kill(supervisor, signal.SIGTERM)
    # The stopping worker waits for its tasks, but the housekeeping moves on at once.
    new_leader = wait_until(lambda: leader(fault_stack) != old_leader and leader(fault_stack),
                            timeout=REAP_LIMIT, interval=0.05, message="a new leader")
    assert new_leader != old_leader
    assert pid_alive(supervisor)
    assert "leaving the housekeeping to another worker" in fault_stack.log(f"{old_leader}.log")
    for task_id in ids:
        assert wait_task(fapi, task_id, timeout=20)["state"] == "finished"
    wait_until(lambda: not pid_alive(supervisor), timeout=10, message="the worker to exit")


def test_second_sigterm_stops_running_task(fapi, fault_stack):
    task_id = diagnostic(fapi, "sleep", 60)
    name = worker_of(wait_state(fapi, task_id, {"running"}))
    supervisor = fault_stack.pid(name)

    os.kill(supervisor, signal.SIGTERM)
    time.sleep(0.2)
    os.kill(supervisor, signal.SIGTERM)
    report = wait_task(fapi, task_id, timeout=10)
    assert report["state"] == "error"
    assert "shut down" in report["error"]["description"]
    wait_until(lambda: not pid_alive(supervisor), timeout=10, message="the worker to exit")


# --- the broker -----------------------------------------------------------------------------


def test_dispatch_with_broker_down(fapi, fault_stack):
    broker = fault_stack.pid("rabbitmq")
    os.kill(broker, signal.SIGKILL)
    wait_until(lambda: not pid_alive(broker), message="the broker to die")

    started = time.monotonic()
    response = fapi.post("diagnostics/tasks/", json={"action": "noop"})
    assert response.status_code == 202
    assert time.monotonic() - started < 1.5
    task_id = response.json()["spawned_tasks"][0]["task_id"]
    assert get_task(fapi, task_id)["state"] == "waiting"

    fault_stack.start()
    assert wait_task(fapi, task_id, timeout=60)["state"] == "finished"


def test_thousand_tasks_across_broker_restart(fapi, fault_stack):
    bodies = [{"action": "noop"}] * 500
    before = dispatch_concurrently(fault_stack, bodies, threads=8)
    fault_stack.stop("rabbitmq")
    during = dispatch_concurrently(fault_stack, bodies, threads=8)
    fault_stack.start()

    ids = set(before) | set(during)
    assert len(ids) == 1000
    states = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        states = {t["task_id"]: t["state"] for t in fapi.get("tasks/").json()
                  if t["task_id"] in ids}
        if all(state == "finished" for state in states.values()):
            break
        time.sleep(1)
    unfinished = [task_id for task_id, state in states.items() if state != "finished"]
    assert len(states) == 1000
    assert unfinished == []


# --- PostgreSQL -----------------------------------------------------------------------------


def test_postgresql_restart(fapi, fault_stack):
    running = diagnostic(fapi, "sleep", 60)
    wait_state(fapi, running, {"running"})
    httpd = fault_stack.pid("httpd")

    fault_stack.stop("postgresql")
    response = fapi.get("tasks/")
    assert response.status_code == 503
    body = response.json()
    assert body["http_status"] == 503
    assert body["error"]["code"]

    fault_stack.start()
    wait_until(lambda: fapi.get("tasks/").status_code == 200, timeout=30,
               message="the API to answer again")
    assert fault_stack.pid("httpd") == httpd
    report = wait_task(fapi, running, timeout=30)
    assert report["state"] == "error"
    assert wait_task(fapi, diagnostic(fapi), timeout=30)["state"] == "finished"
    criteria = {"criteria": {"filters": {"state": "running"}}}
    wait_until(lambda: fapi.post("tasks/search/", json=criteria).json() == [], timeout=30,
               message="no task left running")
