"""Plugin and content types from the registry, and event listeners."""

import pytest

IMPORTERS = {"yum_importer", "iso_importer", "puppet_importer"}
DISTRIBUTORS = {"yum_distributor", "iso_distributor", "puppet_distributor",
                "puppet_install_distributor"}


def test_importer_types(api):
    ids = {document["id"] for document in api.get("plugins/importers/").json()}
    assert ids >= IMPORTERS


def test_distributor_types(api):
    ids = {document["id"] for document in api.get("plugins/distributors/").json()}
    assert ids >= DISTRIBUTORS


def test_importer_type_document(api):
    document = api.get("plugins/importers/yum_importer/").json()
    assert "rpm" in document["types"]
    assert document["_href"] == "/pulp/api/v2/plugins/importers/yum_importer/"


def test_content_types(api):
    ids = {document["id"] for document in api.get("plugins/types/").json()}
    assert {"rpm", "erratum", "iso", "puppet_module"} <= ids


def test_content_type_document(api):
    document = api.get("content/types/puppet_module/").json()
    assert document["unit_key"] == ["author", "name", "version"]
    assert document["_href"] == "/pulp/api/v2/content/types/puppet_module/"


@pytest.mark.parametrize("path", ["plugins/types/nope/", "plugins/importers/nope/",
                                  "plugins/distributors/nope/", "content/types/nope/"])
def test_missing_type(api, path):
    assert api.get(path).status_code == 404


def listener(api, **fields):
    body = {"notifier_type_id": "http", "event_types": ["repo.sync.finish"],
            "notifier_config": {"url": "http://127.0.0.1:9/hook", "password": "secret"}}
    body.update(fields)
    return api.post("events/", json=body)


def test_listener_create(api):
    response = listener(api)
    assert response.status_code == 201
    document = response.json()
    assert document["notifier_type_id"] == "http"
    assert document["event_types"] == ["repo.sync.finish"]
    assert document["notifier_config"]["password"] == "*"
    assert document["_href"] == f"/pulp/api/v2/events/{document['id']}/"


def test_listener_read_list(api):
    created = listener(api).json()
    assert api.get(created["_href"]).json()["id"] == created["id"]
    assert created["id"] in [document["id"] for document in api.get("events/").json()]


def test_listener_update(api):
    created = listener(api).json()
    response = api.put(created["_href"], json={"event_types": ["*"],
                                               "notifier_config": {"username": "u"}})
    assert response.status_code == 200
    assert response.json()["event_types"] == ["*"]
    assert response.json()["notifier_config"]["username"] == "u"


def test_listener_delete(api):
    created = listener(api).json()
    assert api.delete(created["_href"]).status_code == 200
    assert api.get(created["_href"]).status_code == 404


@pytest.mark.parametrize("fields,key", [
    ({"notifier_type_id": "pigeon"}, "notifier_type_id"),
    ({"event_types": ["repo.sync.middle"]}, "event_types"),
    ({"event_types": []}, "event_types"),
    ({"event_types": "repo.sync.start"}, "event_types"),
    ({"notifier_config": {"url": "gopher://x"}}, "url"),
    ({"notifier_config": {}}, "url"),
    ({"notifier_config": {"url": "http://127.0.0.1/", "colour": 1}}, "colour"),
])
def test_listener_invalid(api, fields, key):
    response = listener(api, **fields)
    assert response.status_code == 400
    assert response.json()["property_names"] == [key]


def test_listener_missing(api):
    assert api.get("events/00000000-0000-4000-8000-000000000000/").status_code == 404
