"""Yum syncs that are interrupted or fed hostile metadata.

A sync that is killed, canceled or fails leaves the repository as it was and nothing in
<storage>/tmp, and the next sync stores each file once. Feeds are built by the tests and
served on loopback by the FeedServer of tests/data/yum_upstream.py."""

import gzip
import hashlib
import os
import random
import re
import signal
import sys
import uuid
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from pulp_helpers import DEFAULT_TEST_PORT_BASE, task_process, wait_task, wait_until  # noqa: E402
from yum_testing import (  # noqa: E402
    assert_unchanged,
    baseline_repo,
    create_repo,
    failed_sync,
    primary_packages,
    published_url,
    start_sync,
    sync,
    unique_id,
    unit_counts,
)
from yum_upstream import (  # noqa: E402
    TEST_RPMS,
    TEST_SRPMS,
    Fault,
    FeedServer,
    HttpdFeedServer,
    make_repo,
    make_test_repo,
    rewrite_metadata,
    serve,
)

TAPIR = "/Packages/tapir-2.0-1.noarch.rpm"


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


# --- many packages ----------------------------------------------------------------------------


def write_metadata(repo_dir, documents):
    """Write gzip metadata files and a repomd.xml that lists them."""
    records = []
    for mdtype, text in documents.items():
        plain = text.encode()
        data = gzip.compress(plain, 1)
        digest = hashlib.sha256(data).hexdigest()
        href = f"repodata/{digest}-{mdtype}.xml.gz"
        (repo_dir / href).write_bytes(data)
        records.append(
            f'<data type="{mdtype}"><checksum type="sha256">{digest}</checksum>'
            f'<open-checksum type="sha256">{hashlib.sha256(plain).hexdigest()}</open-checksum>'
            f'<location href="{href}"/><timestamp>1</timestamp><size>{len(data)}</size>'
            f"<open-size>{len(plain)}</open-size></data>")
    (repo_dir / "repodata" / "repomd.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1</revision>'
        + "".join(records) + "</repomd>")


def make_many_package_repo(repo_dir, files, order):
    """Make a feed whose packages are the given files ({file name: content}), listed in
    primary in the given order of names. The files are not real RPMs: a sync only checks
    their size and checksum."""
    (repo_dir / "Packages").mkdir(parents=True)
    (repo_dir / "repodata").mkdir()
    primary, filelists, other = [], [], []
    for name in order:
        data = files[name]
        (repo_dir / "Packages" / f"{name}-1.0-1.noarch.rpm").write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        version = '<version epoch="0" ver="1.0" rel="1"/>'
        primary.append(
            f'<package type="rpm"><name>{name}</name><arch>noarch</arch>{version}'
            f'<checksum type="sha256" pkgid="YES">{digest}</checksum><summary>s</summary>'
            f'<description>d</description><packager/><url/><time file="1" build="1"/>'
            f'<size package="{len(data)}" installed="1" archive="1"/>'
            f'<location href="Packages/{name}-1.0-1.noarch.rpm"/><format/></package>')
        filelists.append(f'<package pkgid="{digest}" name="{name}" arch="noarch">{version}'
                         f"<file>/usr/share/{name}</file></package>")
        other.append(f'<package pkgid="{digest}" name="{name}" arch="noarch">{version}'
                     "</package>")
    count = len(order)
    write_metadata(repo_dir, {
        "primary": '<metadata xmlns="http://linux.duke.edu/metadata/common" '
                   f'xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{count}">'
                   + "".join(primary) + "</metadata>",
        "filelists": '<filelists xmlns="http://linux.duke.edu/metadata/filelists" '
                     f'packages="{count}">' + "".join(filelists) + "</filelists>",
        "other": f'<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="{count}">'
                 + "".join(other) + "</otherdata>",
    })
    return repo_dir


# The port of the private httpd that serves large feeds, above the test stack's ports.
HTTPD_FEED_PORT_OFFSET = 20


@pytest.fixture
def httpd_feeds(tmp_path):
    """Serves directories through a private httpd, which sends many small files much faster
    than FeedServer: publish(directory) returns the URL of a directory."""
    port_base = int(os.environ.get("PULP_TEST_PORT_BASE", DEFAULT_TEST_PORT_BASE))
    root = tmp_path / "httpd-feeds"
    root.mkdir()

    def publish(directory):
        name = f"feed-{uuid.uuid4().hex[:12]}"
        (root / name).symlink_to(directory)
        return f"{server.url}{name}/"

    with HttpdFeedServer(root, port_base + HTTPD_FEED_PORT_OFFSET, tmp_path / "httpd") as server:
        yield publish


def test_feeds_sharing_packages_in_other_order(api, stack, tmp_path, httpd_feeds):
    """Two syncs that store the same new packages at the same moment, each in the order of
    its own feed, both finish and store each package once. Their batch inserts lock the
    same unit keys, so they must lock them in one order."""
    count = 20000
    for round_number in range(2):
        prefix = f"shared{uuid.uuid4().hex[:8]}"
        files = {f"{prefix}-{i}": os.urandom(200) for i in range(count)}
        names = sorted(files)
        shuffled = random.Random(round_number).sample(names, count)
        repo_ids = []
        for index, order in enumerate((names, shuffled)):
            feed_dir = make_many_package_repo(tmp_path / f"{prefix}-{index}", files, order)
            repo_id = unique_id("shared")
            create_repo(api, repo_id, httpd_feeds(feed_dir))
            repo_ids.append(repo_id)
        hrefs = [start_sync(api, repo_id)["spawned_tasks"][0]["_href"] for repo_id in repo_ids]
        for href, repo_id in zip(hrefs, repo_ids):
            final = wait_task(api, href, timeout=600)
            assert final["state"] == "finished", final["error"]
            assert unit_counts(api, repo_id)["rpm"] == count
        some = tmp_path / f"{prefix}-0" / "Packages" / f"{names[0]}-1.0-1.noarch.rpm"
        assert len(stored_copies(stack, some)) == 1


def test_location_base_with_upper_case_scheme(api, feed_dir, tmp_path):
    """An xml:base is a URL, and URL schemes are case-insensitive."""
    with serve(feed_dir) as server:
        base = server.url.replace("http://", "HTTP://")
        rewrite_metadata(feed_dir, "primary", lambda text: text.replace(
            '<location href="', f'<location xml:base="{base}" href="'))
        repo_id = unique_id("base")
        create_repo(api, repo_id, "http://127.0.0.1:9/unused/")
        task, spawned = sync(api, repo_id, override_config={"feed": server.url})
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id)["rpm"] == 6


def test_long_package_file_name(api, stack, feed_dir):
    """A file name of 220 bytes is valid, but with the 65 bytes of "<sha256>-" in front it
    would exceed the 255 bytes that a file name may have on Linux filesystems."""
    long_name = "tapir-" + "x" * 210 + ".rpm"
    (feed_dir / TAPIR.lstrip("/")).rename(feed_dir / "Packages" / long_name)
    rewrite_metadata(feed_dir, "primary", lambda text: text.replace(
        'href="Packages/tapir-2.0-1.noarch.rpm"', f'href="Packages/{long_name}"'))
    with serve(feed_dir) as server:
        repo_id = unique_id("long")
        create_repo(api, repo_id, server.url)
        task, spawned = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id)["rpm"] == 6
    assert spawned[0]["state"] == "finished", spawned[0]["error"]
    stored = stored_copies(stack, feed_dir / "Packages" / long_name)
    assert len(stored) == 1
    assert len(stored[0].name.encode()) <= 255


def test_duplicate_primary_entry(api, stack, feed_dir):
    """A primary that lists a package twice gives one unit, stored and published once."""
    def duplicate_tapir(text):
        start = text.index("<package", text.index("<name>tapir</name>") - 200)
        end = text.index("</package>", start) + len("</package>")
        return text[:end] + "\n" + text[start:end] + text[end:]

    rewrite_metadata(feed_dir, "primary", duplicate_tapir)
    with serve(feed_dir) as server:
        repo_id = unique_id("twice")
        relative_url = create_repo(api, repo_id, server.url)
        task, spawned = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert task["result"]["details"]["packages_in_feed"] == len(TEST_RPMS + TEST_SRPMS) + 1
    assert unit_counts(api, repo_id)["rpm"] == len(TEST_RPMS)
    assert len(stored_copies(stack, feed_dir / TAPIR.lstrip("/"))) == 1
    assert spawned[0]["state"] == "finished", spawned[0]["error"]
    published = primary_packages(requests, published_url(stack, relative_url))
    assert ("tapir", "2.0", "1", "noarch") in published
    assert len(published) == len(TEST_RPMS + TEST_SRPMS)
