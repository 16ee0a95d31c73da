"""yum_importer syncs through a forward HTTP proxy: proxy_host, proxy_port, proxy_username
and proxy_password.

The proxy is the ForwardProxy of tests/data/forward_proxy.py on loopback. It checks the
Proxy-Authorization header of every request and counts the requests, so a test can see that
each download went through it. Wrong or missing proxy credentials must fail the sync with
the 407 status named, keep the password out of the error and the worker logs, and leave the
repository as it was."""

import ssl
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from forward_proxy import ForwardProxy  # noqa: E402
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
PROXY_USER = "squid"
PROXY_PASSWORD = "proxy-pass-7Qx"
WRONG_PASSWORD = "wrong-pass-3Kd"
NO_RETRY = {"retries": 0}


@pytest.fixture
def feed_dir(tmp_path):
    """A feed of freshly built packages, so that a sync downloads every package."""
    return make_test_repo(tmp_path / "feed")


@pytest.fixture
def feed(feed_dir):
    with serve(feed_dir) as server:
        yield server


@pytest.fixture
def proxy():
    with ForwardProxy(PROXY_USER, PROXY_PASSWORD) as server:
        yield server


@pytest.fixture
def repo(api, stack, feed_dir, tmp_path):
    """A repository synced and published without a proxy from a one-package feed."""
    base_dir = make_repo(tmp_path / "base", [feed_dir / "Packages" / "okapi-1.0-1.noarch.rpm"])
    with serve(base_dir) as base:
        return baseline_repo(api, stack, base.url, NO_RETRY)


def proxy_config(proxy, password=PROXY_PASSWORD, host="127.0.0.1"):
    return {"proxy_host": host, "proxy_port": proxy.port, "proxy_username": PROXY_USER,
            "proxy_password": password}


def worker_logs(stack):
    return "".join(stack.log(f"worker-{n}.log") for n in (1, 2))


@pytest.mark.parametrize("host", ["127.0.0.1", "http://127.0.0.1"], ids=["host", "url"])
def test_sync_through_proxy(api, feed, proxy, host):
    repo_id = unique_id("proxy")
    create_repo(api, repo_id, feed.url, importer_config=proxy_config(proxy, host=host))
    task, _ = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id)["rpm"] == len(TEST_RPMS)
    forwarded = [target for outcome, _, target in proxy.requests if outcome == "forwarded"]
    assert f"{feed.url.rstrip('/')}{REPOMD}" in forwarded
    # Every request that reached the feed went through the proxy, the packages too.
    assert len(feed.requests) >= len(TEST_RPMS) + 1
    assert len(forwarded) == len(feed.requests)
    assert proxy.count("rejected") == 0


def test_https_feed_through_proxy(api, feed_dir, proxy, tmp_path):
    certs = make_certs(tmp_path / "certs")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    repo_id = unique_id("proxy")
    with serve(feed_dir, tls_context=context) as https_feed:
        create_repo(api, repo_id, https_feed.url, importer_config={
            "ssl_ca_cert": certs.text("ca_cert"), **proxy_config(proxy)})
        task, _ = sync(api, repo_id)
        feed_requests = len(https_feed.requests)
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id)["rpm"] == len(TEST_RPMS)
    tunnels = [target for outcome, method, target in proxy.requests
               if outcome == "forwarded" and method == "CONNECT"]
    assert tunnels
    assert feed_requests >= len(TEST_RPMS) + 1


def test_wrong_proxy_password_fails(api, stack, repo, feed, proxy):
    message = failed_sync(api, repo[0], feed.url, **proxy_config(proxy, WRONG_PASSWORD))
    assert f"{feed.url.rstrip('/')}{REPOMD}" in message
    assert "HTTP status 407" in message
    assert "check proxy_username and proxy_password" in message
    assert WRONG_PASSWORD not in message
    assert WRONG_PASSWORD not in worker_logs(stack)
    assert proxy.count("rejected") == 1
    assert feed.requests == []
    assert_unchanged(api, repo)


def test_missing_proxy_credentials_fail(api, repo, feed, proxy):
    message = failed_sync(api, repo[0], feed.url, proxy_host="127.0.0.1",
                          proxy_port=proxy.port)
    assert f"{feed.url.rstrip('/')}{REPOMD}" in message
    assert "HTTP status 407" in message
    assert "set proxy_username and proxy_password" in message
    assert feed.requests == []
    assert_unchanged(api, repo)


def test_connect_wrong_password_fails(api, stack, repo, feed_dir, proxy, tmp_path):
    certs = make_certs(tmp_path / "certs")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    with serve(feed_dir, tls_context=context) as https_feed:
        message = failed_sync(api, repo[0], https_feed.url, ssl_ca_cert=certs.text("ca_cert"),
                              **proxy_config(proxy, WRONG_PASSWORD))
        feed_requests = len(https_feed.requests)
    assert f"{https_feed.url.rstrip('/')}{REPOMD}" in message
    assert "HTTP status 407 from the proxy to CONNECT" in message
    assert "check proxy_username and proxy_password" in message
    assert WRONG_PASSWORD not in message
    assert WRONG_PASSWORD not in worker_logs(stack)
    assert proxy.count("rejected") == 1
    assert feed_requests == 0
    assert_unchanged(api, repo)


def test_unreachable_proxy_fails(api, repo, feed):
    with ForwardProxy() as stopped:
        port = stopped.port
    message = failed_sync(api, repo[0], feed.url, proxy_host="127.0.0.1", proxy_port=port)
    assert f"{feed.url.rstrip('/')}{REPOMD}" in message
    assert "check proxy_host and proxy_port" in message
    assert feed.requests == []
    assert_unchanged(api, repo)
