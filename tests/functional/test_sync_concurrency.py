"""yum_importer's max_downloads: a sync downloads at most that many packages at a time.

The feed's packages are new to the store because their names carry a random token, so the
sync downloads every one of them. The feed server sends each one slowly, so the downloads
overlap and the number running at once reaches the limit."""

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from yum_testing import create_repo, sync, unique_id, unit_counts  # noqa: E402
from yum_upstream import Fault, make_repo, rpmbuild, serve  # noqa: E402

PACKAGES = 8
# Each package goes out in pieces of this many bytes every 0.1 s: about 1 s per package.
TRICKLE_BYTES = 1024


def spec_text(name):
    """A spec whose build makes PACKAGES binary packages named <name>-<number>."""
    lines = [
        f"Name: {name}", "Version: 1.0", "Release: 1", "Summary: concurrency test",
        "License: GPLv2+", "BuildArch: noarch", "", "%description", "Not built.", "",
    ]
    for number in range(PACKAGES):
        lines += [
            f"%package -n {name}-{number}", f"Summary: package {number}", "",
            f"%description -n {name}-{number}", f"Package {number}.", "",
            f"%files -n {name}-{number}", f"/usr/share/{name}/{number}", "",
        ]
    lines += [
        "%install",
        f"mkdir -p %{{buildroot}}/usr/share/{name}",
        f"for i in $(seq 0 {PACKAGES - 1}); do",
        f"    head -c 8192 /dev/urandom > %{{buildroot}}/usr/share/{name}/$i",
        "done",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def fresh_feed(tmp_path):
    """Serves a feed of PACKAGES packages that no earlier sync stored, each sent slowly."""
    name = f"conc{uuid.uuid4().hex[:8]}"
    spec = tmp_path / f"{name}.spec"
    spec.write_text(spec_text(name))
    packages = rpmbuild(spec, tmp_path / "rpmbuild", sources=False)
    assert len(packages) == PACKAGES
    feed_dir = make_repo(tmp_path / "feed", packages)
    with serve(feed_dir) as server:
        for package in packages:
            server.faults[f"/Packages/{package.name}"] = Fault("trickle", TRICKLE_BYTES)
        yield server


@pytest.mark.parametrize("max_downloads", [2, 5])
def test_max_downloads_bounds_parallelism(api, fresh_feed, max_downloads):
    repo_id = unique_id("conc")
    create_repo(api, repo_id, fresh_feed.url, importer_config={"max_downloads": max_downloads})
    task, _ = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id).get("rpm") == PACKAGES
    assert fresh_feed.max_concurrent_packages <= max_downloads
    assert fresh_feed.max_concurrent_packages == max_downloads
