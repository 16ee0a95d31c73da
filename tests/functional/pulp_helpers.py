"""Helpers shared by the functional tests: the stack handle, API sessions and task polling."""

import os
import shlex
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

import requests

CHECKOUT = Path(__file__).resolve().parents[2]
STACK_SCRIPT = CHECKOUT / "scripts" / "stack"
API_PREFIX = "/pulp/api/v2/"
# The first port of the test stack when PULP_TEST_PORT_BASE is not set.
DEFAULT_TEST_PORT_BASE = 26800

# Task states after which a task never changes again (Pulp 2's names).
FINAL_TASK_STATES = frozenset({"finished", "error", "canceled", "skipped"})

# Settings of scripts/stack that must not leak from the caller's environment into a stack
# that the tests start themselves, for example after `source run/stack.env`.
STACK_SETTINGS = (
    "PULP_URL", "PULP_USER", "PULP_PASSWORD", "PULP_DATABASE", "PULP_BROKER", "PULP_QUEUE",
    "PULP_STORAGE_DIR", "PULP_RUN_DIR", "PULP_PORT_BASE", "PULP_PG_PORT", "PULP_AMQP_PORT",
    "PULP_HTTP_PORT", "PULP_HTTPS_PORT", "PULP_HTTPS_URL", "PULP_HTTPS_CERT", "PULP_EPMD_PORT",
    "PULP_DIST_PORT", "PULP_PG_SOCKET_DIR", "PULP_WORKER_CONF", "PULP_WORKER_COUNT",
)


def read_stack_env(path):
    """Parse a stack.env file (`export NAME='value'` lines) into a dict."""
    values = {}
    for line in Path(path).read_text().splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            values[name] = value
    return values


class Stack:
    """A running Pulp stack: its URL, admin credentials and, for a private stack, its run
    directory and the scripts/stack commands to manage it.

    https_url and https_cert are the HTTPS port's URL and the path of its self-signed
    certificate, or None for a stack started before scripts/stack served HTTPS."""

    def __init__(self, settings, owned):
        self.settings = dict(settings)
        self.owned = owned
        self.url = settings["PULP_URL"].rstrip("/")
        self.https_url = settings.get("PULP_HTTPS_URL")
        self.https_cert = settings.get("PULP_HTTPS_CERT")
        self.user = settings.get("PULP_USER", "admin")
        self.password = settings.get("PULP_PASSWORD", "")
        run_dir = settings.get("PULP_RUN_DIR")
        self.run_dir = Path(run_dir) if run_dir else None

    @property
    def env(self):
        """Environment for child processes: the caller's, with this stack's settings."""
        environment = {k: v for k, v in os.environ.items() if k not in STACK_SETTINGS}
        environment.update(self.settings)
        return environment

    def run(self, *args, check=True, timeout=300, env=None):
        """Run `scripts/stack ARGS...` for this stack; returns the CompletedProcess.

        With check=True a non-zero exit status fails the test and shows the output."""
        if self.run_dir is None:
            raise RuntimeError("this stack has no run directory: set PULP_RUN_DIR to manage it")
        environment = self.env
        environment.update(env or {})
        result = subprocess.run(
            [str(STACK_SCRIPT), *args], env=environment, cwd=CHECKOUT, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"scripts/stack {' '.join(args)} exited with status {result.returncode}\n"
                f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
            )
        return result

    def start(self, **kwargs):
        return self.run("start", **kwargs)

    def stop(self, *components, **kwargs):
        return self.run("stop", *components, **kwargs)

    def status(self, **kwargs):
        return self.run("status", check=False, **kwargs)

    def pid(self, name):
        """Return the pid in <run dir>/pids/NAME.pid, or None."""
        try:
            return int((self.run_dir / "pids" / f"{name}.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def log(self, name):
        """Return the text of <run dir>/log/NAME, or "" when it does not exist."""
        try:
            return (self.run_dir / "log" / name).read_text(errors="replace")
        except OSError:
            return ""


class ApiSession(requests.Session):
    """A requests session whose relative URLs resolve against the API root.

    "repositories/" means /pulp/api/v2/repositories/, a path starting with "/" (such as a
    task's _href) resolves against the server, and a full URL is used as it is."""

    def __init__(self, base_url, auth=None, timeout=30):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.default_timeout = timeout

    def url_for(self, path):
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith("/"):
            return self.base_url + path
        return urljoin(self.base_url + API_PREFIX, path)

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, self.url_for(url), *args, **kwargs)


def task_href(task):
    """Return the API path of a task given its id, its _href, a task document or a call
    report (the first of its spawned tasks)."""
    if isinstance(task, dict):
        if "spawned_tasks" in task:
            spawned = task["spawned_tasks"]
            if not spawned:
                raise ValueError(f"the call report spawned no task: {task}")
            task = spawned[0]
        if "_href" in task:
            return task["_href"]
        task = task["task_id"]
    if task.startswith("/"):
        return task
    return f"{API_PREFIX}tasks/{task}/"


def wait_task(api, task, timeout=60, interval=0.1):
    """Poll a task until its state is final and return its document.

    `task` is a task id, an _href, a task document or a call report. Fails the test with
    the last document when the task is not final after `timeout` seconds."""
    href = task_href(task)
    deadline = time.monotonic() + timeout
    document = None
    while True:
        response = api.get(href)
        assert response.status_code == 200, (
            f"GET {href} returned {response.status_code}: {response.text[:500]}"
        )
        document = response.json()
        if document.get("state") in FINAL_TASK_STATES:
            return document
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"task {href} is still {document.get('state')!r} after {timeout} s: {document}"
            )
        time.sleep(interval)


def wait_until(condition, timeout=30, interval=0.1, message="condition"):
    """Call `condition` until it returns a true value and return that value; fails the test
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def task_process(task_id):
    """Return the pid of the process that runs the task (its title names the task), or
    None."""
    marker = f"pulp-worker: task {task_id}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "cmdline").read_bytes().startswith(marker):
                return int(entry.name)
        except OSError:
            continue
    return None


def run_sql(stack, sql, **variables):
    """Run `sql` with psql on the stack's database, as another host or a worker would, and
    return its unaligned output. Each keyword becomes a psql variable, quoted in the
    statement as :'name'."""
    arguments = ["psql", stack.settings["PULP_DATABASE"], "-Atq", "-v", "ON_ERROR_STOP=1"]
    for name, value in variables.items():
        arguments += ["-v", f"{name}={value}"]
    # psql interpolates variables only in statements read from its input.
    result = subprocess.run(arguments, input=sql + "\n", capture_output=True, text=True,
                            check=True, timeout=30)
    return result.stdout
