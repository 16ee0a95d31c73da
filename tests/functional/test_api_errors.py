"""Bad input to the REST API: every error comes back as a Pulp error body, never as HTML."""

import json
import socket
from urllib.parse import urlparse

import pytest

ERROR_KEYS = {"http_status", "http_request_method", "error_message", "exception", "traceback",
              "_href", "error"}


def raw_request(stack, data, read_limit=65536):
    """Send raw bytes to the stack's httpd; returns (status, headers text, body bytes)."""
    address = urlparse(stack.url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(data)
        received = b""
        while len(received) < read_limit:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head.decode("latin-1"), body


def post_raw(api, path, data):
    return api.post(path, data=data, headers={"Content-Type": "application/json"})


def test_error_body_shape(api):
    body = api.get("no-such-thing/").json()
    assert ERROR_KEYS <= set(body)
    assert body["http_status"] == 404
    assert body["error"]["code"] == "PLP0009"
    assert body["error"]["sub_errors"] == []


def test_missing_slash(api):
    response = api.get("repositories")
    assert response.status_code == 404
    assert "/pulp/api/v2/repositories/" in response.json()["error_message"]


def test_method_not_allowed(api):
    response = api.patch("repositories/")
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Allow"] == "GET, POST"


def test_head_answers_like_get(api):
    get = api.get("repositories/")
    head = api.head("repositories/")
    assert head.status_code == 200
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.content == b""


def test_head_of_missing_resource(api):
    response = api.head("repositories/no-such-repository/")
    assert response.status_code == 404


def test_head_on_post_only_route(api):
    response = api.head("repositories/no-such-repository/actions/sync/")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize("data", [b'{"id": "x"', b'{"id": }', b"nul", b'{"id": "x"} trailing'])
def test_malformed_json(api, data):
    response = post_raw(api, "repositories/", data)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "PLP0015"


def test_non_object_body(api):
    response = post_raw(api, "repositories/", b'["id"]')
    assert response.status_code == 400


def test_invalid_utf8(api):
    response = post_raw(api, "repositories/", b'{"id": "\xff\xfe"}')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "PLP0019"


def test_deep_nesting(api):
    data = b'{"id": "x", "notes": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = post_raw(api, "repositories/", data)
    assert response.status_code == 400
    assert "nests deeper" in response.json()["error_message"]


def test_body_too_large(stack):
    status, head, body = raw_request(stack, (
        "POST /pulp/api/v2/repositories/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Basic {basic(stack)}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000000000\r\n\r\n{").encode())
    assert status == 413
    assert "application/json" in head
    assert json.loads(body)["http_status"] == 413


def test_header_too_long(stack):
    status, head, body = raw_request(stack, (
        "GET /pulp/api/v2/status/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-Filler: {'a' * 20000}\r\n\r\n").encode())
    assert status == 400
    assert "application/json" in head
    assert json.loads(body)["http_status"] == 400


def test_bad_content_length(stack):
    status, head, body = raw_request(stack, (
        "POST /pulp/api/v2/repositories/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Length: abc\r\n\r\n").encode())
    assert status == 400
    assert json.loads(body)["error"]["code"] == "PLP0015"


def basic(stack):
    import base64

    return base64.b64encode(f"{stack.user}:{stack.password}".encode()).decode()


@pytest.mark.parametrize("criteria", [
    {"filters": {"$where": "sleep(10)"}},
    {"filters": {"id": {"$where": "1"}}},
    {"filters": {"name; DROP TABLE repositories": "x"}},
    {"filters": {"id": {"$gt": "a", "plain": 1}}},
    {"filters": {"id": {"$in": "not-a-list"}}},
    {"filters": {"id": {"$regex": 5}}},
    {"filters": {"id": {"$regex": "(unclosed"}}},
    {"filters": {"notes..x": 1}},
    {"filters": {"$or": []}},
    {"filters": []},
    {"sort": [["id; DROP TABLE repositories", "ascending"]]},
    {"sort": [["id", "sideways"]]},
    {"limit": -1},
    {"limit": "10"},
    {"skip": 1.5},
    {"fields": ["password"]},
    {"colour": "red"},
])
def test_hostile_criteria(api, criteria):
    response = api.post("repositories/search/", json={"criteria": criteria})
    assert response.status_code == 400, response.text
    assert ERROR_KEYS <= set(response.json())


def test_hostile_values_are_data(api):
    value = "x'; DROP TABLE repositories; --"
    response = api.post("repositories/search/", json={"criteria": {"filters": {
        "$or": [{"id": value}, {"notes.a'b": value}, {"display_name": {"$regex": value}}]}}})
    assert response.status_code == 200
    assert response.json() == []
    assert api.get("repositories/").status_code == 200


def test_nul_in_value(api):
    response = api.post("repositories/search/", json={"criteria": {"filters": {"id": "a\u0000b"}}})
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["repositories/%2e%2e/", "users/..%2Fx/", "events/../x/",
                                  "events/not-a-uuid/"])
def test_odd_ids(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
