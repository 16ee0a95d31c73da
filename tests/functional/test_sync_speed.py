"""yum_importer's max_speed: each download of a sync is limited to max_speed bytes per
second.

The feed carries one large metadata file of random text, which the sync downloads as a
yum_repo_metadata_file unit. The test asserts only a lower
bound on the sync's duration, with a wide margin, since a busy machine makes any sync
slower but never faster."""

import base64
import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from pulp_helpers import wait_task  # noqa: E402
from yum_testing import create_repo, start_sync, unique_id, unit_counts  # noqa: E402
from yum_upstream import add_metadata, make_repo, serve  # noqa: E402

# Each case: (size of the random text, max_speed, further importer settings). modifyrepo_c
# compresses the file with gzip, which shrinks base64 text of random bytes to about 3/4,
# so each feed file downloads for about 5 s at its max_speed. In the second case each
# 16 KiB buffer that libcurl reads waits for 4 s, longer than read_timeout, which a pause
# must not count as a stall.
CASES = {
    "large-file": (448 * 1024, 64 * 1024, {}),
    "pause-beyond-read-timeout": (28 * 1024, 4 * 1024, {"read_timeout": 2}),
}
# A file must be large enough for the limit to show over the time of a sync.
MIN_SECONDS_AT_LIMIT = 4
# The lower bound on the time leaves 40 % of size / max_speed as margin.
MARGIN = 0.6


def make_feed(feed_dir, text_size):
    """Make a repository without packages and with one metadata file of random text; returns
    the size of that file in the feed."""
    make_repo(feed_dir, [])
    blob = feed_dir.parent / "blob.txt"
    blob.write_bytes(base64.b64encode(os.urandom(text_size * 3 // 4)))
    add_metadata(feed_dir, blob, "blob")
    (path,) = (feed_dir / "repodata").glob("*blob*")
    return path.stat().st_size


def timed_sync(api, repo_id):
    """Sync and return the final sync task and the seconds from the request to its end."""
    started = time.monotonic()
    href = start_sync(api, repo_id)["spawned_tasks"][0]["_href"]
    task = wait_task(api, href, timeout=120, interval=0.05)
    return task, time.monotonic() - started


@pytest.mark.parametrize("case", CASES)
def test_max_speed_limits_download(api, tmp_path, case):
    text_size, max_speed, settings = CASES[case]
    size = make_feed(tmp_path / "feed", text_size)
    assert size / max_speed >= MIN_SECONDS_AT_LIMIT
    min_seconds = MARGIN * size / max_speed
    repo_id = unique_id("speed")
    with serve(tmp_path / "feed") as feed:
        create_repo(api, repo_id, feed.url,
                    importer_config={"max_speed": max_speed, **settings})
        task, elapsed = timed_sync(api, repo_id)
        blob_requests = [path for path, _ in feed.requests if "blob" in path]
    assert task["state"] == "finished", task["error"]
    assert unit_counts(api, repo_id)["yum_repo_metadata_file"] == 1
    assert len(blob_requests) == 1
    assert elapsed >= min_seconds, (
        f"{size} bytes at max_speed {max_speed} B/s took {elapsed:.2f} s, less than "
        f"{min_seconds:.2f} s")
