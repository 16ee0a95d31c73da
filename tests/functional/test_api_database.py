"""The API while PostgreSQL is down: 503 with a Pulp error body, and recovery without
restarting httpd once PostgreSQL is back."""

from pulp_helpers import wait_until


def test_database_restart(api, anon, managed_stack):
    assert api.get("repositories/").status_code == 200
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
