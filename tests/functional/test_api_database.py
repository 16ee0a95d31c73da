"""The API while PostgreSQL is down: 503 with a Pulp error body, and recovery without
restarting httpd once PostgreSQL is back."""

from concurrent.futures import ThreadPoolExecutor

import requests

from pulp_helpers import wait_until

# Concurrent clients, so that many httpd children (and threads) serve requests at once and
# each opens its pooled connection.
CLIENTS = 32
REQUESTS = 256


def get_repositories(stack):
    with requests.Session() as session:
        response = session.get(f"{stack.url}/pulp/api/v2/repositories/",
                               auth=(stack.user, stack.password), timeout=60)
        return response.status_code


def statuses_of_new_connections(stack):
    """GET /repositories/ from concurrent clients, each request on a new TCP connection."""
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(lambda _: get_repositories(stack), range(REQUESTS)))


def test_database_restart(api, anon, managed_stack):
    # Every child opens its pooled connections before PostgreSQL goes away.
    assert set(statuses_of_new_connections(managed_stack)) == {200}
    managed_stack.stop("postgresql")
    try:
        response = api.get("repositories/")
        assert response.status_code == 503
        assert response.headers["Content-Type"] == "application/json"
        assert "database" in response.json()["error_message"]
        status = anon.get("status/").json()
        assert status["database_connection"]["connected"] is False
    finally:
        managed_stack.start()
    wait_until(lambda: api.get("repositories/").status_code == 200, timeout=30,
               message="the API to reconnect to PostgreSQL")
    assert anon.get("status/").json()["database_connection"]["connected"] is True
    # No child may fail a request on a connection that died with the old server.
    assert set(statuses_of_new_connections(managed_stack)) == {200}
