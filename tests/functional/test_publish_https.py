"""The yum distributor's http and https flags, served by the stack.

A distributor publishes to published/yum/http/repos and published/yum/https/repos. httpd
serves the first at /pulp/repos/ on the HTTP port and the second on the HTTPS port, with the
self-signed certificate that scripts/stack makes at the first start."""

import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from yum_testing import (  # noqa: E402
    create_repo,
    dnf,
    primary_packages,
    sync,
    unique_id,
    unit_counts,
)
from yum_upstream import TEST_RPMS, TEST_SRPMS, make_test_repo, serve  # noqa: E402

REPOMD = "repodata/repomd.xml"


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    with serve(make_test_repo(tmp_path_factory.mktemp("https") / "feed")) as server:
        yield server


def published(api, feed, http, https):
    """Create, sync and publish a repository with the given flags; returns its relative
    URL."""
    repo_id = unique_id("https")
    relative_url = create_repo(api, repo_id, feed.url,
                               distributor_config={"http": http, "https": https})
    task, spawned = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert [child["state"] for child in spawned] == ["finished"]
    return relative_url


def https_get(stack, relative_url, path):
    return requests.get(f"{stack.https_url}/pulp/repos/{relative_url}/{path}",
                        verify=stack.https_cert, timeout=30)


def http_get(stack, relative_url, path):
    return requests.get(f"{stack.url}/pulp/repos/{relative_url}/{path}", timeout=30)


def test_https_only_repo_served_over_https(api, https_stack, feed):
    relative_url = published(api, feed, http=False, https=True)
    response = https_get(https_stack, relative_url, REPOMD)
    assert response.status_code == 200
    assert b"<repomd" in response.content
    with requests.Session() as session:
        # requests prefers REQUESTS_CA_BUNDLE from the environment to session.verify.
        session.trust_env = False
        session.verify = https_stack.https_cert
        packages = primary_packages(
            session, f"{https_stack.https_url}/pulp/repos/{relative_url}/")
    assert len(packages) == len(TEST_RPMS) + len(TEST_SRPMS)
    tapir = packages[("tapir", "2.0", "1", "noarch")]
    assert https_get(https_stack, relative_url, tapir).status_code == 200
    assert http_get(https_stack, relative_url, REPOMD).status_code == 404


def test_http_only_repo_served_over_http(api, https_stack, feed):
    relative_url = published(api, feed, http=True, https=False)
    assert http_get(https_stack, relative_url, REPOMD).status_code == 200
    assert https_get(https_stack, relative_url, REPOMD).status_code == 404


def test_both_schemes_serve_same_tree(api, https_stack, feed):
    relative_url = published(api, feed, http=True, https=True)
    over_http = http_get(https_stack, relative_url, REPOMD)
    over_https = https_get(https_stack, relative_url, REPOMD)
    assert over_http.status_code == 200
    assert over_https.status_code == 200
    assert over_http.content == over_https.content


def test_dnf_installs_over_https(api, https_stack, feed, tmp_path):
    relative_url = published(api, feed, http=False, https=True)
    result = dnf(tmp_path, f"{https_stack.https_url}/pulp/repos/{relative_url}/",
                 f"--setopt=sslcacert={https_stack.https_cert}", "install", "tapir")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "usr/bin/tapir").is_file()


def test_https_tree_syncs_with_stack_cert(api, https_stack, feed):
    """Another repository mirrors the https-only tree, trusting the stack's certificate as
    its ssl_ca_cert."""
    relative_url = published(api, feed, http=False, https=True)
    mirror_id = unique_id("mirror")
    create_repo(api, mirror_id, f"{https_stack.https_url}/pulp/repos/{relative_url}/",
                importer_config={"ssl_ca_cert": Path(https_stack.https_cert).read_text()})
    task, _ = sync(api, mirror_id)
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, mirror_id)["rpm"] == len(TEST_RPMS)


def test_https_port_rejects_unknown_ca(https_stack):
    """The certificate is self-signed, so a client that trusts only the system's CAs
    rejects it."""
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{https_stack.https_url}/pulp/repos/", timeout=30)


def test_certificate_kept_across_restart(managed_stack, https_stack):
    before = Path(managed_stack.https_cert).read_bytes()
    managed_stack.stop("httpd")
    managed_stack.start()
    assert Path(managed_stack.https_cert).read_bytes() == before
    response = requests.get(f"{managed_stack.https_url}/pulp/repos/",
                            verify=managed_stack.https_cert, timeout=30)
    assert response.status_code == 200
