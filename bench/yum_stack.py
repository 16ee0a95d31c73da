"""Helpers of the yum benchmarks: a private stack started with scripts/stack, a private
httpd that serves the benchmark repository as the upstream feed, API calls, task timing
and the peak memory of the worker's task processes.

Every server listens on 127.0.0.1 only, on ports from PULP_BENCH_PORT_BASE (default 25550):
the stack uses base to base + 16 and the feed server base + 17.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "data"))

from yum_upstream import HttpdFeedServer  # noqa: E402

CHECKOUT = Path(__file__).resolve().parents[1]
PORT_BASE = int(os.environ.get("PULP_BENCH_PORT_BASE", "25550"))
RUN_DIR = Path(os.environ.get("PULP_BENCH_RUN_DIR", f"/var/tmp/pulp-bench-run-{PORT_BASE}"))


def stack_command(*arguments):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PULP_")}
    environment.update({"PULP_RUN_DIR": str(RUN_DIR), "PULP_PORT_BASE": str(PORT_BASE)})
    result = subprocess.run([str(CHECKOUT / "scripts" / "stack"), *arguments], env=environment,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/stack {' '.join(arguments)} failed:\n"
                           f"{result.stdout}{result.stderr}")
    return result


def read_env(path):
    values = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("export "):
            name, value = line[len("export "):].split("=", 1)
            values[name] = value.strip("'")
    return values


class Stack:
    """A fresh private stack: an empty database and store, so a sync downloads everything."""

    def __enter__(self):
        if RUN_DIR.exists():
            stack_command("clean")
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        RUN_DIR.chmod(0o755)
        stack_command("start")
        self.env = read_env(RUN_DIR / "stack.env")
        self.url = self.env["PULP_URL"].rstrip("/")
        self.session = requests.Session()
        self.session.auth = (self.env["PULP_USER"], self.env["PULP_PASSWORD"])
        return self

    def __exit__(self, *exc):
        if os.environ.get("PULP_BENCH_KEEP") == "1":
            print(f"keeping the benchmark stack in {RUN_DIR}")
            return
        stack_command("clean")
        shutil.rmtree(RUN_DIR, ignore_errors=True)

    def api(self, method, path, body=None):
        response = self.session.request(method, f"{self.url}/pulp/api/v2/{path}", json=body,
                                        timeout=60)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def wait(self, call_report, timeout=3600):
        """Poll the first task of a call report every 200 ms; returns its final document.

        The slow poll keeps the benchmark's own requests from taking CPU time from the work
        it measures. run_task reads the end time from the database instead."""
        href = call_report["spawned_tasks"][0]["_href"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.session.get(self.url + href, timeout=60).json()
            if task["state"] in ("finished", "error", "canceled", "skipped"):
                return task
            time.sleep(0.2)
        raise RuntimeError(f"task {href} did not end within {timeout} s")

    def finish_time(self, task_id):
        """Return the task's finish time, in seconds since the epoch, from the database, which
        records it to the microsecond (the API gives whole seconds)."""
        result = subprocess.run(
            ["psql", self.env["PULP_DATABASE"], "-Atq", "-v", f"task_id={task_id}"],
            input="SELECT extract(epoch FROM finish_time) FROM tasks WHERE task_id = :'task_id';",
            capture_output=True, text=True, check=True)
        return float(result.stdout)

    def run_task(self, method, path, body=None):
        """Dispatch a task and wait for it; returns (seconds from request to end, task)."""
        started = time.time()
        task = self.wait(self.api(method, path, body))
        if task["state"] != "finished":
            raise RuntimeError(f"{path} ended {task['state']}: {json.dumps(task['error'])}")
        return self.finish_time(task["task_id"]) - started, task

    def worker_pids(self):
        pids = []
        for pid_file in (RUN_DIR / "pids").glob("worker-*.pid"):
            try:
                pids.append(int(pid_file.read_text().split()[0]))
            except (OSError, ValueError, IndexError):
                pass
        return pids


class FeedServer(HttpdFeedServer):
    """A private httpd serving a directory: the upstream of the sync benchmark."""

    def __init__(self, root, port=PORT_BASE + 17):
        super().__init__(root, port, RUN_DIR.parent / f"pulp-bench-feed-{port}")

    def __enter__(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        shutil.rmtree(self.dir, ignore_errors=True)


def descendants(pid):
    """Return the pids of all processes below pid."""
    children = []
    try:
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            children.append(int(child))
            children += descendants(int(child))
    except OSError:
        pass
    return children


def peak_kib(pid):
    """Return VmHWM (the peak resident set size) of a process in KiB, or 0."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakMemory:
    """Samples the peak RSS of the workers' task processes every 200 ms while active.

    VmHWM is the kernel's high-water mark, so a sample taken after a peak still reports it."""

    def __init__(self, worker_pids):
        self.worker_pids = worker_pids
        self.peak = 0
        self.running = False
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self):
        while self.running:
            for worker in self.worker_pids:
                for pid in [worker] + descendants(worker):
                    self.peak = max(self.peak, peak_kib(pid))
            time.sleep(0.2)

    def __enter__(self):
        self.running = True
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()


def timed(command, **kwargs):
    """Run a command; returns its wall time in seconds."""
    started = time.monotonic()
    subprocess.run(command, check=True, **kwargs)
    return time.monotonic() - started


def ratio(value, reference):
    return value / reference if reference else float("inf")
