"""yum_distributor publishes through the API: the tree served by httpd, package links into
the store, checksum types and sqlite databases, unchanged republishes, the atomic swap that
keeps the files of the previous tree reachable, relative URL conflicts, and distributor
removal."""

import gzip
import hashlib
import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from pulp_helpers import wait_task, wait_until  # noqa: E402
from yum_testing import (  # noqa: E402
    CREATED,
    create_repo,
    primary_packages,
    publish,
    published_url,
    repomd,
    start_sync,
    sync,
    unique_id,
)
from yum_upstream import (  # noqa: E402
    TEST_RPMS,
    TEST_SRPMS,
    Fault,
    make_repo,
    make_test_repo,
    serve,
)


@pytest.fixture(scope="module")
def feed_dir(tmp_path_factory):
    return make_test_repo(tmp_path_factory.mktemp("yum-publish") / "feed")


@pytest.fixture(scope="module")
def feed(feed_dir):
    with serve(feed_dir) as server:
        yield server


@pytest.fixture(scope="module")
def published(api, stack, feed):
    """A repository synced and auto-published: (repo id, published URL)."""
    repo_id = unique_id("publish")
    relative_url = create_repo(api, repo_id, feed.url)
    task, spawned = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert spawned[0]["state"] == "finished", spawned[0]["error"]
    return repo_id, published_url(stack, relative_url)


def test_repomd_lists_metadata(published):
    _, url = published
    types = set(repomd(requests, url))
    assert {"primary", "filelists", "other", "updateinfo", "group", "group_gz",
            "productid"} <= types


def test_primary_lists_packages(published):
    _, url = published
    packages = primary_packages(requests, url)
    assert len(packages) == len(TEST_RPMS) + len(TEST_SRPMS)
    assert packages[("tapir", "2.0", "1", "noarch")] == "Packages/t/tapir-2.0-1.noarch.rpm"


def test_package_served_from_store(published, feed_dir):
    _, url = published
    response = requests.get(url + "Packages/t/tapir-2.0-1.noarch.rpm", timeout=30)
    assert response.status_code == 200
    expected = (feed_dir / "Packages" / "tapir-2.0-1.noarch.rpm").read_bytes()
    assert hashlib.sha256(response.content).hexdigest() == hashlib.sha256(expected).hexdigest()


def test_every_primary_location_served(published):
    _, url = published
    for href in primary_packages(requests, url).values():
        assert requests.head(url + href, timeout=30).status_code == 200, href


def test_productid_republished(published, feed_dir):
    _, url = published
    href = repomd(requests, url)["productid"]
    response = requests.get(url + href, timeout=30)
    assert response.status_code == 200
    original = (Path(__file__).resolve().parents[1] / "data" / "productid").read_bytes()
    assert gzip.decompress(response.content) == original


def test_unchanged_republish(api, published):
    repo_id, url = published
    before = repomd(requests, url)
    task = publish(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert task["result"]["details"]["unchanged"] is True
    assert repomd(requests, url) == before


def test_publish_history(api, published):
    repo_id, _ = published
    response = api.get(f"repositories/{repo_id}/history/publish/yum/")
    assert response.status_code == 200
    results = [entry["result"] for entry in response.json()]
    assert results
    assert set(results) == {"success"}


@pytest.mark.parametrize("override", [
    {"relative_url": "someone-else"},
    {"http": False},
    {"https": True},
    {"protected": True},
    {"auth_ca": None},
])
def test_publish_override_keeps_serving_keys(api, published, override):
    """An override that would change where or to whom the tree is served is rejected, for a
    publish and for a publish schedule alike."""
    repo_id, _ = published
    key = next(iter(override))
    response = api.post(f"repositories/{repo_id}/actions/publish/",
                        json={"id": "yum", "override_config": override})
    assert response.status_code == 400, response.text
    assert response.json()["property_names"] == [key]
    assert "cannot be overridden" in response.json()["error_message"]
    response = api.post(f"repositories/{repo_id}/distributors/yum/schedules/publish/",
                        json={"schedule": "PT1H", "override_config": override})
    assert response.status_code == 400, response.text
    assert response.json()["property_names"] == [key]


def test_invalid_publish_override_named(api, published):
    repo_id, _ = published
    response = api.post(f"repositories/{repo_id}/actions/publish/",
                        json={"id": "yum", "override_config": {"nosuchkey": 1}})
    assert response.status_code == 400, response.text
    assert response.json()["error_message"].startswith("invalid override_config: ")
    assert response.json()["property_names"] == ["nosuchkey"]


def test_publish_override_of_content_option(api, published):
    repo_id, url = published
    task = publish(api, repo_id, override_config={"checksum_type": "sha1"})
    assert task["state"] == "finished", task["error"]
    text = requests.get(url + "repodata/repomd.xml", timeout=30).text
    assert 'checksum type="sha1"' in text
    assert publish(api, repo_id)["state"] == "finished"


def test_checksum_type_and_sqlite(api, stack, feed):
    repo_id = unique_id("sqlite")
    relative_url = create_repo(api, repo_id, feed.url, distributor_config={
        "checksum_type": "sha1", "generate_sqlite": True})
    task, spawned = sync(api, repo_id)
    assert spawned[0]["state"] == "finished", spawned[0]["error"]
    url = published_url(stack, relative_url)
    hrefs = repomd(requests, url)
    assert {"primary_db", "filelists_db", "other_db"} <= set(hrefs)
    text = requests.get(url + "repodata/repomd.xml", timeout=30).text
    assert 'checksum type="sha1"' in text
    assert 'checksum type="sha256"' not in text
    for kind in ("primary_db", "filelists_db", "other_db"):
        assert requests.head(url + hrefs[kind], timeout=30).status_code == 200, kind


def test_republish_keeps_old_files_reachable(api, stack, feed_dir, tmp_path):
    """A client that read repomd.xml before a republish can still fetch the files it lists,
    and the served tree never mixes the two versions."""
    repo_id = unique_id("swap")
    smaller = make_repo(tmp_path / "smaller", [feed_dir / "Packages" / name
                                               for name in ("okapi-1.0-1.noarch.rpm",
                                                            "numbat-0.3-2.noarch.rpm")])
    with serve(smaller) as small, serve(feed_dir) as full:
        relative_url = create_repo(api, repo_id, small.url,
                                   importer_config={"remove_missing": True})
        sync(api, repo_id)
        url = published_url(stack, relative_url)
        old = repomd(requests, url)
        task, spawned = sync(api, repo_id, override_config={"feed": full.url})
        assert spawned[0]["state"] == "finished", spawned[0]["error"]
    new = repomd(requests, url)
    assert new["primary"] != old["primary"]
    for href in old.values():
        assert requests.get(url + href, timeout=30).status_code == 200, href
    assert len(primary_packages(requests, url)) == len(TEST_RPMS) + len(TEST_SRPMS)


def test_publish_waits_for_running_sync(api, stack, tmp_path):
    """A publish requested while a sync runs waits for it, then publishes what it synced."""
    tapir = "/Packages/tapir-2.0-1.noarch.rpm"
    repo_id = unique_id("queued")
    # Packages built anew, so that the sync downloads them and the trickle of tapir keeps it
    # running.
    with serve(make_test_repo(tmp_path / "fresh")) as server:
        relative_url = create_repo(api, repo_id, server.url, auto_publish=False)
        server.faults[tapir] = Fault("trickle", 256)
        sync_href = start_sync(api, repo_id)["spawned_tasks"][0]["_href"]
        wait_until(lambda: server.requested(tapir), message="the download of tapir")
        response = api.post(f"repositories/{repo_id}/actions/publish/", json={"id": "yum"})
        assert response.status_code == 202, response.text
        publish_href = response.json()["spawned_tasks"][0]["_href"]
        assert api.get(publish_href).json()["state"] == "waiting"
        assert wait_task(api, sync_href)["state"] == "finished"
        published = wait_task(api, publish_href)
    assert published["state"] == "finished", published["error"]
    packages = primary_packages(requests, published_url(stack, relative_url))
    assert len(packages) == len(TEST_RPMS) + len(TEST_SRPMS)
    assert ("tapir", "2.0", "1", "noarch") in packages


def test_removed_package_reachable_after_swap(api, stack, feed_dir, tmp_path):
    repo_id = unique_id("swap-removed")
    smaller = make_repo(tmp_path / "smaller", [feed_dir / "Packages" / "okapi-1.0-1.noarch.rpm"])
    with serve(feed_dir) as full, serve(smaller) as small:
        relative_url = create_repo(api, repo_id, full.url,
                                   importer_config={"remove_missing": True})
        sync(api, repo_id)
        url = published_url(stack, relative_url)
        task, spawned = sync(api, repo_id, override_config={"feed": small.url})
        assert spawned[0]["state"] == "finished", spawned[0]["error"]
    assert list(primary_packages(requests, url)) == [("okapi", "1.0", "1", "noarch")]
    # Listed only by the previous tree, which a client may have read just before the swap.
    response = requests.head(url + "Packages/t/tapir-2.0-1.noarch.rpm", timeout=30)
    assert response.status_code == 200


def test_nested_relative_url_rejected(api, feed):
    outer = unique_id("outer")
    create_repo(api, outer, feed.url)
    sync(api, outer)
    inner = unique_id("inner")
    CREATED.append(inner)
    response = api.post("repositories/", json={
        "id": inner,
        "distributors": [{
            "distributor_type_id": "yum_distributor", "distributor_id": "yum",
            "distributor_config": {"relative_url": f"{outer}/{inner}", "http": True,
                                   "https": False},
        }],
    })
    assert response.status_code == 201, response.text
    task = publish(api, inner)
    assert task["state"] == "error"
    assert "published by another repository" in task["error"]["description"]


def test_https_link(api, stack, feed):
    repo_id = unique_id("https")
    create_repo(api, repo_id, feed.url, distributor_config={"http": False, "https": True})
    task, spawned = sync(api, repo_id)
    assert spawned[0]["state"] == "finished", spawned[0]["error"]
    summary = spawned[0]["result"]["summary"]
    assert summary["publish_https"]["state"] == "FINISHED"
    assert summary["publish_http"]["state"] == "SKIPPED"
    assert requests.get(published_url(stack, repo_id) + "repodata/repomd.xml",
                        timeout=30).status_code == 404
    storage = stack.settings.get("PULP_STORAGE_DIR")
    if storage:
        link = Path(storage) / "published/yum/https/repos" / repo_id
        assert (link / "repodata" / "repomd.xml").is_file()


def test_distributor_removal_removes_own_tree(api, stack, feed):
    repo_id = unique_id("remove-dist")
    create_repo(api, repo_id, feed.url)
    response = api.post(f"repositories/{repo_id}/distributors/", json={
        "distributor_type_id": "yum_distributor", "distributor_id": "second",
        "distributor_config": {"relative_url": f"{repo_id}-second", "http": True,
                               "https": False},
        "auto_publish": True,
    })
    assert response.status_code == 201, response.text
    sync(api, repo_id)
    first_url = published_url(stack, repo_id)
    second_url = published_url(stack, f"{repo_id}-second")
    assert requests.get(second_url + "repodata/repomd.xml", timeout=30).status_code == 200

    response = api.delete(f"repositories/{repo_id}/distributors/second/")
    assert response.status_code == 202, response.text
    task = wait_task(api, response.json())
    assert task["state"] == "finished", task["error"]
    assert requests.get(second_url + "repodata/repomd.xml", timeout=30).status_code == 404
    assert requests.get(first_url + "repodata/repomd.xml", timeout=30).status_code == 200
