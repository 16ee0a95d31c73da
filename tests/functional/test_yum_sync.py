"""yum_importer syncs through the API: units, history, progress, auto-publish, unchanged
feeds, remove_missing, retain_old_count, skipped types, and concurrent syncs that share
their packages. The upstream is built from the spec files in tests/data/specs."""

import hashlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from pulp_helpers import wait_task  # noqa: E402
from yum_testing import (  # noqa: E402
    CREATED,
    create_repo,
    start_sync,
    sync,
    unique_id,
    unit_counts,
)
from yum_upstream import TEST_RPMS, TEST_SRPMS, make_repo, make_test_repo, serve  # noqa: E402

FULL_COUNTS = {
    "rpm": len(TEST_RPMS),
    "srpm": len(TEST_SRPMS),
    "erratum": 2,
    "package_group": 2,
    "package_category": 1,
    "package_environment": 1,
    "yum_repo_metadata_file": 1,
}


@pytest.fixture(scope="module")
def feed_dir(tmp_path_factory):
    return make_test_repo(tmp_path_factory.mktemp("yum-sync") / "feed")


@pytest.fixture(scope="module")
def feed(feed_dir):
    with serve(feed_dir) as server:
        yield server


@pytest.fixture(scope="module")
def synced(api, feed):
    """A repository synced once from the full feed: (repo id, sync task, spawned tasks)."""
    repo_id = unique_id("sync")
    create_repo(api, repo_id, feed.url)
    task, spawned = sync(api, repo_id)
    return repo_id, task, spawned


def test_sync_finishes(synced):
    _, task, _ = synced
    assert task["state"] == "finished", task["error"]


def test_sync_creates_units(api, synced):
    repo_id, _, _ = synced
    assert unit_counts(api, repo_id) == FULL_COUNTS


def test_sync_result_counts(synced):
    _, task, _ = synced
    assert task["result"]["result"] == "success"
    assert task["result"]["added_count"] == sum(FULL_COUNTS.values())
    assert task["result"]["removed_count"] == 0


def test_sync_progress_report(synced):
    _, task, _ = synced
    report = task["progress_report"]["yum_importer"]
    assert report["metadata"]["state"] == "FINISHED"
    assert report["content"]["state"] == "FINISHED"
    assert report["content"]["items_total"] == len(TEST_RPMS) + len(TEST_SRPMS)
    assert report["content"]["items_left"] == 0
    assert report["content"]["size_left"] == 0
    assert report["errata"]["state"] == "FINISHED"
    assert report["comps"]["state"] == "FINISHED"


def test_sync_history(api, synced):
    repo_id, task, _ = synced
    response = api.get(f"repositories/{repo_id}/history/sync/")
    assert response.status_code == 200
    history = response.json()
    assert len(history) == 1
    assert history[0]["result"] == "success"
    assert history[0]["added_count"] == task["result"]["added_count"]


def test_sync_sets_last_sync(api, synced):
    repo_id, _, _ = synced
    response = api.get(f"repositories/{repo_id}/", params={"importers": "true"})
    assert response.json()["importers"][0]["last_sync"]


def test_sync_spawns_auto_publish(synced):
    _, task, spawned = synced
    assert len(task["spawned_tasks"]) == 1
    assert spawned[0]["task_type"] == "pulp.server.managers.repo.publish.publish"
    assert spawned[0]["state"] == "finished", spawned[0]["error"]


def test_unchanged_feed_resync(api, synced):
    repo_id, _, _ = synced
    started = time.monotonic()
    task, _ = sync(api, repo_id)
    elapsed = time.monotonic() - started
    assert task["state"] == "finished", task["error"]
    assert task["result"]["details"]["unchanged"] is True
    assert task["result"]["added_count"] == 0
    assert elapsed < 10
    assert unit_counts(api, repo_id) == FULL_COUNTS


def test_changed_override_resyncs(api, synced):
    repo_id, _, _ = synced
    task, _ = sync(api, repo_id, override_config={"remove_missing": True})
    assert task["state"] == "finished", task["error"]
    assert task["result"]["details"]["unchanged"] is False
    assert unit_counts(api, repo_id) == FULL_COUNTS


def test_type_skip_list(api, feed):
    repo_id = unique_id("skip")
    create_repo(api, repo_id, feed.url,
                importer_config={"type_skip_list": ["erratum", "srpm", "package_group"]})
    task, _ = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    counts = unit_counts(api, repo_id)
    assert counts.get("rpm") == len(TEST_RPMS)
    assert "srpm" not in counts
    assert "erratum" not in counts
    assert "package_group" not in counts
    assert counts.get("package_category") == 1


def test_skip_alias(api, feed):
    repo_id = unique_id("skip-alias")
    create_repo(api, repo_id, feed.url, importer_config={"skip": ["rpm"]})
    task, _ = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    counts = unit_counts(api, repo_id)
    assert "rpm" not in counts
    assert counts.get("srpm") == len(TEST_SRPMS)


def test_remove_missing(api, feed_dir, tmp_path):
    smaller = make_repo(tmp_path / "smaller",
                        [p for p in (feed_dir / "Packages").glob("*.rpm")
                         if not p.name.startswith("numbat")])
    repo_id = unique_id("remove")
    with serve(feed_dir) as full, serve(smaller) as partial:
        create_repo(api, repo_id, full.url, importer_config={"remove_missing": True})
        first, _ = sync(api, repo_id)
        assert first["state"] == "finished", first["error"]
        second, _ = sync(api, repo_id, override_config={"feed": partial.url})
    assert second["state"] == "finished", second["error"]
    counts = unit_counts(api, repo_id)
    # numbat, numbat-doc and numbat's source package are gone; so are the errata, comps and
    # productid, which the smaller feed does not list.
    assert counts.get("rpm") == len(TEST_RPMS) - 2
    assert counts.get("srpm") == len(TEST_SRPMS) - 1
    assert "erratum" not in counts
    assert "package_group" not in counts
    assert second["result"]["removed_count"] == 3 + 2 + 4 + 1


def test_without_remove_missing_keeps_units(api, feed_dir, tmp_path):
    smaller = make_repo(tmp_path / "smaller",
                        [p for p in (feed_dir / "Packages").glob("okapi*.rpm")])
    repo_id = unique_id("keep")
    with serve(feed_dir) as full, serve(smaller) as partial:
        create_repo(api, repo_id, full.url)
        sync(api, repo_id)
        task, _ = sync(api, repo_id, override_config={"feed": partial.url})
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id) == FULL_COUNTS


def test_retain_old_count(api, feed):
    repo_id = unique_id("retain")
    create_repo(api, repo_id, feed.url, importer_config={"retain_old_count": 0})
    task, _ = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    counts = unit_counts(api, repo_id)
    # quokka 1.0 goes, as binary and as source package; quokka 1.1 stays.
    assert counts["rpm"] == len(TEST_RPMS) - 1
    assert counts["srpm"] == len(TEST_SRPMS) - 1


def test_invalid_sync_override_named(api, feed):
    repo_id = unique_id("bad-override")
    create_repo(api, repo_id, feed.url)
    response = api.post(f"repositories/{repo_id}/actions/sync/",
                        json={"override_config": {"validate": "yes"}})
    assert response.status_code == 400, response.text
    assert response.json()["error_message"].startswith("invalid override_config: ")
    assert response.json()["property_names"] == ["validate"]


def test_feed_required(api):
    repo_id = unique_id("no-feed")
    CREATED.append(repo_id)
    response = api.post("repositories/", json={
        "id": repo_id, "importer_type_id": "yum_importer", "importer_config": {}})
    assert response.status_code == 201, response.text
    task = wait_task(api, start_sync(api, repo_id))
    assert task["state"] == "error"
    assert "no feed" in task["error"]["description"]


def test_concurrent_syncs_share_units(api, stack, tmp_path):
    """Two repositories sync the same new packages at the same moment: both succeed and the
    store keeps one unit of each package."""
    feed_dir = make_test_repo(tmp_path / "shared-feed")
    first = unique_id("concurrent-a")
    second = unique_id("concurrent-b")
    results = {}
    with serve(feed_dir) as server:
        create_repo(api, first, server.url, auto_publish=False)
        create_repo(api, second, server.url, auto_publish=False)

        def run(repo_id):
            results[repo_id] = sync(api, repo_id)[0]

        threads = [threading.Thread(target=run, args=(repo_id,)) for repo_id in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results[first]["state"] == "finished", results[first]["error"]
    assert results[second]["state"] == "finished", results[second]["error"]
    assert unit_counts(api, first) == FULL_COUNTS
    assert unit_counts(api, second) == FULL_COUNTS

    database = stack.settings.get("PULP_DATABASE")
    if not database:
        return
    digest = hashlib.sha256((feed_dir / "Packages" / "tapir-2.0-1.noarch.rpm").read_bytes())
    query = "SELECT count(*) FROM units WHERE type_id = 'rpm' AND unit_key->>'checksum' = :'sum'"
    count = subprocess.run(["psql", "-At", "-d", database, "-v", f"sum={digest.hexdigest()}"],
                           input=query, capture_output=True, text=True, check=True).stdout.strip()
    assert count == "1"
