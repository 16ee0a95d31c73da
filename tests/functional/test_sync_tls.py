"""yum_importer syncs from feeds served over HTTPS: server certificate validation with
ssl_ca_cert and ssl_validation, and client certificates with ssl_client_cert and
ssl_client_key.

The test makes the CA, the server certificate (for 127.0.0.1) and the client certificate
with the openssl command line (tests/data/tls_certs.py). The FeedServer of
tests/data/yum_upstream.py serves the feed on loopback with Python's ssl module. A failed
sync must name the URL and the certificate problem and leave the repository as it was."""

import ssl
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from tls_certs import make_certs  # noqa: E402
from yum_testing import (  # noqa: E402
    assert_unchanged,
    baseline_repo,
    create_repo,
    failed_sync,
    sync,
    unique_id,
    unit_counts,
)
from yum_upstream import TEST_RPMS, make_repo, make_test_repo, serve  # noqa: E402

REPOMD = "/repodata/repomd.xml"
# No retries, so that each failure shows at once.
NO_RETRY = {"retries": 0}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def feed_dir(tmp_path_factory):
    return make_test_repo(tmp_path_factory.mktemp("tls") / "feed")


@pytest.fixture(scope="module")
def base_dir(feed_dir, tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("tls") / "base",
                     [feed_dir / "Packages" / "okapi-1.0-1.noarch.rpm"])


def server_context(certs, require_client_cert=False):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(certs.ca_cert)
    return context


@pytest.fixture
def https_feed(feed_dir, certs):
    with serve(feed_dir, tls_context=server_context(certs)) as server:
        yield server


@pytest.fixture
def client_cert_feed(feed_dir, certs):
    """The feed over HTTPS, to clients with a certificate signed by the test's CA only."""
    with serve(feed_dir, tls_context=server_context(certs, require_client_cert=True)) as server:
        yield server


@pytest.fixture
def repo(api, stack, base_dir):
    """A repository synced and published over plain HTTP from the small feed."""
    with serve(base_dir) as base:
        return baseline_repo(api, stack, base.url, NO_RETRY)


def sync_new_repo(api, feed_url, importer_config):
    repo_id = unique_id("tls")
    create_repo(api, repo_id, feed_url, importer_config=importer_config)
    task, _ = sync(api, repo_id)
    return repo_id, task


# --- server certificate ------------------------------------------------------------------

def test_ca_cert_validates_feed(api, https_feed, certs):
    repo_id, task = sync_new_repo(api, https_feed.url, {
        "ssl_validation": True, "ssl_ca_cert": certs.text("ca_cert")})
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id)["rpm"] == len(TEST_RPMS)
    assert https_feed.requested(REPOMD)
    assert https_feed.tls_errors == []


def test_unknown_ca_fails(api, repo, https_feed):
    message = failed_sync(api, repo[0], https_feed.url, ssl_validation=True)
    assert f"{https_feed.url.rstrip('/')}{REPOMD}" in message
    assert "SSL certificate problem" in message
    assert "unable to get local issuer certificate" in message
    assert "set ssl_ca_cert" in message
    assert https_feed.requested(REPOMD) == []
    assert_unchanged(api, repo)


def test_other_ca_fails(api, repo, https_feed, tmp_path):
    other = make_certs(tmp_path / "other")
    message = failed_sync(api, repo[0], https_feed.url, ssl_ca_cert=other.text("ca_cert"))
    assert f"{https_feed.url.rstrip('/')}{REPOMD}" in message
    assert "SSL certificate problem" in message
    assert "checked against the CA certificate of ssl_ca_cert" in message
    assert_unchanged(api, repo)


def test_invalid_ca_cert_fails(api, repo, https_feed):
    message = failed_sync(api, repo[0], https_feed.url, ssl_ca_cert="not a certificate")
    assert f"{https_feed.url.rstrip('/')}{REPOMD}" in message
    assert "invalid ssl_ca_cert" in message
    assert_unchanged(api, repo)


def test_validation_off_accepts_unknown_ca(api, https_feed):
    repo_id, task = sync_new_repo(api, https_feed.url, {"ssl_validation": False})
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id)["rpm"] == len(TEST_RPMS)
    assert https_feed.requested(REPOMD)


# --- client certificate ------------------------------------------------------------------

def test_client_cert_and_key(api, client_cert_feed, certs):
    repo_id, task = sync_new_repo(api, client_cert_feed.url, {
        "ssl_ca_cert": certs.text("ca_cert"),
        "ssl_client_cert": certs.text("client_cert"),
        "ssl_client_key": certs.text("client_key"),
    })
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id)["rpm"] == len(TEST_RPMS)
    assert client_cert_feed.requested(REPOMD)
    assert client_cert_feed.tls_errors == []


@pytest.mark.parametrize("order", [("client_cert", "client_key"), ("client_key", "client_cert")],
                         ids=["cert-first", "key-first"])
def test_client_cert_with_key_inside(api, client_cert_feed, certs, order):
    combined = certs.text(order[0]) + certs.text(order[1])
    repo_id, task = sync_new_repo(api, client_cert_feed.url, {
        "ssl_ca_cert": certs.text("ca_cert"), "ssl_client_cert": combined})
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id)["rpm"] == len(TEST_RPMS)
    assert client_cert_feed.tls_errors == []


def test_missing_client_cert_fails(api, repo, client_cert_feed, certs):
    message = failed_sync(api, repo[0], client_cert_feed.url,
                          ssl_ca_cert=certs.text("ca_cert"))
    assert f"{client_cert_feed.url.rstrip('/')}{REPOMD}" in message
    assert "the server requested a client certificate and none is configured" in message
    assert client_cert_feed.requested(REPOMD) == []
    assert any("certificate" in error for error in client_cert_feed.tls_errors)
    assert_unchanged(api, repo)


def test_untrusted_client_cert_fails(api, repo, client_cert_feed, certs, tmp_path):
    other = make_certs(tmp_path / "other")
    message = failed_sync(api, repo[0], client_cert_feed.url,
                          ssl_ca_cert=certs.text("ca_cert"),
                          ssl_client_cert=other.text("client_cert"),
                          ssl_client_key=other.text("client_key"))
    assert f"{client_cert_feed.url.rstrip('/')}{REPOMD}" in message
    assert "may have rejected the one of ssl_client_cert" in message
    assert client_cert_feed.requested(REPOMD) == []
    assert_unchanged(api, repo)


def test_invalid_client_cert_fails(api, repo, client_cert_feed, certs):
    message = failed_sync(api, repo[0], client_cert_feed.url,
                          ssl_ca_cert=certs.text("ca_cert"), ssl_client_cert="not a certificate")
    assert f"{client_cert_feed.url.rstrip('/')}{REPOMD}" in message
    assert "invalid ssl_client_cert or ssl_client_key" in message
    assert_unchanged(api, repo)


def test_client_key_not_matching_fails(api, repo, client_cert_feed, certs, tmp_path):
    other = make_certs(tmp_path / "other")
    message = failed_sync(api, repo[0], client_cert_feed.url,
                          ssl_ca_cert=certs.text("ca_cert"),
                          ssl_client_cert=certs.text("client_cert"),
                          ssl_client_key=other.text("client_key"))
    assert f"{client_cert_feed.url.rstrip('/')}{REPOMD}" in message
    assert "invalid ssl_client_cert or ssl_client_key" in message
    assert_unchanged(api, repo)
