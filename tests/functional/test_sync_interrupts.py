"""Yum syncs that are interrupted or fed hostile metadata.

A sync that is killed, canceled or fails leaves the repository as it was and nothing in
<storage>/tmp, and the next sync stores each file once. Feeds are built by the tests and
served on loopback by the FeedServer of tests/data/yum_upstream.py."""

import gzip
import hashlib
import os
import re
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from pulp_helpers import task_process, wait_task, wait_until  # noqa: E402
from yum_testing import (  # noqa: E402
    assert_unchanged,
    baseline_repo,
    delete_created,
    failed_sync,
    start_sync,
    sync,
    unit_counts,
)
from yum_upstream import Fault, FeedServer, make_repo, make_test_repo, serve  # noqa: E402

TAPIR = "/Packages/tapir-2.0-1.noarch.rpm"


@pytest.fixture(scope="module", autouse=True)
def delete_repositories(api):
    """Deletes the repositories that the module's tests created."""
    yield
    delete_created(api)


@pytest.fixture
def feed_dir(tmp_path):
    """A feed of freshly built packages, so that the sync must download each one."""
    return make_test_repo(tmp_path / "upstream")


@pytest.fixture
def feed(feed_dir):
    server = FeedServer(feed_dir).start()
    yield server
    server.stop()


@pytest.fixture
def repo(api, stack, feed_dir, tmp_path):
    """A repository synced and published from a one-package feed."""
    base = make_repo(tmp_path / "base", [feed_dir / "Packages" / "okapi-1.0-1.noarch.rpm"])
    with serve(base) as server:
        return baseline_repo(api, stack, server.url)


def storage_dir(stack):
    return Path(stack.settings["PULP_STORAGE_DIR"])


def temporary_entries(stack):
    """Return the set of names in <storage>/tmp."""
    tmp = storage_dir(stack) / "tmp"
    return set(os.listdir(tmp)) if tmp.is_dir() else set()


def stored_copies(stack, package):
    """Return the store paths of the files with the content of the package file."""
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    return sorted((storage_dir(stack) / "content").glob(f"*/*/{digest}-*"))


def start_slow_sync(api, repo_id, feed):
    """Start a sync whose download of tapir trickles; returns the task's _href once the
    download has started."""
    feed.faults[TAPIR] = Fault("trickle", 64)
    href = start_sync(api, repo_id, {"feed": feed.url})["spawned_tasks"][0]["_href"]
    wait_until(lambda: api.get(href).json()["state"] == "running", message="a running sync")
    wait_until(lambda: feed.requested(TAPIR), message="the download of tapir")
    return href


def assert_resync_stores_once(api, stack, repo_id, feed, feed_dir):
    feed.faults.clear()
    task, spawned = sync(api, repo_id, override_config={"feed": feed.url})
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id)["rpm"] == 6
    for package in sorted((feed_dir / "Packages").glob("*.rpm")):
        assert len(stored_copies(stack, package)) == 1, package.name


def test_killed_sync_leaves_no_temporary_files(api, stack, repo, feed, feed_dir):
    before = temporary_entries(stack)
    href = start_slow_sync(api, repo[0], feed)
    os.kill(task_process(href.rstrip("/").split("/")[-1]), signal.SIGKILL)
    final = wait_task(api, href)
    assert final["state"] == "error"
    assert "killed by signal 9" in final["error"]["description"]
    assert temporary_entries(stack) - before == set()
    assert_unchanged(api, repo)
    assert_resync_stores_once(api, stack, repo[0], feed, feed_dir)


def test_canceled_sync_leaves_no_temporary_files(api, stack, repo, feed, feed_dir):
    before = temporary_entries(stack)
    href = start_slow_sync(api, repo[0], feed)
    assert api.delete(href).status_code == 200
    final = wait_task(api, href)
    assert final["state"] == "canceled"
    assert temporary_entries(stack) - before == set()
    assert_unchanged(api, repo)
    assert_resync_stores_once(api, stack, repo[0], feed, feed_dir)


def replace_metadata(repo_dir, mdtype, data):
    """Replace the file of one metadata type by data, with matching checksums and sizes in
    repomd.xml, so that only its content is wrong."""
    repomd_path = repo_dir / "repodata" / "repomd.xml"
    repomd = repomd_path.read_text()
    block = re.search(r'<data type="%s">.*?</data>' % re.escape(mdtype), repomd, re.S).group(0)
    href = re.search(r'<location href="([^"]+)"', block).group(1)
    (repo_dir / href).write_bytes(data)
    new_block = re.sub(r'(<checksum type="sha256">)[0-9a-f]+',
                       r"\g<1>" + hashlib.sha256(data).hexdigest(), block)
    new_block = re.sub(r"<size>\d+</size>", f"<size>{len(data)}</size>", new_block)
    repomd_path.write_text(repomd.replace(block, new_block))
    return href


def test_truncated_primary_names_its_url(api, repo, feed_dir):
    primary = next((feed_dir / "repodata").glob("*-primary.xml.gz")).read_bytes()
    href = replace_metadata(feed_dir, "primary", primary[:-100])
    with serve(feed_dir) as server:
        message = failed_sync(api, repo[0], server.url)
    assert f'could not decompress "{server.url}{href}"' in message
    assert "/proc/" not in message
    assert_unchanged(api, repo)


def test_unparsable_primary_names_the_file(api, repo, feed_dir):
    href = replace_metadata(feed_dir, "primary", gzip.compress(b"\x00garbage" * 100))
    with serve(feed_dir) as server:
        message = failed_sync(api, repo[0], server.url)
    assert message.startswith("could not parse primary.xml: ")
    assert "/proc/" not in message
    assert str(feed_dir) not in message
    assert not message.endswith("\n")
    assert_unchanged(api, repo)
