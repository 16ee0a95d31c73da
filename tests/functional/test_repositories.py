"""Repositories through the REST API: create, read, list, search, update, delete, importers,
distributors, sync and publish dispatch, history."""

import uuid

import pytest

from pulp_helpers import run_sql, task_href

ERROR_KEYS = {"http_status", "http_request_method", "error_message", "exception", "traceback",
              "_href", "error"}


def unique(prefix="repo"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def yum_distributor(relative_url, distributor_id="yum", auto_publish=False):
    return {
        "distributor_type_id": "yum_distributor",
        "distributor_id": distributor_id,
        "distributor_config": {"relative_url": relative_url, "http": True, "https": False},
        "auto_publish": auto_publish,
    }


def create(api, repo_id, **fields):
    body = {"id": repo_id, **fields}
    response = api.post("repositories/", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def error_code(response):
    return response.json()["error"]["code"]


@pytest.fixture
def repo(api):
    repo_id = unique()
    create(api, repo_id, display_name="Zoo", notes={"env": "test"},
           importer_type_id="yum_importer",
           importer_config={"feed": "http://127.0.0.1:9/zoo/", "basic_auth_username": "u",
                            "basic_auth_password": "secret"},
           distributors=[yum_distributor(repo_id, auto_publish=True)])
    return repo_id


def test_create_shape(api):
    repo_id = unique()
    document = create(api, repo_id, description="d", notes={"a": "b"})
    assert document["id"] == repo_id
    assert document["display_name"] == repo_id
    assert document["description"] == "d"
    assert document["notes"] == {"a": "b"}
    assert document["content_unit_counts"] == {}
    assert document["last_unit_added"] is None
    assert document["last_unit_removed"] is None
    assert document["_href"] == f"/pulp/api/v2/repositories/{repo_id}/"


def test_create_location_header(api):
    repo_id = unique()
    response = api.post("repositories/", json={"id": repo_id})
    assert response.headers["Location"].endswith(f"/pulp/api/v2/repositories/{repo_id}/")


def test_get_details(api, repo):
    document = api.get(f"repositories/{repo}/?details=true").json()
    importer = document["importers"][0]
    distributor = document["distributors"][0]
    assert importer["importer_type_id"] == "yum_importer"
    assert importer["id"] == "yum_importer"
    assert importer["config"]["feed"] == "http://127.0.0.1:9/zoo/"
    assert importer["_href"] == f"/pulp/api/v2/repositories/{repo}/importers/yum_importer/"
    assert distributor["id"] == "yum"
    assert distributor["auto_publish"] is True
    assert distributor["config"]["relative_url"] == repo
    assert distributor["_href"] == f"/pulp/api/v2/repositories/{repo}/distributors/yum/"


def test_get_hides_passwords(api, repo):
    importer = api.get(f"repositories/{repo}/importers/yum_importer/").json()
    assert importer["config"]["basic_auth_password"] == "*"


def test_get_without_flags(api, repo):
    document = api.get(f"repositories/{repo}/").json()
    assert "importers" not in document
    assert "distributors" not in document


def test_get_importers_flag(api, repo):
    document = api.get(f"repositories/{repo}/?importers=true").json()
    assert len(document["importers"]) == 1
    assert "distributors" not in document


def test_get_missing(api):
    response = api.get("repositories/no-such-repo/")
    assert response.status_code == 404
    assert error_code(response) == "PLP0009"
    assert "no-such-repo" in response.json()["error_message"]


def test_list_contains(api, repo):
    ids = [document["id"] for document in api.get("repositories/").json()]
    assert repo in ids


def test_list_sorted(api, repo):
    ids = [document["id"] for document in api.get("repositories/").json()]
    assert ids == sorted(ids)


def test_duplicate_id(api, repo):
    response = api.post("repositories/", json={"id": repo})
    assert response.status_code == 409
    assert error_code(response) == "PLP0018"


@pytest.mark.parametrize("bad_id", ["../x", ".", "..", "a b", "", "zoo/x", "é", "a" * 256])
def test_invalid_id(api, bad_id):
    response = api.post("repositories/", json={"id": bad_id})
    assert response.status_code == 400
    assert response.json()["property_names"] == ["id"]


@pytest.mark.parametrize("body,key", [
    ({"display_name": 5}, "display_name"),
    ({"notes": "x"}, "notes"),
    ({"distributors": {}}, "distributors"),
    ({"importer_config": []}, "importer_config"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_member(api, body, key):
    response = api.post("repositories/", json={"id": unique(), **body})
    assert response.status_code == 400
    assert response.json()["property_names"] == [key]


def test_missing_id(api):
    response = api.post("repositories/", json={"display_name": "x"})
    assert response.status_code == 400
    assert error_code(response) == "PLP0016"


def test_unknown_importer_type(api):
    response = api.post("repositories/", json={"id": unique(), "importer_type_id": "nope"})
    assert response.status_code == 400
    assert response.json()["property_names"] == ["importer_type_id"]


def test_unknown_importer_key(api):
    repo_id = unique()
    response = api.post("repositories/", json={
        "id": repo_id, "importer_type_id": "yum_importer", "importer_config": {"fed": "x"}})
    assert response.status_code == 400
    assert response.json()["property_names"] == ["fed"]


def test_wrong_importer_type(api):
    response = api.post("repositories/", json={
        "id": unique(), "importer_type_id": "iso_importer",
        "importer_config": {"max_downloads": "many"}})
    assert response.status_code == 400
    assert response.json()["property_names"] == ["max_downloads"]


@pytest.mark.parametrize("relative_url", ["../x", "a/../../x", "/abs", "a\u0000b", "a//b", ""])
def test_unsafe_relative_url(api, relative_url):
    repo_id = unique()
    response = api.post("repositories/", json={
        "id": repo_id, "distributors": [yum_distributor(relative_url)]})
    assert response.status_code == 400
    assert response.json()["property_names"] == ["relative_url"]


def test_relative_url_collision(api, repo):
    response = api.post("repositories/", json={
        "id": unique(), "distributors": [yum_distributor(repo)]})
    assert response.status_code == 400
    assert response.json()["property_names"] == ["relative_url"]


def test_relative_url_collision_trailing_slash(api, repo):
    response = api.post("repositories/", json={
        "id": unique(), "distributors": [yum_distributor(repo + "/")]})
    assert response.status_code == 400
    assert response.json()["property_names"] == ["relative_url"]


def test_create_all_or_nothing(api):
    repo_id = unique()
    response = api.post("repositories/", json={
        "id": repo_id, "importer_type_id": "yum_importer",
        "distributors": [yum_distributor(repo_id), {"distributor_type_id": "nope"}]})
    assert response.status_code == 400
    assert api.get(f"repositories/{repo_id}/").status_code == 404


def test_update_delta(api, repo):
    response = api.put(f"repositories/{repo}/", json={
        "delta": {"display_name": "New", "description": "text", "notes": {"env": None, "k": "v"}}})
    assert response.status_code == 200
    document = response.json()
    assert document["display_name"] == "New"
    assert document["description"] == "text"
    assert document["notes"] == {"k": "v"}


def test_update_configs(api, repo):
    response = api.put(f"repositories/{repo}/", json={
        "importer_config": {"max_downloads": 2, "basic_auth_username": None,
                            "basic_auth_password": None},
        "distributor_configs": {"yum": {"relative_url": f"{repo}/moved"}}})
    assert response.status_code == 200
    document = response.json()
    assert document["importers"][0]["config"] == {"feed": "http://127.0.0.1:9/zoo/",
                                                  "max_downloads": 2}
    assert document["distributors"][0]["config"]["relative_url"] == f"{repo}/moved"


def test_update_invalid_config_changes_nothing(api, repo):
    response = api.put(f"repositories/{repo}/", json={
        "delta": {"display_name": "Changed"},
        "importer_config": {"max_downloads": -1}})
    assert response.status_code == 400
    assert api.get(f"repositories/{repo}/").json()["display_name"] == "Zoo"


def test_update_missing(api):
    response = api.put("repositories/no-such-repo/", json={"delta": {}})
    assert response.status_code == 404


def test_delete_dispatches_task(api, repo):
    response = api.delete(f"repositories/{repo}/")
    assert response.status_code == 202
    report = response.json()
    assert report["result"] is None
    task = api.get(task_href(report)).json()
    assert task["task_type"] == "pulp.server.tasks.repository.delete"
    assert f"pulp:repository:{repo}" in task["tags"]
    assert "pulp:action:delete" in task["tags"]


def test_delete_missing(api):
    assert api.delete("repositories/no-such-repo/").status_code == 404


def test_search_filters(api, repo):
    response = api.post("repositories/search/", json={
        "criteria": {"filters": {"$and": [{"id": repo}, {"notes.env": "test"}]}}})
    assert response.status_code == 200
    assert [document["id"] for document in response.json()] == [repo]


def test_search_fields(api, repo):
    response = api.post("repositories/search/", json={
        "criteria": {"filters": {"id": repo}, "fields": ["display_name"]}})
    assert response.json() == [{"id": repo, "display_name": "Zoo",
                                "_href": f"/pulp/api/v2/repositories/{repo}/"}]


def test_search_sort_limit(api, repo):
    other = unique()
    create(api, other)
    response = api.post("repositories/search/", json={"criteria": {
        "filters": {"id": {"$in": [repo, other]}}, "sort": [["id", "descending"]],
        "limit": 1}})
    assert [document["id"] for document in response.json()] == [max(repo, other)]


def test_search_skip(api, repo):
    other = unique()
    create(api, other)
    response = api.post("repositories/search/", json={"criteria": {
        "filters": {"id": {"$in": [repo, other]}}, "sort": [["id", "ascending"]], "skip": 1}})
    assert [document["id"] for document in response.json()] == [max(repo, other)]


def test_search_regex(api, repo):
    response = api.post("repositories/search/", json={
        "criteria": {"filters": {"id": {"$regex": "^" + repo.upper(), "$options": "i"}}}})
    assert [document["id"] for document in response.json()] == [repo]


def test_search_get(api, repo):
    response = api.get("repositories/search/", params={
        "filters": f'{{"id": "{repo}"}}', "field": "id"})
    assert response.status_code == 200
    assert [document["id"] for document in response.json()] == [repo]


def test_search_details(api, repo):
    response = api.post("repositories/search/", json={
        "criteria": {"filters": {"id": repo}}, "importers": True})
    assert response.json()[0]["importers"][0]["importer_type_id"] == "yum_importer"


def test_importer_list(api, repo):
    importers = api.get(f"repositories/{repo}/importers/").json()
    assert [importer["id"] for importer in importers] == ["yum_importer"]


def test_importer_replace(api, repo):
    response = api.post(f"repositories/{repo}/importers/", json={
        "importer_type_id": "iso_importer", "importer_config": {"feed": "http://127.0.0.1:9/"}})
    assert response.status_code == 202
    task = api.get(task_href(response.json())).json()
    assert task["state"] == "finished"
    assert task["result"]["importer_type_id"] == "iso_importer"


def test_importer_update(api, repo):
    response = api.put(f"repositories/{repo}/importers/yum_importer/", json={
        "importer_config": {"validate": False}})
    assert response.status_code == 202
    importer = api.get(f"repositories/{repo}/importers/yum_importer/").json()
    assert importer["config"]["validate"] is False


def test_importer_update_invalid(api, repo):
    response = api.put(f"repositories/{repo}/importers/yum_importer/", json={
        "importer_config": {"remove_missing": "maybe"}})
    assert response.status_code == 400
    assert response.json()["property_names"] == ["remove_missing"]


def test_importer_remove(api, repo):
    response = api.delete(f"repositories/{repo}/importers/yum_importer/")
    assert response.status_code == 202
    assert api.get(f"repositories/{repo}/importers/").json() == []


def test_importer_missing(api, repo):
    assert api.get(f"repositories/{repo}/importers/iso_importer/").status_code == 404


def test_distributor_add(api, repo):
    response = api.post(f"repositories/{repo}/distributors/", json={
        "distributor_type_id": "iso_distributor", "distributor_id": "iso",
        "distributor_config": {"serve_http": True}})
    assert response.status_code == 201
    assert response.json()["distributor_type_id"] == "iso_distributor"


def test_distributor_add_generates_id(api, repo):
    response = api.post(f"repositories/{repo}/distributors/", json={
        "distributor_type_id": "iso_distributor"})
    assert response.status_code == 201
    assert len(response.json()["id"]) == 36


def test_distributor_duplicate(api, repo):
    response = api.post(f"repositories/{repo}/distributors/", json={
        "distributor_type_id": "iso_distributor", "distributor_id": "yum"})
    assert response.status_code == 409


def test_distributor_update(api, repo):
    response = api.put(f"repositories/{repo}/distributors/yum/", json={
        "distributor_config": {"https": True}, "delta": {"auto_publish": False}})
    assert response.status_code == 202
    distributor = api.get(f"repositories/{repo}/distributors/yum/").json()
    assert distributor["config"]["https"] is True
    assert distributor["auto_publish"] is False


def test_distributor_update_missing_required(api, repo):
    response = api.put(f"repositories/{repo}/distributors/yum/", json={
        "distributor_config": {"http": None}})
    assert response.status_code == 400
    assert response.json()["property_names"] == ["http"]


def test_distributor_remove_dispatches(api, repo):
    response = api.delete(f"repositories/{repo}/distributors/yum/")
    assert response.status_code == 202
    task = api.get(task_href(response.json())).json()
    assert task["task_type"] == "pulp.server.managers.repo.distributor.remove_distributor"


def test_distributor_missing(api, repo):
    assert api.delete(f"repositories/{repo}/distributors/nope/").status_code == 404


def test_sync_dispatches(api, repo):
    response = api.post(f"repositories/{repo}/actions/sync/", json={
        "override_config": {"max_downloads": 1}})
    assert response.status_code == 202
    task = api.get(task_href(response.json())).json()
    assert task["task_type"] == "pulp.server.managers.repo.sync.sync"
    assert set(task["tags"]) >= {f"pulp:repository:{repo}", "pulp:action:sync"}


def test_sync_bad_override(api, repo):
    response = api.post(f"repositories/{repo}/actions/sync/", json={
        "override_config": {"max_downloads": "x"}})
    assert response.status_code == 400


def test_sync_without_importer(api):
    repo_id = unique()
    create(api, repo_id)
    response = api.post(f"repositories/{repo_id}/actions/sync/", json={})
    assert response.status_code == 404
    assert error_code(response) == "PLP0009"


def test_publish_dispatches(api, repo):
    response = api.post(f"repositories/{repo}/actions/publish/", json={"id": "yum"})
    assert response.status_code == 202
    task = api.get(task_href(response.json())).json()
    assert task["task_type"] == "pulp.server.managers.repo.publish.publish"
    assert "pulp:action:publish" in task["tags"]


def test_publish_missing_distributor(api, repo):
    response = api.post(f"repositories/{repo}/actions/publish/", json={"id": "nope"})
    assert response.status_code == 404


def test_publish_without_id(api, repo):
    response = api.post(f"repositories/{repo}/actions/publish/", json={})
    assert response.status_code == 400
    assert error_code(response) == "PLP0016"


def test_sync_history_empty(api, repo):
    response = api.get(f"repositories/{repo}/history/sync/")
    assert response.status_code == 200
    assert response.json() == []


def test_publish_history_missing_distributor(api, repo):
    assert api.get(f"repositories/{repo}/history/publish/nope/").status_code == 404


def test_history_bad_sort(api, repo):
    response = api.get(f"repositories/{repo}/history/sync/", params={"sort": "sideways"})
    assert response.status_code == 400


def test_history_bad_date(api, repo):
    response = api.get(f"repositories/{repo}/history/sync/", params={"start_date": "2026-13-45"})
    assert response.status_code == 400


def test_errors_have_pulp_body(api):
    response = api.get("repositories/no-such-repo/")
    assert ERROR_KEYS <= set(response.json())


def listed(api, repo_id, flags=""):
    documents = api.get(f"repositories/{flags}").json()
    return next((document for document in documents if document["id"] == repo_id), None)


def test_list_sees_own_writes(api):
    repo_id = unique()
    for flags in ("", "?details=true"):
        api.get(f"repositories/{flags}")
    create(api, repo_id, distributors=[yum_distributor(repo_id)])
    assert listed(api, repo_id) is not None
    api.put(f"repositories/{repo_id}/", json={"delta": {"display_name": "Renamed"}})
    assert listed(api, repo_id)["display_name"] == "Renamed"
    api.put(f"repositories/{repo_id}/distributors/yum/", json={"delta": {"auto_publish": True}})
    assert listed(api, repo_id, "?details=true")["distributors"][0]["auto_publish"] is True


def test_list_sees_database_changes(api, stack):
    """A worker changes rows directly; the cached lists must follow at once."""
    repo_id = unique()
    create(api, repo_id)
    assert listed(api, repo_id)["last_unit_added"] is None
    run_sql(stack, "UPDATE repositories SET last_unit_added = '2026-01-02T03:04:05Z'"
                   " WHERE id = :'repo';", repo=repo_id)
    assert listed(api, repo_id)["last_unit_added"] == "2026-01-02T03:04:05Z"
