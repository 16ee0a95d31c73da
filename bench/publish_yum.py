#!/usr/bin/python3
"""Benchmark of yum_distributor: publish of the benchmark repository, against createrepo_c
run over the same package files from scratch and with --update, measured in the same run.

createrepo_c writes sqlite databases unless given --no-database, and the distributor only
when generate_sqlite is set, so both pairs are measured: without databases (the
distributor's default) and with them.

Starts a fresh private stack (scripts/stack, ports from PULP_BENCH_PORT_BASE, default
25550) and a private httpd that serves the repository for the sync that fills it, and
removes both at the end.

Usage: bench/publish_yum.py [--count N]
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from yum_repo import ensure_repo  # noqa: E402
from yum_stack import FeedServer, Stack, ratio, timed  # noqa: E402


def createrepo(repo_dir, output_dir, *options):
    return timed(["createrepo_c", "--quiet", *options, "--outputdir", str(output_dir),
                  str(repo_dir)])


def measure_createrepo(repo_dir, database):
    """Returns (from scratch, --update) wall times in seconds."""
    output = Path(tempfile.mkdtemp(prefix="pulp-bench-createrepo-", dir="/var/tmp"))
    options = [] if database else ["--no-database"]
    try:
        scratch = createrepo(repo_dir, output, *options)
        update = createrepo(repo_dir, output, "--update", *options)
    finally:
        shutil.rmtree(output, ignore_errors=True)
    return scratch, update


def add_distributor(stack, distributor_id, generate_sqlite):
    stack.api("POST", "repositories/bench/distributors/", {
        "distributor_type_id": "yum_distributor", "distributor_id": distributor_id,
        "distributor_config": {"relative_url": f"bench/{distributor_id}", "http": True,
                               "https": False, "generate_sqlite": generate_sqlite},
    })


def publish(stack, distributor_id):
    elapsed, task = stack.run_task("POST", "repositories/bench/actions/publish/",
                                   {"id": distributor_id})
    return elapsed, task["result"]["details"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="packages in the repository")
    arguments = parser.parse_args()

    repo_dir = ensure_repo(arguments.count)
    with FeedServer(repo_dir) as feed, Stack() as stack:
        stack.api("POST", "repositories/", {
            "id": "bench", "importer_type_id": "yum_importer",
            "importer_config": {"feed": feed.url},
        })
        stack.run_task("POST", "repositories/bench/actions/sync/", {})
        add_distributor(stack, "plain", False)
        add_distributor(stack, "sqlite", True)

        plain, details = publish(stack, "plain")
        unchanged, again = publish(stack, "plain")
        with_sqlite, _ = publish(stack, "sqlite")
        scratch, update = measure_createrepo(repo_dir, database=False)
        scratch_db, update_db = measure_createrepo(repo_dir, database=True)

    print(f"packages published: {details['packages']}")
    print("without sqlite databases:")
    print(f"  createrepo_c --no-database, from scratch: {scratch:.2f} s")
    print(f"  createrepo_c --no-database --update:      {update:.2f} s")
    print(f"  publish:                                  {plain:.2f} s  "
          f"ratio {ratio(plain, scratch):.2f} to scratch (target <= 0.5), "
          f"{ratio(plain, update):.2f} to --update (target <= 1.0)")
    print("with sqlite databases:")
    print(f"  createrepo_c, from scratch:               {scratch_db:.2f} s")
    print(f"  createrepo_c --update:                    {update_db:.2f} s")
    print(f"  publish with generate_sqlite:             {with_sqlite:.2f} s  "
          f"ratio {ratio(with_sqlite, scratch_db):.2f} to scratch, "
          f"{ratio(with_sqlite, update_db):.2f} to --update")
    print(f"unchanged republish:                        {unchanged:.2f} s "
          f"(unchanged={again['unchanged']})")


if __name__ == "__main__":
    main()
