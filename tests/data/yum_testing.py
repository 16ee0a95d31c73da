"""Helpers of the yum functional tests: repositories with a yum importer and distributor,
syncs and publishes through the API, the published repodata, and dnf runs against it.

The test modules add tests/data and tests/functional to sys.path and import this module.
"""

import gzip
import subprocess
import uuid
import xml.etree.ElementTree as ElementTree

import requests

from pulp_helpers import wait_task

REPO_NS = "{http://linux.duke.edu/metadata/repo}"
COMMON_NS = "{http://linux.duke.edu/metadata/common}"

# Ids of the repositories created through this module, deleted by delete_created().
CREATED = []


def unique_id(prefix):
    """Return an id that no earlier run on the same stack used."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_repo(api, repo_id, feed, importer_config=None, distributor_config=None,
                auto_publish=True, distributor_id="yum"):
    """Create a repository with a yum importer on feed and one yum distributor.

    The distributor publishes over http at a relative URL equal to the repository id.
    Returns the relative URL."""
    CREATED.append(repo_id)
    config = {"feed": feed}
    config.update(importer_config or {})
    distributor = {"relative_url": repo_id, "http": True, "https": False}
    distributor.update(distributor_config or {})
    response = api.post("repositories/", json={
        "id": repo_id,
        "importer_type_id": "yum_importer",
        "importer_config": config,
        "distributors": [{
            "distributor_type_id": "yum_distributor",
            "distributor_id": distributor_id,
            "distributor_config": distributor,
            "auto_publish": auto_publish,
        }],
    })
    assert response.status_code == 201, response.text
    return distributor["relative_url"]


def delete_created(api):
    """Delete every repository in CREATED and wait for the deletions, so that a shared stack
    does not fill up with test repositories."""
    tasks = []
    while CREATED:
        response = api.delete(f"repositories/{CREATED.pop()}/")
        if response.status_code == 202:
            tasks.append(response.json())
    for task in tasks:
        wait_task(api, task, timeout=120)


def start_sync(api, repo_id, override_config=None):
    response = api.post(f"repositories/{repo_id}/actions/sync/",
                        json={"override_config": override_config or {}})
    assert response.status_code == 202, response.text
    return response.json()


def sync(api, repo_id, override_config=None, timeout=120):
    """Sync and wait; returns the sync task and the tasks it spawned, each when final."""
    task = wait_task(api, start_sync(api, repo_id, override_config), timeout=timeout)
    spawned = [wait_task(api, link, timeout=timeout) for link in task.get("spawned_tasks", [])]
    return task, spawned


def publish(api, repo_id, distributor_id="yum", override_config=None, timeout=120):
    response = api.post(f"repositories/{repo_id}/actions/publish/",
                        json={"id": distributor_id, "override_config": override_config or {}})
    assert response.status_code == 202, response.text
    return wait_task(api, response.json(), timeout=timeout)


def unit_counts(api, repo_id):
    response = api.get(f"repositories/{repo_id}/")
    assert response.status_code == 200, response.text
    return response.json()["content_unit_counts"]


def published_url(stack, relative_url):
    return f"{stack.url}/pulp/repos/{relative_url}/"


def baseline_repo(api, stack, feed_url, importer_config=None):
    """Create a repository with remove_missing, sync and publish it from feed_url, and return
    (repo id, unit counts, published repomd, published URL) for assert_unchanged.

    With remove_missing, a later sync that got half way shows as missing or extra units."""
    repo_id = unique_id("bad")
    relative_url = create_repo(api, repo_id, feed_url,
                               importer_config={"remove_missing": True, **(importer_config or {})})
    task, spawned = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    url = published_url(stack, relative_url)
    return repo_id, unit_counts(api, repo_id), repomd(requests, url), url


def failed_sync(api, repo_id, feed_url, **override):
    """Sync from feed_url with the override, expect an error, and return its description."""
    task, spawned = sync(api, repo_id, override_config={"feed": feed_url, **override})
    assert task["state"] == "error", task
    assert spawned == []
    return task["error"]["description"]


def assert_unchanged(api, repo):
    """Check that a repository of baseline_repo has its units and published tree still."""
    repo_id, counts, published, url = repo
    assert unit_counts(api, repo_id) == counts
    assert repomd(requests, url) == published


def repomd(session, base_url):
    """Fetch and parse repodata/repomd.xml; returns {type: location href}."""
    response = session.get(base_url + "repodata/repomd.xml", timeout=30)
    assert response.status_code == 200, f"{base_url}: {response.status_code}"
    root = ElementTree.fromstring(response.content)
    return {data.get("type"): data.find(f"{REPO_NS}location").get("href")
            for data in root.findall(f"{REPO_NS}data")}


def primary_packages(session, base_url):
    """Return {(name, version, release, arch): location href} from the published primary."""
    hrefs = repomd(session, base_url)
    response = session.get(base_url + hrefs["primary"], timeout=30)
    assert response.status_code == 200
    root = ElementTree.fromstring(gzip.decompress(response.content))
    packages = {}
    for package in root.findall(f"{COMMON_NS}package"):
        version = package.find(f"{COMMON_NS}version")
        key = (package.find(f"{COMMON_NS}name").text, version.get("ver"), version.get("rel"),
               package.find(f"{COMMON_NS}arch").text)
        packages[key] = package.find(f"{COMMON_NS}location").get("href")
    return packages


def dnf(install_root, repo_url, *arguments):
    """Run dnf against one repository only, inside install_root; returns the process."""
    command = [
        "dnf", "-y", f"--installroot={install_root}", "--releasever=1",
        "--setopt=reposdir=/dev/null", "--setopt=cachedir=" + str(install_root) + "/cache",
        f"--repofrompath=t,{repo_url}", "--repo=t", "--nogpgcheck", *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
