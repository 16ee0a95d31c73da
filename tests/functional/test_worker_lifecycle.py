"""Worker housekeeping and start-up against the real stack: the purge of old completed tasks,
missing workers in /status/, and workers started while the broker or PostgreSQL is down.

Some tests start extra pulp-worker processes with the stack's worker.conf, and the start-up
tests stop the stack's own workers so that the extra worker is the only consumer of the task
queue. Every test leaves the stack's workers running at the end.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from pulp_helpers import ApiSession, run_sql, wait_task, wait_until  # noqa: E402
from server_ports import bind_free_port  # noqa: E402
from test_tasks import WORKER_BIN, diagnostic, get_task, unique_resource, wait_state  # noqa: E402

# completed_task_max_age of the stack's workers: its worker.conf keeps the default, 7 days.
MAX_AGE_SECONDS = 7 * 24 * 3600


# --- helpers --------------------------------------------------------------------------------


class ExtraWorker:
    """A pulp-worker process started with the stack's worker.conf; its log (standard error)
    goes to a file."""

    def __init__(self, stack, log_path, label, *options, env=None):
        self.name = f"{label}-{uuid.uuid4().hex[:8]}@test"
        self.log_path = log_path
        environment = stack.env
        environment.update(env or {})
        with open(log_path, "wb") as log:
            # A session of its own, so that cleanup can reach its task processes too.
            self.process = subprocess.Popen(
                [str(WORKER_BIN), "--config", stack.settings["PULP_WORKER_CONF"],
                 "--name", self.name, *options],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=environment,
                start_new_session=True,
            )

    @property
    def pid(self):
        return self.process.pid

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout=60):
        """Send SIGTERM and return the exit status."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGCONT)
            os.kill(self.pid, signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self):
        """End the worker and its task processes, whatever state they are in."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


@pytest.fixture
def extra_workers(managed_stack, tmp_path):
    """Start extra workers with start(label, *options, env=None); stops them at the end."""
    started = []

    def start(label, *options, env=None):
        worker = ExtraWorker(managed_stack, tmp_path / f"{label}.log", label, *options, env=env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        try:
            worker.stop(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()


def known_workers(stack):
    """Return the names that GET /status/ lists in known_workers."""
    with ApiSession(stack.url) as session:
        response = session.get("status/")
    assert response.status_code == 200, response.text
    return {worker["_id"] for worker in response.json()["known_workers"]}


def stack_workers(stack):
    """Return the names of the stack's own workers (worker-N@...) that /status/ lists."""
    return {name for name in known_workers(stack) if name.startswith("worker-")}


@pytest.fixture
def stopped_workers(managed_stack):
    """Stop the stack's workers for the test and start them again after it."""
    count = int(managed_stack.settings.get("PULP_WORKER_COUNT", 2))
    managed_stack.stop("workers")
    # A worker deletes its row from the workers table when it exits.
    wait_until(lambda: not stack_workers(managed_stack), timeout=30,
               message="the stack's workers to leave /status/")
    yield
    managed_stack.start()
    wait_until(lambda: len(stack_workers(managed_stack)) == count, timeout=60,
               message="the stack's workers to report to /status/")


def copy_stream(source, target):
    """Copy what arrives on the source socket to the target socket until either closes."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def close_sockets(sockets):
    """Shut down and close each socket. shutdown() wakes the threads blocked in accept() and
    recv() on it, which close() alone does not."""
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


class RefusedPort:
    """A loopback port that refuses connections, as a stopped service does, until relay_to()
    forwards them to a running service, as if that service came back.

    The socket is bound but not listening, so the kernel resets each connection, and no
    other process can take the port in the meantime."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        bind_free_port(lambda port: self.listener.bind(("127.0.0.1", port)))
        self.port = self.listener.getsockname()[1]
        self.connections = []

    def relay_to(self, port):
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(port,), daemon=True).start()

    def _accept(self, port):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", port))
            self.connections += [client, server]
            threading.Thread(target=copy_stream, args=(client, server), daemon=True).start()
            threading.Thread(target=copy_stream, args=(server, client), daemon=True).start()

    def close(self):
        close_sockets([self.listener, *self.connections])


@pytest.fixture
def refused_port():
    port = RefusedPort()
    yield port
    port.close()


LOG_LINE = re.compile(r"^(\S+Z) (\w+) (\S+)(?: task \S+)?: (.*)$")


def log_events(text, name):
    """Parse a worker log into (time, level, message) tuples of the named worker.

    A line that does not have the documented format fails the test."""
    events = []
    for line in text.splitlines():
        match = LOG_LINE.match(line)
        assert match, f"log line not in the documented format: {line!r}"
        stamp, level, worker, message = match.groups()
        if worker == name:
            events.append((datetime.fromisoformat(stamp.replace("Z", "+00:00")), level, message))
    return events


def retry_delays(events, pattern):
    """Return (time, announced delay in ms) of each event whose message matches `pattern`
    and ends with "retrying in N ms"."""
    regex = re.compile(pattern + r".*; retrying in (\d+) ms$")
    return [(stamp, int(match.group(1)))
            for stamp, _, message in events if (match := regex.match(message))]


def wait_attempts(worker, pattern, count=4):
    """Wait until the worker's log shows `count` failed attempts whose message matches
    `pattern`, and return them as retry_delays() does."""

    def attempts():
        found = retry_delays(log_events(worker.log(), worker.name), pattern)
        return found if len(found) >= count else None

    return wait_until(attempts, timeout=30, message=f"{count} failed attempts in the log")


def check_backoff(attempts):
    """Check the first four retry delays of one connection: each attempt waits the delay
    announced before it, and the delays double from 250 ms, less up to a quarter of jitter."""
    delays = [delay for _, delay in attempts[:4]]
    assert 188 <= delays[0] <= 250, delays
    for previous, delay in zip(delays, delays[1:]):
        assert delay > previous, delays
    assert delays[3] <= 2000, delays
    for (start, delay), (retry, _) in zip(attempts, attempts[1:4]):
        waited_ms = (retry - start).total_seconds() * 1000
        # Log times have whole milliseconds.
        assert waited_ms >= delay - 2, f"retried after {waited_ms} ms, announced {delay} ms"


def database_parameters(stack):
    """Return the stack's libpq connection string as a dict (its values contain no spaces
    and no quotes)."""
    return dict(item.split("=", 1) for item in stack.settings["PULP_DATABASE"].split())


# --- completed task purge -------------------------------------------------------------------


HOUSEKEEPER_SESSION_SQL = """
WITH lock AS (SELECT hashtextextended('pulp:housekeeper', 0) AS key)
SELECT pg_terminate_backend(l.pid) FROM pg_locks l, lock
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = ((lock.key >> 32) & 4294967295)::oid
  AND l.objid = (lock.key & 4294967295)::oid;
"""


def task_status(api, task_id):
    return api.get(f"tasks/{task_id}/").status_code


def test_purge_deletes_only_old_completed(api, managed_stack):
    resource = unique_resource()
    running = diagnostic(api, "sleep", 60, resource=resource)
    wait_state(api, running, {"running"})
    waiting = diagnostic(api, resource=resource)
    canceled = diagnostic(api, resource=resource)
    assert api.delete(f"tasks/{canceled}/").status_code == 200
    failed = diagnostic(api, "fail")
    finished = [diagnostic(api) for _ in range(4)]
    for task_id in [canceled, failed, *finished]:
        wait_task(api, task_id, timeout=30)
    assert get_task(api, waiting)["state"] == "waiting"

    old_completed = [finished[0], finished[1], failed, canceled]
    # Unfinished tasks get an old finish_time too, so that only their state keeps them.
    run_sql(managed_stack,
            "UPDATE tasks SET finish_time = now() - interval '8 days'"
            " WHERE task_id = ANY (:'ids'::uuid[]);",
            ids="{" + ",".join([*old_completed, running, waiting]) + "}")
    run_sql(managed_stack,
            "UPDATE tasks SET finish_time = now() - interval '6 days' WHERE task_id = :'id';",
            id=finished[2])

    # The purge runs every 10 minutes and at once on a new leader, so end the leader's
    # housekeeping session: another worker's session waiting for the lock takes over.
    logs_before = {name: len(managed_stack.log(f"{name}.log")) for name in ("worker-1", "worker-2")}
    terminated = run_sql(managed_stack, HOUSEKEEPER_SESSION_SQL).split()
    assert terminated == ["t"]

    wait_until(lambda: all(task_status(api, task_id) == 404 for task_id in old_completed),
               timeout=10, message="the old completed tasks to be deleted")
    for task_id in old_completed:
        assert task_status(api, task_id) == 404, task_id
    assert get_task(api, finished[2])["state"] == "finished"
    assert get_task(api, finished[3])["state"] == "finished"
    assert get_task(api, running)["state"] == "running"
    assert get_task(api, waiting)["state"] == "waiting"

    new_log = "".join(managed_stack.log(f"{name}.log")[offset:]
                      for name, offset in logs_before.items())
    assert "became leader" in new_log
    assert re.search(rf"deleted \d+ tasks completed more than {MAX_AGE_SECONDS} s ago", new_log)

    assert api.delete(f"tasks/{running}/").status_code == 200
    assert wait_task(api, running, timeout=30)["state"] == "canceled"
    assert wait_task(api, waiting, timeout=30)["state"] == "finished"


# --- missing workers ------------------------------------------------------------------------


def worker_row(stack, name):
    """Return (missing, seconds since the last heartbeat) of a workers row, or None."""
    output = run_sql(stack, "SELECT missing, extract(epoch FROM now() - last_heartbeat)"
                            " FROM workers WHERE name = :'name';", name=name).strip()
    if not output:
        return None
    missing, age = output.split("|")
    return missing == "t", float(age)


def test_long_missing_worker_row_deleted(managed_stack):
    """The leader deletes the row of a worker missing for more than a day, and only that."""
    old = f"gone-{uuid.uuid4().hex[:8]}@test"
    recent = f"recent-{uuid.uuid4().hex[:8]}@test"
    for name, age in ((old, "2 days"), (recent, "1 hour")):
        run_sql(managed_stack, "INSERT INTO workers (name, hostname, pid, concurrency,"
                               " last_heartbeat, missing)"
                               " VALUES (:'name', 'test', 1, 1, now() - :'age'::interval, true);",
                name=name, age=age)
    try:
        wait_until(lambda: worker_row(managed_stack, old) is None, timeout=30,
                   message=f"the deletion of the row of {old}")
        assert worker_row(managed_stack, recent) == (True, pytest.approx(3600, abs=60))
    finally:
        run_sql(managed_stack, "DELETE FROM workers WHERE name IN (:'old', :'recent');",
                old=old, recent=recent)


def test_stopped_worker_missing_then_back(managed_stack, extra_workers):
    # A queue of its own, so that the stopped worker receives no message of other tests.
    paused = extra_workers("paused", "--queue", f"pulp.test.{uuid.uuid4().hex}")
    wait_until(lambda: paused.name in known_workers(managed_stack), timeout=30,
               message=f"{paused.name} in /status/")
    live = stack_workers(managed_stack)
    assert live
    # The leader's session holds the housekeeping lock, so the new worker only waits for it.
    assert "became leader" not in paused.log()

    quiet = f"quiet-{uuid.uuid4().hex[:8]}@test"
    os.kill(paused.pid, signal.SIGSTOP)
    try:
        # The leader checks every 10 s, so the row 15 s behind is at most about 25 s behind
        # when the check that marks the paused worker runs, within the 30 s limit.
        run_sql(managed_stack,
                "UPDATE workers SET last_heartbeat = now() - interval '60 seconds'"
                " WHERE name = :'paused';"
                " INSERT INTO workers (name, hostname, pid, concurrency, last_heartbeat)"
                " VALUES (:'quiet', 'test', 1, 1, now() - interval '15 seconds');",
                paused=paused.name, quiet=quiet)
        wait_until(lambda: paused.name not in known_workers(managed_stack), timeout=20,
                   interval=0.2, message=f"{paused.name} to leave /status/")
        listed = known_workers(managed_stack)
        assert quiet in listed
        assert live <= listed
        # /status/ hides a silent worker at once; the leader marks its row a little later.
        wait_until(lambda: worker_row(managed_stack, paused.name)[0] is True, timeout=20,
                   interval=0.2, message=f"{paused.name} marked missing")
        assert worker_row(managed_stack, quiet)[0] is False
        leader_logs = managed_stack.log("worker-1.log") + managed_stack.log("worker-2.log")
        assert f"worker {paused.name} is missing: no heartbeat for 30 s" in leader_logs
    finally:
        os.kill(paused.pid, signal.SIGCONT)
        run_sql(managed_stack, "DELETE FROM workers WHERE name = :'quiet';", quiet=quiet)

    # Its next heartbeat, at most heartbeat_interval (15 s) after the last, clears the mark.
    wait_until(lambda: paused.name in known_workers(managed_stack), timeout=25,
               interval=0.2, message=f"{paused.name} back in /status/")
    missing, age = worker_row(managed_stack, paused.name)
    assert missing is False
    assert age < 5
    assert paused.stop() == 0
    assert worker_row(managed_stack, paused.name) is None


def test_status_hides_silent_worker_without_leader(managed_stack, stopped_workers):
    """With no worker running, no leader marks rows missing, so /status/ checks the
    heartbeat itself."""
    silent = f"silent-{uuid.uuid4().hex[:8]}@test"
    recent = f"recent-{uuid.uuid4().hex[:8]}@test"
    run_sql(managed_stack,
            "INSERT INTO workers (name, hostname, pid, concurrency, last_heartbeat) VALUES"
            " (:'silent', 'test', 1, 1, now() - interval '40 seconds'),"
            " (:'recent', 'test', 1, 1, now() - interval '5 seconds');",
            silent=silent, recent=recent)
    try:
        listed = known_workers(managed_stack)
        assert silent not in listed
        assert recent in listed
        assert worker_row(managed_stack, silent)[0] is False
    finally:
        run_sql(managed_stack, "DELETE FROM workers WHERE name IN (:'silent', :'recent');",
                silent=silent, recent=recent)


def worker_sessions(stack, name):
    """Return the application names of the database sessions of the named worker."""
    return run_sql(stack, "SELECT application_name FROM pg_stat_activity"
                          " WHERE application_name LIKE 'pulp-worker ' || :'name' || '%';",
                   name=name).splitlines()


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGKILL])
def test_ended_worker_leaves_no_session(managed_stack, extra_workers, signal_number):
    worker = extra_workers("ended", "--queue", f"pulp.test.{uuid.uuid4().hex}")
    # Its housekeeping session waits for the lock that the leader holds.
    wait_until(lambda: f"pulp-worker {worker.name} housekeeping" in
               worker_sessions(managed_stack, worker.name),
               timeout=30, message=f"the sessions of {worker.name}")
    assert "became leader" not in worker.log()

    os.killpg(worker.pid, signal_number)
    worker.process.wait(timeout=60)
    # PostgreSQL checks every 5 s whether the client of a waiting session is gone.
    wait_until(lambda: worker_sessions(managed_stack, worker.name) == [], timeout=15,
               message=f"the sessions of {worker.name} to end")
    # A killed worker cannot delete its own row.
    run_sql(managed_stack, "DELETE FROM workers WHERE name = :'name';", name=worker.name)


# --- start-up with a dependency down --------------------------------------------------------


def test_start_with_broker_down(api, managed_stack, stopped_workers, extra_workers,
                                refused_port):
    broker = f"amqp://127.0.0.1:{refused_port.port}"
    worker = extra_workers("no-broker", "--broker", broker)
    attempts = wait_attempts(
        worker, rf"could not connect to the broker at 127\.0\.0\.1:{refused_port.port}: ")
    check_backoff(attempts)
    assert worker.process.poll() is None

    task_id = diagnostic(api)
    assert get_task(api, task_id)["state"] == "waiting"
    refused_port.relay_to(int(managed_stack.settings["PULP_AMQP_PORT"]))

    report = wait_task(api, task_id, timeout=30)
    assert report["state"] == "finished"
    assert report["worker_name"] == worker.name
    assert re.search(rf"connected to the broker at 127\.0\.0\.1:{refused_port.port}, "
                     r'queue "pulp\.tasks", after \d+ failed attempts', worker.log())
    assert worker.stop() == 0


def test_start_with_database_down(api, managed_stack, stopped_workers, extra_workers,
                                  refused_port):
    parameters = database_parameters(managed_stack)
    # The password goes through the environment rather than the command line.
    password = parameters.pop("password")
    parameters.update(host="127.0.0.1", port=str(refused_port.port))
    conninfo = " ".join(f"{key}={value}" for key, value in parameters.items())
    worker = extra_workers("no-database", "--database", conninfo, env={"PGPASSWORD": password})
    refused = rf"could not connect to the database: .*port {refused_port.port} failed"
    attempts = wait_attempts(worker, refused)
    check_backoff(attempts)
    leader_attempts = retry_delays(log_events(worker.log(), worker.name),
                                   "could not wait for the housekeeping lock: " + refused)
    assert leader_attempts
    assert worker.process.poll() is None
    assert "connected to the broker" in worker.log()

    # Without a database session the worker grants the broker no credit, so the message of a
    # task dispatched meanwhile waits in the queue.
    task_id = diagnostic(api)
    time.sleep(1.5)
    assert get_task(api, task_id)["state"] == "waiting"
    refused_port.relay_to(int(managed_stack.settings["PULP_PG_PORT"]))

    report = wait_task(api, task_id, timeout=30)
    assert report["state"] == "finished"
    assert report["worker_name"] == worker.name
    assert "connected to the database" in worker.log()
    assert worker.stop() == 0
