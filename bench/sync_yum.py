#!/usr/bin/python3
"""Benchmark of yum_importer: a full sync of the benchmark repository over loopback.

The reference is a raw parallel download of the same files with the same concurrency (curl
--parallel). The script also measures an unchanged resync and the peak resident memory of
the worker's task processes.

Each round empties the store (TRUNCATE of the units, removal of the files) so that the sync
downloads everything again, and the minimum of the rounds is reported, which is the figure
least disturbed by other load on the machine. Starts a fresh private stack (scripts/stack, ports from PULP_BENCH_PORT_BASE, default
25550) and a private httpd that serves the repository, and removes both at the end.

Usage: bench/sync_yum.py [--count N] [--max-downloads M]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from yum_repo import ensure_repo  # noqa: E402
from yum_stack import FeedServer, PeakMemory, Stack, ratio, timed  # noqa: E402


# ext4 allocates inodes slowly while many inodes were freed in the last 30 s or so (its
# "recently deleted" check), which would slow whichever side runs after a deletion. Files of
# a round are therefore moved aside and deleted at the end, after a pause that outlasts it.
SETTLE_SECONDS = 40


def raw_download(feed, names, parallel, scratch):
    """Download every package with curl --parallel into a new folder of scratch; returns the
    wall time in seconds."""
    target = Path(tempfile.mkdtemp(prefix="curl-", dir=scratch))
    config = target / "urls.cfg"
    with config.open("w") as out:
        for name in names:
            out.write(f'url = "{feed.url}Packages/{name}"\noutput = "{target}/{name}"\n')
    return timed(["curl", "--silent", "--no-progress-meter", "--fail", "--parallel",
                  "--parallel-max", str(parallel), "--config", str(config)])


def empty_store(stack, scratch):
    """Remove every unit and association and move the stored files into scratch, so that the
    next sync downloads everything again."""
    subprocess.run(["psql", "-q", "-d", stack.env["PULP_DATABASE"], "-c",
                    "TRUNCATE units, repositories CASCADE"], check=True, capture_output=True)
    content = Path(stack.env["PULP_STORAGE_DIR"]) / "content"
    if content.exists():
        content.rename(Path(tempfile.mkdtemp(prefix="store-", dir=scratch)) / "content")


def sync_round(stack, feed, max_downloads, scratch):
    """One full sync into an empty store, then an unchanged resync; returns both times, the
    peak memory and the first sync's task."""
    empty_store(stack, scratch)
    stack.api("POST", "repositories/", {
        "id": "bench", "importer_type_id": "yum_importer",
        "importer_config": {"feed": feed.url, "max_downloads": max_downloads},
    })
    with PeakMemory(stack.worker_pids()) as memory:
        full, task = stack.run_task("POST", "repositories/bench/actions/sync/", {})
    resync, again = stack.run_task("POST", "repositories/bench/actions/sync/", {})
    assert again["result"]["details"]["unchanged"], "the resync did not see an unchanged feed"
    return full, resync, memory.peak, task


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="packages in the repository")
    parser.add_argument("--max-downloads", type=int, default=5,
                        help="parallel downloads of both the sync and curl (default 5)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of each measurement; the minimum is reported (default 3)")
    arguments = parser.parse_args()

    repo_dir = ensure_repo(arguments.count)
    names = sorted(path.name for path in (repo_dir / "Packages").glob("*.rpm"))
    raw_times, full_times, resync_times, peaks = [], [], [], []

    with FeedServer(repo_dir) as feed, Stack() as stack:
        # On the storage filesystem, like the store, so both sides create files alike.
        scratch = Path(tempfile.mkdtemp(prefix="pulp-bench-scratch-",
                                        dir=Path(stack.env["PULP_STORAGE_DIR"]).parent))
        time.sleep(SETTLE_SECONDS)
        try:
            for _ in range(arguments.rounds):
                raw_times.append(raw_download(feed, names, arguments.max_downloads, scratch))
                full, resync, peak, task = sync_round(stack, feed, arguments.max_downloads,
                                                      scratch)
                full_times.append(full)
                resync_times.append(resync)
                peaks.append(peak)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    raw, full, resync = min(raw_times), min(full_times), min(resync_times)
    downloaded = task["result"]["details"]["packages_downloaded"]
    print(f"packages: {len(names)} ({downloaded} downloaded by each sync), "
          f"parallel downloads: {arguments.max_downloads}, rounds: {arguments.rounds}")
    print("raw parallel download (curl --parallel): "
          + ", ".join(f"{t:.2f}" for t in raw_times) + f" s; min {raw:.2f} s")
    print("full sync through the API:              "
          + ", ".join(f"{t:.2f}" for t in full_times) + f" s; min {full:.2f} s")
    print(f"ratio of the minimums: {ratio(full, raw):.2f} (target <= 1.2)")
    print(f"unchanged resync: min {resync:.2f} s (target <= 1 s)")
    print(f"worker peak RSS during the full syncs: {max(peaks) / 1024:.1f} MiB "
          f"(target <= 150 MB)")


if __name__ == "__main__":
    main()
