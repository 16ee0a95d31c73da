"""dnf installs from what the product published: packages built by the project, and the
rpm-zoo fixture (real packages, errata, comps and modules from Pulp's own fixtures) when it
sits beside the checkout in ../shared/fixtures/rpm-zoo."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from yum_testing import (  # noqa: E402
    create_repo,
    dnf,
    published_url,
    sync,
    unique_id,
)
from yum_upstream import ZOO_DIR, make_test_repo, make_zoo_repo, serve  # noqa: E402


def sync_and_publish(api, stack, feed_url, prefix):
    repo_id = unique_id(prefix)
    relative_url = create_repo(api, repo_id, feed_url)
    task, spawned = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert spawned[0]["state"] == "finished", spawned[0]["error"]
    return published_url(stack, relative_url)


@pytest.fixture(scope="module")
def project_repo(api, stack, tmp_path_factory):
    feed_dir = make_test_repo(tmp_path_factory.mktemp("dnf") / "feed")
    with serve(feed_dir) as feed:
        yield sync_and_publish(api, stack, feed.url, "dnf")


@pytest.fixture(scope="module")
def zoo_repo(api, stack, tmp_path_factory):
    if not ZOO_DIR.is_dir():
        pytest.skip(f"the rpm-zoo fixture is not at {ZOO_DIR}")
    feed_dir = make_zoo_repo(tmp_path_factory.mktemp("zoo") / "feed")
    with serve(feed_dir) as feed:
        yield sync_and_publish(api, stack, feed.url, "zoo")


def test_dnf_installs_with_dependencies(project_repo, tmp_path):
    result = dnf(tmp_path, project_repo, "install", "tapir")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "usr/bin/tapir").is_file()
    assert (tmp_path / "usr/share/okapi/README").is_file()
    assert (tmp_path / "usr/share/quokka/README").read_text() == "quokka 1.1\n"


def test_dnf_installs_epoch_package(project_repo, tmp_path):
    result = dnf(tmp_path, project_repo, "install", "numbat-doc")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "usr/share/numbat/one").is_file()


def test_dnf_lists_advisories(project_repo, tmp_path):
    # dnf lists the advisories of installed packages.
    installed = dnf(tmp_path, project_repo, "install", "tapir", "numbat")
    assert installed.returncode == 0, installed.stderr
    result = dnf(tmp_path, project_repo, "updateinfo", "list", "--all")
    assert result.returncode == 0, result.stderr
    assert "PULPC-2024:0001" in result.stdout
    assert "PULPC-2024:0002" in result.stdout


def test_dnf_lists_groups(project_repo, tmp_path):
    result = dnf(tmp_path, project_repo, "group", "list")
    assert result.returncode == 0, result.stderr
    assert "Herbivores" in result.stdout
    assert "Diggers" in result.stdout
    assert "Zoo" in result.stdout


def test_dnf_installs_group(project_repo, tmp_path):
    result = dnf(tmp_path, project_repo, "group", "install", "herbivores")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "usr/bin/tapir").is_file()


def test_zoo_installs_dolphin(zoo_repo, tmp_path):
    result = dnf(tmp_path, zoo_repo, "install", "dolphin")
    assert result.returncode == 0, result.stderr
    installed = dnf(tmp_path, zoo_repo, "list", "--installed")
    for name in ("dolphin", "bear", "lion", "tiger", "wolf"):
        assert name in installed.stdout, name


def test_zoo_advisories(zoo_repo, tmp_path):
    installed = dnf(tmp_path, zoo_repo, "install", "penguin")
    assert installed.returncode == 0, installed.stderr
    result = dnf(tmp_path, zoo_repo, "updateinfo", "list", "--all")
    assert result.returncode == 0, result.stderr
    assert "RHEA-2012:0055" in result.stdout


def test_zoo_groups(zoo_repo, tmp_path):
    result = dnf(tmp_path, zoo_repo, "group", "list")
    assert result.returncode == 0, result.stderr
    assert "birds" in result.stdout
    assert "mammals" in result.stdout


def test_zoo_modules(zoo_repo, tmp_path):
    result = dnf(tmp_path, zoo_repo, "module", "list")
    assert result.returncode == 0, result.stderr
    assert "kangaroo" in result.stdout
    assert "walrus" in result.stdout
