#!/usr/bin/python3
"""Dispatch-to-start latency with idle workers: the time from a task's INSERT (its "created")
to its claim (its "start_time"), both taken by PostgreSQL, for no-op tasks dispatched one at
a time through the API, each after the previous one finished.

The reference, measured in the same run, is one round of bench/raw_task_loop.c: one SQL
transaction, one durable AMQP send confirmed by the broker and one receive, the least a task
must go through between its INSERT and its start.

Usage: bench/tasks_latency.py   (uses the stack of $PULP_RUN_DIR, default run/ in the checkout)
Settings: BENCH_SAMPLES (default 200). Needs psql and gcc.
"""

import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

CHECKOUT = Path(__file__).resolve().parents[1]


def read_stack_env(path):
    values = {}
    for line in Path(path).read_text().splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            values[name] = value
    return values


def raw_round_ms(env, work_dir):
    """Build and run the raw loop; return its mean round time in milliseconds."""
    binary = Path(work_dir) / "raw_task_loop"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libpq", "json-c",
                            "libqpid-proton"], capture_output=True, text=True,
                           check=True).stdout.split()
    sources = ["bench/raw_task_loop.c", "amqp/pulp_amqp.c", "common/pulp_backoff.c",
               "common/pulp_log.c", "common/pulp_uuid.c", "common/pulp_error.c",
               "common/pulp_db.c"]
    subprocess.run(["gcc", "-std=gnu11", "-O2", "-D_GNU_SOURCE", "-I.", "-Icommon", "-o",
                    str(binary), *sources, *flags], cwd=CHECKOUT, check=True)
    output = subprocess.run([str(binary), env["PULP_DATABASE"], env["PULP_BROKER"],
                             "pulp.bench.raw", "500"], capture_output=True, text=True,
                            check=True).stdout
    parts = dict(re.findall(r"(\w+)=([0-9.]+)", output))
    return sum(float(parts[key]) for key in ("sql_ms", "send_ms", "receive_ms")), output.strip()


def dispatch_and_wait(session, api):
    response = session.post(f"{api}/diagnostics/tasks/", json={"action": "noop"})
    response.raise_for_status()
    task_id = response.json()["spawned_tasks"][0]["task_id"]
    deadline = time.monotonic() + 30
    while session.get(f"{api}/tasks/{task_id}/").json()["state"] not in ("finished", "error"):
        if time.monotonic() > deadline:
            sys.exit(f"bench/tasks_latency.py: task {task_id} did not finish in 30 s")
        time.sleep(0.005)
    return task_id


def latencies_ms(env, task_ids):
    query = ("SELECT extract(epoch FROM start_time - created) * 1000 FROM tasks"
             " WHERE task_id = ANY (:'ids'::uuid[]);\n")
    output = subprocess.run(
        ["psql", env["PULP_DATABASE"], "-Atq", "-v", "ids={" + ",".join(task_ids) + "}"],
        input=query, capture_output=True, text=True, check=True).stdout
    return sorted(float(line) for line in output.split())


def main():
    run_dir = Path(os.environ.get("PULP_RUN_DIR", CHECKOUT / "run"))
    if not (run_dir / "stack.env").is_file():
        sys.exit(f"bench/tasks_latency.py: no stack in {run_dir}: run scripts/stack start")
    env = read_stack_env(run_dir / "stack.env")
    samples = int(os.environ.get("BENCH_SAMPLES", "200"))
    api = env["PULP_URL"].rstrip("/") + "/pulp/api/v2"

    with tempfile.TemporaryDirectory() as work_dir:
        raw_ms, raw_line = raw_round_ms(env, work_dir)

    with requests.Session() as session:
        session.auth = (env["PULP_USER"], env["PULP_PASSWORD"])
        for _ in range(10):
            dispatch_and_wait(session, api)
        task_ids = [dispatch_and_wait(session, api) for _ in range(samples)]

    values = latencies_ms(env, task_ids)
    median = statistics.median(values)
    p90 = values[int(len(values) * 0.9) - 1]
    print(f"dispatch-to-start latency over {len(values)} tasks: median {median:.2f} ms,"
          f" p90 {p90:.2f} ms, max {values[-1]:.2f} ms")
    print(f"reference raw loop round ({raw_line}): {raw_ms:.2f} ms")
    print(f"ratio median/raw round: {median / raw_ms:.3f}")


if __name__ == "__main__":
    main()
