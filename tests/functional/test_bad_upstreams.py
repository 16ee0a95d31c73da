"""Syncs from upstreams that misbehave.

Each failure ends the task with an error that names the URL and the reason, and leaves the
repository as it was before the sync. The slow but steady upstream and the redirect succeed.
Every feed is made by the test and served by the FeedServer of tests/data/yum_upstream.py on
loopback."""

import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from pulp_helpers import wait_task, wait_until  # noqa: E402
from yum_testing import (  # noqa: E402
    assert_unchanged,
    baseline_repo,
    failed_sync,
    start_sync,
    sync,
    unit_counts,
)
from yum_upstream import Fault, FeedServer, make_repo, make_test_repo, rewrite_metadata, serve  # noqa: E402

TAPIR = "/Packages/tapir-2.0-1.noarch.rpm"
# Short timeouts and no retries, so that each failure shows within seconds.
FAST_FAIL = {"read_timeout": 2, "retries": 0}


@pytest.fixture
def feed_dir(tmp_path):
    """A feed of freshly built packages: no earlier sync stored them, so the sync must
    download each one from the misbehaving server."""
    return make_test_repo(tmp_path / "upstream")


@pytest.fixture
def base_dir(feed_dir, tmp_path):
    """A smaller feed that every repository is synced from first."""
    return make_repo(tmp_path / "base", [feed_dir / "Packages" / "okapi-1.0-1.noarch.rpm"])


@pytest.fixture
def feed(feed_dir):
    server = FeedServer(feed_dir).start()
    yield server
    server.stop()


@pytest.fixture
def repo(api, stack, base_dir):
    """A repository synced and published from the small feed (see baseline_repo)."""
    with serve(base_dir) as base:
        return baseline_repo(api, stack, base.url, FAST_FAIL)


def test_package_not_found(api, repo, feed):
    feed.faults[TAPIR] = Fault("status", 404)
    message = failed_sync(api, repo[0], feed.url)
    assert f"{feed.url.rstrip('/')}{TAPIR}" in message
    assert "HTTP status 404" in message
    assert_unchanged(api, repo)


def test_feed_without_repodata(api, repo, feed):
    """A feed URL one level off gives a 404 for repomd.xml and an error naming what the feed
    must be."""
    message = failed_sync(api, repo[0], feed.url + "Packages/")
    assert "repodata/repomd.xml" in message
    assert "HTTP status 404" in message
    assert "the directory that contains repodata/" in message
    assert_unchanged(api, repo)


def test_server_error_retried(api, repo, feed):
    feed.faults[TAPIR] = Fault("status", 503)
    message = failed_sync(api, repo[0], feed.url, retries=2)
    assert "HTTP status 503" in message
    assert "after 3 attempts" in message
    assert len(feed.requested(TAPIR)) == 3
    assert_unchanged(api, repo)


def test_stall_times_out(api, repo, feed):
    feed.faults[TAPIR] = Fault("stall")
    started = time.monotonic()
    message = failed_sync(api, repo[0], feed.url)
    assert TAPIR in message
    assert "timed out: no data received for 2 s" in message
    assert time.monotonic() - started < 30
    assert_unchanged(api, repo)


def test_early_close(api, repo, feed):
    feed.faults[TAPIR] = Fault("close")
    message = failed_sync(api, repo[0], feed.url, retries=1)
    assert TAPIR in message
    assert "remaining to read" in message
    assert len(feed.requested(TAPIR)) == 2
    assert_unchanged(api, repo)


def test_slow_trickle_succeeds(api, repo, feed):
    feed.faults[TAPIR] = Fault("trickle", 512)
    task, spawned = sync(api, repo[0], override_config={"feed": feed.url})
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo[0])["rpm"] == 6


def test_checksum_mismatch(api, repo, feed):
    feed.faults[TAPIR] = Fault("corrupt")
    message = failed_sync(api, repo[0], feed.url)
    assert TAPIR in message
    assert "checksum mismatch" in message
    assert_unchanged(api, repo)


def test_corrupt_package_kept_without_validation(api, repo, feed):
    """With validate off, a package is checked against its size only, as in Pulp 2."""
    feed.faults[TAPIR] = Fault("corrupt")
    task, _ = sync(api, repo[0], override_config={"feed": feed.url, "validate": False})
    assert task["state"] == "finished", task["error"]
    assert feed.requested(TAPIR)
    assert unit_counts(api, repo[0]).get("rpm", 0) > repo[1].get("rpm", 0)


def test_truncated_package_rejected_without_validation(api, repo, feed):
    """validate off still rejects a package of the wrong size."""
    feed.faults[TAPIR] = Fault("truncate")
    message = failed_sync(api, repo[0], feed.url, validate=False)
    assert TAPIR in message
    assert "size" in message
    assert_unchanged(api, repo)


def test_missing_metadata_file(api, repo, feed_dir, tmp_path):
    broken = tmp_path / "feed"
    shutil.copytree(feed_dir, broken)
    updateinfo = next((broken / "repodata").glob("*-updateinfo.xml.gz"))
    updateinfo.unlink()
    with serve(broken) as server:
        message = failed_sync(api, repo[0], server.url)
    assert updateinfo.name in message
    assert "HTTP status 404" in message
    assert_unchanged(api, repo)


@pytest.mark.parametrize("location", ["../../../escape.rpm", "/etc/passwd"])
def test_location_outside_feed(api, stack, repo, feed_dir, tmp_path, location):
    broken = tmp_path / "feed"
    shutil.copytree(feed_dir, broken)
    rewrite_metadata(broken, "primary", lambda text: text.replace(
        'href="Packages/tapir-2.0-1.noarch.rpm"', f'href="{location}"'))
    with serve(broken) as server:
        message = failed_sync(api, repo[0], server.url)
        requested = [path for path, _ in server.requests]
    assert "invalid package location in primary.xml" in message
    assert location in message
    assert not any("escape" in path or "passwd" in path for path in requested)
    storage = stack.settings.get("PULP_STORAGE_DIR")
    if storage:
        assert not (Path(storage).parent / "escape.rpm").exists()
    assert_unchanged(api, repo)


def test_redirect_to_other_host_drops_credentials(api, repo, feed_dir):
    """A redirect to another host is followed, but the feed's basic auth credentials are
    never sent there."""
    with serve(feed_dir, host="127.0.0.2") as other, serve(feed_dir) as server:
        server.faults[TAPIR] = Fault("redirect", other.url.rstrip("/") + TAPIR)
        task, _ = sync(api, repo[0], override_config={
            "feed": server.url, "basic_auth_username": "alice",
            "basic_auth_password": "secret"})
        to_feed = server.requested("/repodata/repomd.xml")
        to_other = other.requested(TAPIR)
    assert task["state"] == "finished", task["error"]
    assert "Authorization" in to_feed[0]
    assert len(to_other) == 1
    assert "Authorization" not in to_other[0]


def test_canceled_sync_leaves_repository(api, repo, feed):
    feed.faults[TAPIR] = Fault("trickle", 64)
    task = start_sync(api, repo[0], {"feed": feed.url})
    href = task["spawned_tasks"][0]["_href"]
    wait_until(lambda: api.get(href).json()["state"] == "running", message="a running sync")
    wait_until(lambda: feed.requested(TAPIR), message="the download of tapir")
    assert api.delete(href).status_code == 200
    final = wait_task(api, href)
    assert final["state"] == "canceled"
    assert final["spawned_tasks"] == []
    assert_unchanged(api, repo)


def test_failed_sync_recorded_in_history(api, repo, feed):
    feed.faults[TAPIR] = Fault("status", 404)
    failed_sync(api, repo[0], feed.url)
    history = api.get(f"repositories/{repo[0]}/history/sync/").json()
    assert history[0]["result"] == "error"
    assert "HTTP status 404" in history[0]["error_message"]


def test_progress_reported_while_running(api, repo, feed):
    """A slow download leaves time to see the content step in progress, with packages left."""
    feed.faults[TAPIR] = Fault("trickle", 256)
    href = start_sync(api, repo[0], {"feed": feed.url})["spawned_tasks"][0]["_href"]

    # The totals grow while primary is parsed, so the first report of the step may be empty.
    def content_in_progress():
        task = api.get(href).json()
        content = task["progress_report"].get("yum_importer", {}).get("content", {})
        counted = content.get("items_total", 0) > 0
        return content if content.get("state") == "IN_PROGRESS" and counted else None

    content = wait_until(content_in_progress, message="the content step in progress")
    assert content["items_left"] > 0
    assert content["size_left"] > 0
    final = wait_task(api, href)
    assert final["state"] == "finished", final["error"]
    assert final["progress_report"]["yum_importer"]["content"]["items_left"] == 0
