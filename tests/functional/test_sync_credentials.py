"""Feed credentials of yum_importer: a user name and password in the feed URL are sent as
HTTP basic authentication, and no password, from the URL or from basic_auth_password,
appears in a task error or a worker log. The proxy credentials are covered by
test_sync_proxy.py."""

import base64
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from yum_testing import create_repo, sync, unique_id, unit_counts  # noqa: E402
from yum_upstream import TEST_RPMS, Fault, make_test_repo, serve  # noqa: E402

REPOMD = "/repodata/repomd.xml"
# "%40" is "@", so the password that reaches the server is "s3cr@t-9Wz".
URL_PASSWORD = "s3cr%40t-9Wz"
SENT_PASSWORD = "s3cr@t-9Wz"
OPTION_PASSWORD = "option-pass-5Hq"


@pytest.fixture(scope="module")
def feed_dir(tmp_path_factory):
    return make_test_repo(tmp_path_factory.mktemp("credentials") / "feed")


@pytest.fixture
def feed(feed_dir):
    with serve(feed_dir) as server:
        yield server


def with_userinfo(url, userinfo):
    return url.replace("http://", f"http://{userinfo}@", 1)


def worker_logs(stack):
    return "".join(stack.log(f"worker-{n}.log") for n in (1, 2))


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_feed_userinfo_sent_as_basic_auth(api, feed):
    repo_id = unique_id("cred")
    create_repo(api, repo_id, with_userinfo(feed.url, f"alice:{URL_PASSWORD}"))
    task, _ = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id)["rpm"] == len(TEST_RPMS)
    headers = feed.requested(REPOMD)
    assert len(headers) == 1
    assert headers[0].get("Authorization") == basic("alice", SENT_PASSWORD)


def test_basic_auth_options_win_over_userinfo(api, feed):
    repo_id = unique_id("cred")
    create_repo(api, repo_id, with_userinfo(feed.url, f"alice:{URL_PASSWORD}"),
                importer_config={"basic_auth_username": "bob",
                                 "basic_auth_password": OPTION_PASSWORD})
    task, _ = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    headers = feed.requested(REPOMD)
    assert headers[0].get("Authorization") == basic("bob", OPTION_PASSWORD)


def test_feed_userinfo_hidden_in_error(api, stack, feed):
    """A retried failure logs the URL and fails the task with it, both without the
    credentials."""
    feed.faults[REPOMD] = Fault("status", 503)
    repo_id = unique_id("cred")
    create_repo(api, repo_id, with_userinfo(feed.url, f"alice:{URL_PASSWORD}"),
                importer_config={"retries": 1})
    task, _ = sync(api, repo_id)
    assert task["state"] == "error", task
    message = task["error"]["description"]
    assert f"could not download \"{feed.url.rstrip('/')}{REPOMD}\"" in message
    assert "HTTP status 503" in message
    assert "alice" not in message
    assert "s3cr" not in message
    assert len(feed.requested(REPOMD)) == 2
    logs = worker_logs(stack)
    assert f"retrying the download of \"{feed.url.rstrip('/')}{REPOMD}\"" in logs
    assert "s3cr" not in logs


def test_basic_auth_password_hidden_in_error(api, stack, feed):
    feed.faults[REPOMD] = Fault("status", 401)
    repo_id = unique_id("cred")
    create_repo(api, repo_id, feed.url, importer_config={
        "basic_auth_username": "bob", "basic_auth_password": OPTION_PASSWORD})
    task, _ = sync(api, repo_id)
    assert task["state"] == "error", task
    message = task["error"]["description"]
    assert "HTTP status 401" in message
    assert "check basic_auth_username and basic_auth_password" in message
    assert OPTION_PASSWORD not in message
    assert OPTION_PASSWORD not in worker_logs(stack)


def test_unparsable_feed_hidden_in_error(api):
    """A feed that the API accepts but libcurl cannot parse (its port is out of range) fails
    the sync without showing the URL, which may contain a password."""
    repo_id = unique_id("cred")
    create_repo(api, repo_id, "http://alice:s3cr-9Wz@127.0.0.1:99999/")
    task, _ = sync(api, repo_id)
    assert task["state"] == "error", task
    message = task["error"]["description"]
    assert f"invalid feed of repository \"{repo_id}\": invalid URL" in message
    assert "s3cr" not in message
