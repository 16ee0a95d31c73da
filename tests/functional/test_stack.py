"""Tests of the private stack itself: health, scripts/stack start, stop and status."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from pulp_helpers import STACK_SCRIPT, STACK_SETTINGS, wait_task, wait_until

COMPONENTS = ("postgresql", "rabbitmq", "httpd", "worker-1", "worker-2")


def parse_status(output):
    """Map each component in `scripts/stack status` output to its pid, or None if stopped."""
    pids = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[1] == "running":
            pids[words[0]] = int(words[3])
        elif len(words) >= 2 and words[1] == "stopped":
            pids[words[0]] = None
    return pids


def process_alive(pid):
    """True when the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def processes():
    """Yield (pid, ppid, command line) of every process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        yield int(entry.name), ppid, cmdline


def top_processes(marker):
    """Return the pids of processes whose command line contains `marker` and whose parent's
    does not: the httpd parent, each worker's supervisor."""
    table = {pid: (ppid, cmdline) for pid, ppid, cmdline in processes()}
    return sorted(
        pid for pid, (ppid, cmdline) in table.items()
        if marker in cmdline and marker not in table.get(ppid, (0, ""))[1]
    )


def run_noop_task(api):
    """Dispatch a diagnostic noop task through the API and return its final report."""
    response = api.post("diagnostics/tasks/", json={"action": "noop"})
    assert response.status_code == 202, response.text
    return wait_task(api, response.json(), timeout=30)


def ports_free(base, count=17):
    for port in range(base, base + count):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def test_status_endpoint_reports_database(anon):
    response = anon.get("status/")
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["database_connection"]["connected"] is True


def test_task_runs_on_worker(api):
    task = run_noop_task(api)
    assert task["state"] == "finished", task
    assert task["worker_name"].startswith("worker-"), task


def test_stack_status_all_running(managed_stack):
    result = managed_stack.status()
    assert result.returncode == 0, result.stdout + result.stderr
    pids = parse_status(result.stdout)
    for component in COMPONENTS:
        assert pids.get(component), f"{component} is not running:\n{result.stdout}"


def test_stack_env_file(managed_stack):
    env_file = managed_stack.run_dir / "stack.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    text = env_file.read_text()
    for name in ("PULP_URL", "PULP_USER", "PULP_PASSWORD", "PULP_DATABASE", "PULP_BROKER",
                 "PULP_QUEUE", "PULP_STORAGE_DIR", "PULP_RUN_DIR", "PULP_PORT_BASE",
                 "PULP_PG_PORT", "PULP_AMQP_PORT", "PULP_HTTP_PORT", "PULP_HTTPS_PORT",
                 "PULP_HTTPS_URL", "PULP_HTTPS_CERT", "PULP_PG_SOCKET_DIR", "PULP_WORKER_CONF"):
        assert f"export {name}=" in text


def test_ports_bound_to_loopback(managed_stack):
    base = int(managed_stack.settings["PULP_PORT_BASE"])
    ports = {int(managed_stack.settings[name]) for name in
             ("PULP_HTTP_PORT", "PULP_HTTPS_PORT", "PULP_PG_PORT", "PULP_AMQP_PORT")}
    ports |= {base + 3, base + 4}
    listeners = subprocess.run(["ss", "-Htln"], capture_output=True, text=True,
                               check=True).stdout
    bound = set()
    for line in listeners.splitlines():
        address, _, port = line.split()[3].rpartition(":")
        if int(port) in ports:
            assert address in ("127.0.0.1", "[::1]"), line
            bound.add(int(port))
    assert bound == ports


def test_start_again_duplicates_nothing(managed_stack):
    before = parse_status(managed_stack.status().stdout)
    managed_stack.start()
    after = parse_status(managed_stack.status().stdout)
    assert after == before

    run_dir = str(managed_stack.run_dir)
    assert top_processes(f"{run_dir}/httpd/httpd.conf") == [before["httpd"]]
    for worker in ("worker-1", "worker-2"):
        marker = f"--config {run_dir}/worker.conf --name {worker}@"
        assert top_processes(marker) == [before[worker]]


def test_killed_worker_comes_back(managed_stack):
    old_pid = managed_stack.pid("worker-1")
    assert old_pid and process_alive(old_pid)
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: not process_alive(old_pid), timeout=10, message="worker-1 to exit")

    down = managed_stack.status()
    assert down.returncode != 0
    assert parse_status(down.stdout)["worker-1"] is None

    managed_stack.start()
    new_pid = managed_stack.pid("worker-1")
    assert new_pid != old_pid
    assert process_alive(new_pid)
    assert managed_stack.status().returncode == 0


@pytest.fixture(scope="module")
def original_mpm(stack):
    """Restarts httpd with the MPM of the session once the MPM tests are done."""
    mpm = os.environ.get("PULP_HTTPD_MPM", "event")
    yield mpm
    if stack.run_dir is not None:
        stack.stop("httpd")
        stack.start(env={"PULP_HTTPD_MPM": mpm})


@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_httpd_mpm_serves_api(managed_stack, anon, api, original_mpm, mpm):
    managed_stack.stop("httpd")
    managed_stack.start(env={"PULP_HTTPD_MPM": mpm})
    assert f"(MPM {mpm})" in managed_stack.status().stdout
    for _ in range(5):
        response = anon.get("status/")
        assert response.status_code == 200, response.text
        assert response.json()["database_connection"]["connected"] is True
    # The dispatch path: a database connection and an AMQP sender in an httpd child.
    assert run_noop_task(api)["state"] == "finished"


def test_taken_port_is_reported(stack):
    base = int(stack.settings.get("PULP_PORT_BASE", os.environ.get("PULP_TEST_PORT_BASE", 26800)))
    base = next((b for b in range(base + 20, base + 200, 20) if ports_free(b)), None)
    if base is None:
        pytest.skip("no free block of 17 ports found near the stack's ports")
    pg_port = base + 1
    run_dir = Path(tempfile.mkdtemp(prefix="pulp-test-port-", dir="/var/tmp"))
    environment = {k: v for k, v in os.environ.items() if k not in STACK_SETTINGS}
    environment.update(PULP_RUN_DIR=str(run_dir), PULP_PORT_BASE=str(base))

    def stack_command(*args):
        return subprocess.run([str(STACK_SCRIPT), *args], env=environment,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120, check=False)

    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", pg_port))
        listener.listen()
        result = stack_command("start")
        assert result.returncode != 0, result.stdout
        assert f"port {pg_port}" in result.stderr
        assert "PULP_PG_PORT" in result.stderr

        status = stack_command("status")
        assert status.returncode != 0
        assert set(parse_status(status.stdout).values()) == {None}
    finally:
        listener.close()
        stack_command("clean")
        shutil.rmtree(run_dir, ignore_errors=True)
