"""Unit searches through the API: the units of one repository with unit association criteria
(POST /repositories/<id>/search/units/), and the content routes /content/units/<type>/ that
list, search and read units of every repository."""

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from pulp_helpers import ApiSession  # noqa: E402
from yum_testing import create_repo, sync, unique_id  # noqa: E402
from yum_upstream import TEST_RPMS, TEST_SRPMS, make_test_repo, serve  # noqa: E402

ASSOCIATION_MEMBERS = {"id", "repo_id", "unit_id", "unit_type_id", "owner_type", "owner_id",
                       "created", "updated", "metadata"}


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    with serve(make_test_repo(tmp_path_factory.mktemp("units-search") / "feed")) as server:
        yield server


@pytest.fixture(scope="module")
def repo_id(api, feed):
    """A repository synced from the test feed."""
    repo_id = unique_id("units")
    create_repo(api, repo_id, feed.url, auto_publish=False)
    task, _ = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    return repo_id


@pytest.fixture(scope="module")
def second_repo_id(api, feed):
    """A second repository synced from the same feed, so that units have two memberships."""
    repo_id = unique_id("units2")
    create_repo(api, repo_id, feed.url, auto_publish=False)
    task, _ = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    return repo_id


@pytest.fixture(scope="module")
def tapir(api, repo_id):
    """The metadata of the tapir package of repo_id. Other test modules sync packages built
    from the same spec files, so the store may hold several units named tapir."""
    associations = search_ok(api, repo_id, {"type_ids": ["rpm"],
                                            "filters": {"unit": {"name": "tapir"}}})
    assert len(associations) == 1
    return associations[0]["metadata"]


def search(api, repo_id, criteria):
    return api.post(f"repositories/{repo_id}/search/units/", json={"criteria": criteria})


def search_ok(api, repo_id, criteria):
    response = search(api, repo_id, criteria)
    assert response.status_code == 200, response.text
    return response.json()


def assert_bad_request(response, code, *words):
    """Check a 400 with the Pulp error body whose message contains every word."""
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["http_status"] == 400
    assert body["error"]["code"] == code
    for word in words:
        assert word in body["error_message"], body["error_message"]


def rpm_names(associations):
    return [a["metadata"]["name"] for a in associations]


def test_all_units(api, repo_id):
    associations = search_ok(api, repo_id, {})
    counts = api.get(f"repositories/{repo_id}/").json()["content_unit_counts"]
    assert len(associations) == sum(counts.values())
    types = {a["unit_type_id"] for a in associations}
    assert types == set(counts)


def test_association_shape(api, repo_id):
    association = search_ok(api, repo_id, {"type_ids": ["rpm"], "limit": 1})[0]
    assert ASSOCIATION_MEMBERS <= set(association)
    assert association["repo_id"] == repo_id
    assert association["unit_type_id"] == "rpm"
    assert association["owner_type"] == "importer"
    assert association["created"].endswith("Z")
    metadata = association["metadata"]
    assert metadata["_id"] == association["unit_id"]
    assert metadata["_content_type_id"] == "rpm"
    assert metadata["_href"] == f"/pulp/api/v2/content/units/rpm/{association['unit_id']}/"
    assert metadata["_storage_path"].endswith(".rpm")
    assert {"name", "version", "release", "arch", "checksum"} <= set(metadata)


def test_association_id_stable(api, repo_id):
    first = search_ok(api, repo_id, {"type_ids": ["rpm"]})
    second = search_ok(api, repo_id, {"type_ids": ["rpm"]})
    assert [a["id"] for a in first] == [a["id"] for a in second]
    assert len({a["id"] for a in first}) == len(first)


def test_type_ids(api, repo_id):
    associations = search_ok(api, repo_id, {"type_ids": ["rpm", "srpm"]})
    assert len(associations) == len(TEST_RPMS) + len(TEST_SRPMS)
    assert {a["unit_type_id"] for a in associations} == {"rpm", "srpm"}


def test_type_ids_unknown_type(api, repo_id):
    assert search_ok(api, repo_id, {"type_ids": ["no-such-type"]}) == []


def test_type_ids_empty_means_all(api, repo_id):
    assert len(search_ok(api, repo_id, {"type_ids": []})) == len(search_ok(api, repo_id, {}))


def test_unit_filter_equality(api, repo_id):
    associations = search_ok(api, repo_id, {"type_ids": ["rpm"],
                                            "filters": {"unit": {"name": "tapir"}}})
    assert rpm_names(associations) == ["tapir"]
    assert associations[0]["metadata"]["version"] == "2.0"


def test_unit_filter_in(api, repo_id):
    associations = search_ok(api, repo_id, {
        "type_ids": ["rpm"], "filters": {"unit": {"name": {"$in": ["tapir", "okapi"]}}}})
    assert sorted(rpm_names(associations)) == ["okapi", "tapir"]


def test_unit_filter_regex(api, repo_id):
    associations = search_ok(api, repo_id, {
        "type_ids": ["rpm"], "filters": {"unit": {"name": {"$regex": "^NUM", "$options": "i"}}}})
    assert sorted(rpm_names(associations)) == ["numbat", "numbat-doc"]


def test_unit_filter_missing_field(api, repo_id):
    associations = search_ok(api, repo_id, {"filters": {"unit": {"no_such_key": "x"}}})
    assert associations == []


def test_unit_filter_path(api, repo_id):
    associations = search_ok(api, repo_id, {
        "type_ids": ["erratum"],
        "filters": {"unit": {"id": "PULPC-2024:0001"}}})
    assert len(associations) == 1
    assert associations[0]["metadata"]["title"] == "tapir security update"


def test_unit_filter_list_index(api, repo_id, tapir):
    first_provide = tapir["provides"][0]["name"]
    matched = search_ok(api, repo_id, {"type_ids": ["rpm"], "filters": {"unit": {
        "name": "tapir", "provides.0.name": first_provide}}})
    assert rpm_names(matched) == ["tapir"]


def test_unit_filter_list_without_index(api, repo_id, tapir):
    first_provide = tapir["provides"][0]["name"]
    matched = search_ok(api, repo_id, {"type_ids": ["rpm"], "filters": {"unit": {
        "name": "tapir", "provides.name": first_provide}}})
    assert matched == []


def test_unit_filter_and_or(api, repo_id):
    associations = search_ok(api, repo_id, {
        "type_ids": ["rpm"],
        "filters": {"unit": {"$or": [{"name": "tapir"},
                                     {"$and": [{"name": "quokka"}, {"version": "1.1"}]}]}}})
    assert sorted((a["metadata"]["name"], a["metadata"]["version"]) for a in associations) == [
        ("quokka", "1.1"), ("tapir", "2.0")]


def test_sort_descending(api, repo_id):
    associations = search_ok(api, repo_id, {
        "type_ids": ["rpm"], "sort": {"unit": [["name", "descending"], ["version", "descending"]]}})
    names = rpm_names(associations)
    assert names == sorted(names, reverse=True)
    quokkas = [a["metadata"]["version"] for a in associations if a["metadata"]["name"] == "quokka"]
    assert quokkas == ["1.1", "1.0"]


def test_limit_and_skip(api, repo_id):
    criteria = {"type_ids": ["rpm"], "sort": {"unit": [["name", "ascending"],
                                                       ["version", "ascending"]]}}
    everything = rpm_names(search_ok(api, repo_id, criteria))
    page = rpm_names(search_ok(api, repo_id, {**criteria, "limit": 2, "skip": 1}))
    assert page == everything[1:3]


def test_skip_past_end(api, repo_id):
    assert search_ok(api, repo_id, {"type_ids": ["rpm"], "skip": 1000}) == []


def test_fields_unit(api, repo_id):
    associations = search_ok(api, repo_id, {"type_ids": ["rpm"],
                                            "fields": {"unit": ["name", "version"]}})
    assert associations
    for association in associations:
        assert set(association["metadata"]) == {"name", "version", "_id", "_content_type_id",
                                                "_href"}


def test_fields_association(api, repo_id):
    associations = search_ok(api, repo_id, {"type_ids": ["rpm"],
                                            "fields": {"association": ["created"]}})
    assert associations
    for association in associations:
        assert set(association) == {"created", "id", "unit_id", "unit_type_id", "metadata"}


def test_fields_server_members(api, repo_id, tapir):
    """Every member of the documents can be named in fields, and filtered on."""
    associations = search_ok(api, repo_id, {
        "filters": {"unit": {"_ns": "units_rpm", "_href": tapir["_href"]},
                    "association": {"repo_id": repo_id}},
        "fields": {"unit": ["_ns", "_href"], "association": ["repo_id", "id"]}})
    assert len(associations) == 1
    assert set(associations[0]) == {"id", "repo_id", "unit_id", "unit_type_id", "metadata"}
    assert associations[0]["repo_id"] == repo_id
    assert set(associations[0]["metadata"]) == {"_ns", "_href", "_id", "_content_type_id"}
    assert associations[0]["metadata"]["_ns"] == "units_rpm"
    first = search_ok(api, repo_id, {"limit": 1})[0]
    assert search_ok(api, repo_id, {"filters": {"association": {"id": first["id"]}}}) == [first]


def test_association_filter(api, repo_id):
    matched = search_ok(api, repo_id, {"filters": {"association": {"owner_type": "importer"}}})
    assert len(matched) == len(search_ok(api, repo_id, {}))
    assert search_ok(api, repo_id, {"filters": {"association": {"owner_type": "user"}}}) == []


def test_association_filter_created(api, repo_id):
    before = search_ok(api, repo_id, {
        "filters": {"association": {"created": {"$lt": "2000-01-01T00:00:00Z"}}}})
    after = search_ok(api, repo_id, {
        "filters": {"association": {"created": {"$gte": "2000-01-01T00:00:00Z"}}}})
    assert before == []
    assert len(after) == len(search_ok(api, repo_id, {}))


@pytest.mark.parametrize("value", ["yesterday", "now", "epoch", "infinity", "Jan 1 2020",
                                   "1/2/2020", "2020-01-01T", "2020-01-01T00:00:00 Z"])
def test_association_filter_created_not_iso(api, repo_id, value):
    """PostgreSQL also reads words and dates whose order depends on DateStyle."""
    response = search(api, repo_id, {"filters": {"association": {"created": {"$gt": value}}}})
    assert_bad_request(response, "PLP0015", "created", value, "ISO 8601")


@pytest.mark.parametrize("value", ["2000-01-01", "2000-01-01T00:00Z", "2000-01-01 00:00:00",
                                   "2000-01-01T00:00:00.123456+02:00", "2000-01-01T00:00:00-0130",
                                   "2000-01-01T00:00:00+02"])
def test_association_filter_created_iso(api, repo_id, value):
    associations = search_ok(api, repo_id, {
        "filters": {"association": {"created": {"$gt": value}}}})
    assert len(associations) == len(search_ok(api, repo_id, {}))


def test_association_sort(api, repo_id):
    associations = search_ok(api, repo_id, {"sort": {"association": [["unit_type_id",
                                                                      "descending"]]}})
    types = [a["unit_type_id"] for a in associations]
    assert types == sorted(types, reverse=True)


def test_remove_duplicates(api, repo_id):
    associations = search_ok(api, repo_id, {"remove_duplicates": True})
    assert len({a["unit_id"] for a in associations}) == len(associations)


def test_missing_repository(api):
    response = search(api, "no-such-repo", {})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "PLP0009"


def test_missing_criteria(api, repo_id):
    response = api.post(f"repositories/{repo_id}/search/units/", json={})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "PLP0016"


@pytest.mark.parametrize("criteria, code, words", [
    ({"filters": {"unit": {"name": {"$where": "1"}}}}, "PLP0017", ["$where"]),
    ({"filters": {"unit": {"$where": "1"}}}, "PLP0017", ["$where"]),
    ({"filters": {"unit": {"name'; DROP TABLE units; --": 1}}}, "PLP0015",
     ["invalid field name"]),
    ({"filters": {"unit": {"a\"b": 1}}}, "PLP0015", ["invalid field name"]),
    ({"filters": {"unit": {"a;b": 1}}}, "PLP0015", ["a;b"]),
    ({"filters": {"unit": {"a..b": 1}}}, "PLP0015", ["a..b"]),
    ({"filters": {"unit": {"..": 1}}}, "PLP0015", [".."]),
    ({"sort": {"unit": [["name)--", "ascending"]]}}, "PLP0015", ["name)--"]),
    ({"fields": {"unit": ["name; x"]}}, "PLP0015", ["name; x"]),
    ({"filters": {"association": {"name": "tapir"}}}, "PLP0015", ["unknown field", "name"]),
    ({"filters": {"name": "tapir"}}, "PLP0017", ["name"]),
    ({"filters": {"unit": {"name": {"$in": "tapir"}}}}, "PLP0015", ["$in", "name"]),
    ({"filters": {"association": {"created": {"$gt": 5}}}}, "PLP0015", ["created"]),
    ({"filters": {"association": {"created": {"$gt": "garbage"}}}}, "PLP0015", ["garbage"]),
    ({"filters": {"unit": {"name": {"$regex": "("}}}}, "PLP0015", ["regular expression"]),
    ({"type_ids": "rpm"}, "PLP0015", ["type_ids"]),
    ({"type_ids": [1]}, "PLP0015", ["type_ids"]),
    ({"limit": -1}, "PLP0015", ["limit"]),
    ({"limit": "5"}, "PLP0015", ["limit"]),
    ({"sort": [["name", "ascending"]]}, "PLP0015", ["sort"]),
    ({"sort": {"unit": [["name", "sideways"]]}}, "PLP0015", ["name"]),
    ({"fields": ["name"]}, "PLP0015", ["fields"]),
    ({"remove_duplicates": "yes"}, "PLP0015", ["remove_duplicates"]),
    ({"colour": "blue"}, "PLP0017", ["colour"]),
    ("everything", "PLP0015", ["criteria"]),
])
def test_bad_criteria(api, repo_id, criteria, code, words):
    assert_bad_request(search(api, repo_id, criteria), code, *words)


def test_limit_zero(api, repo_id):
    """Pulp 2 rejects a limit below 1, where MongoDB would read 0 as no limit."""
    assert_bad_request(search(api, repo_id, {"limit": 0}), "PLP0015", "limit")


def test_sort_key_limit(api, repo_id):
    keys = [[f"key{i}", "ascending"] for i in range(33)]
    assert_bad_request(search(api, repo_id, {"sort": {"unit": keys}}), "PLP0015", "sort", "32")
    keys = [[f"key{i}", "ascending"] for i in range(2000)]
    assert_bad_request(search(api, repo_id, {"sort": {"unit": keys}}), "PLP0015", "sort")
    assert search_ok(api, repo_id, {"sort": {"unit": keys[:32]}, "type_ids": ["rpm"]})


def test_regex_backreferences_time_out(api, repo_id):
    """Backreferences make PostgreSQL's regular expressions backtrack: this pattern runs for
    minutes or more on a description of 150 characters unless the search has a time limit."""
    pattern = "^(.*)(.*)(.*)(.*)(.*)(.*)\\6\\5\\4\\3\\2\\1$"
    response = search(api, repo_id, {"filters": {"unit": {"description": {"$regex": pattern}}}})
    assert_bad_request(response, "PLP0015", "$regex", "time")
    response = api.post("content/units/rpm/search/", json={"criteria": {
        "filters": {"description": {"$regex": pattern}}}})
    assert_bad_request(response, "PLP0015", "$regex", "time")
    assert search_ok(api, repo_id, {"filters": {"unit": {"name": {"$regex": "^(t)apir$"}}}})


@pytest.mark.parametrize("criteria, words", [
    ({"filters": {"unit": {"name": "a\u0000b"}}}, ["name", "NUL"]),
    ({"filters": {"unit": {"requires": {"$in": [{"name": "\u0000"}]}}}}, ["requires", "NUL"]),
    ({"filters": {"unit": {"name": {"$regex": "a\u0000"}}}}, ["name", "NUL"]),
    ({"filters": {"unit": {".".join(["a"] * 65): 1}}}, ["a.a.a.a"]),
])
def test_bad_value_named(api, repo_id, criteria, words):
    assert_bad_request(search(api, repo_id, criteria), "PLP0015", *words)


def test_invalid_json(api, repo_id):
    response = api.post(f"repositories/{repo_id}/search/units/", data=b'{"criteria": {',
                        headers={"Content-Type": "application/json"})
    assert_bad_request(response, "PLP0015")


@pytest.mark.parametrize("body", [b"null", b"12", b"true"])
def test_body_not_object(api, repo_id, body):
    response = api.post(f"repositories/{repo_id}/search/units/", data=body,
                        headers={"Content-Type": "application/json"})
    assert_bad_request(response, "PLP0015", "JSON object")


def test_unknown_body_member(api, repo_id):
    response = api.post(f"repositories/{repo_id}/search/units/",
                        json={"criteria": {}, "include_repos": True})
    assert_bad_request(response, "PLP0017", "include_repos")


def test_get_not_allowed(api, repo_id):
    assert api.get(f"repositories/{repo_id}/search/units/").status_code == 405


def test_content_list(api, repo_id):
    response = api.get("content/units/rpm/")
    assert response.status_code == 200
    units = response.json()
    assert {"tapir", "okapi", "quokka", "numbat", "numbat-doc"} <= {u["name"] for u in units}
    for unit in units:
        assert unit["_content_type_id"] == "rpm"
        assert unit["_href"] == f"/pulp/api/v2/content/units/rpm/{unit['_id']}/"
        assert "repository_memberships" not in unit


def test_content_list_include_repos(api, repo_id, second_repo_id, tapir):
    response = api.get("content/units/rpm/", params={"include_repos": "true"})
    assert response.status_code == 200
    units = [u for u in response.json() if u["_id"] == tapir["_id"]]
    assert len(units) == 1
    assert {repo_id, second_repo_id} <= set(units[0]["repository_memberships"])


def test_content_list_unknown_type(api):
    response = api.get("content/units/no-such-type/")
    assert response.status_code == 200
    assert response.json() == []


def test_content_search_post(api, repo_id, second_repo_id, tapir):
    response = api.post("content/units/rpm/search/", json={
        "criteria": {"filters": {"name": "tapir", "checksum": tapir["checksum"]},
                     "fields": ["name", "version"]},
        "include_repos": True})
    assert response.status_code == 200, response.text
    units = response.json()
    assert len(units) == 1
    assert set(units[0]) == {"name", "version", "_id", "_content_type_id", "_href",
                             "repository_memberships"}
    assert units[0]["_id"] == tapir["_id"]
    assert units[0]["version"] == "2.0"
    assert {repo_id, second_repo_id} <= set(units[0]["repository_memberships"])


def test_content_search_get(api, repo_id):
    response = api.get("content/units/rpm/search/", params={
        "filters": '{"name": {"$in": ["okapi", "tapir"]}}', "sort": '[["name", "descending"]]',
        "field": ["name"], "limit": "1"})
    assert response.status_code == 200, response.text
    units = response.json()
    assert [u["name"] for u in units] == ["tapir"]
    assert "repository_memberships" not in units[0]


@pytest.mark.parametrize("direction", ["DESCENDING", "Descending", "-1", -1])
def test_content_search_sort_direction_spellings(api, repo_id, direction):
    """Pulp 2 reads the direction as text without regard to case, and "1" or "-1"."""
    response = api.post("content/units/rpm/search/", json={"criteria": {
        "sort": [["name", direction]], "fields": ["name"]}})
    assert response.status_code == 200, response.text
    names = [u["name"] for u in response.json()]
    assert names == sorted(names, reverse=True)


def test_content_search_sort_skip(api, repo_id):
    criteria = {"filters": {"name": {"$regex": "^(okapi|quokka|tapir)$"}},
                "sort": [["name", "ascending"], ["version", "ascending"]]}
    everything = api.post("content/units/rpm/search/", json={"criteria": criteria}).json()
    page = api.post("content/units/rpm/search/",
                    json={"criteria": {**criteria, "skip": 1, "limit": 2}}).json()
    assert [u["_id"] for u in page] == [u["_id"] for u in everything[1:3]]


@pytest.mark.parametrize("filters", [
    {"size": {"$gt": "1"}},
    {"name": {"$lt": 5}},
    {"name": {"$lt": {}}},
    {"size": {"$regex": "^[0-9]+$"}},
    {"requires": {"$regex": "name"}},
])
def test_content_search_compares_same_type(api, repo_id, filters):
    """As in MongoDB, $gt, $lt and $regex match only values of the operand's type."""
    response = api.post("content/units/rpm/search/", json={"criteria": {"filters": filters}})
    assert response.status_code == 200, response.text
    assert response.json() == []


def test_content_search_same_type_matches(api, repo_id):
    response = api.post("content/units/rpm/search/", json={"criteria": {
        "filters": {"size": {"$gt": 1}, "name": {"$regex": "^tapir$", "$gte": "t"}}}})
    assert response.status_code == 200, response.text
    assert {u["name"] for u in response.json()} == {"tapir"}


def test_content_search_server_fields(api, repo_id):
    tapir = api.post("content/units/rpm/search/",
                     json={"criteria": {"filters": {"name": "tapir"}}}).json()[0]
    response = api.post("content/units/rpm/search/",
                        json={"criteria": {"filters": {"_id": tapir["_id"]}}})
    assert [u["name"] for u in response.json()] == ["tapir"]
    response = api.post("content/units/rpm/search/", json={"criteria": {
        "filters": {"_storage_path": tapir["_storage_path"]}}})
    assert [u["_id"] for u in response.json()] == [tapir["_id"]]


@pytest.mark.parametrize("criteria, code", [
    ({"filters": {"name": {"$foo": 1}}}, "PLP0017"),
    ({"filters": {"x'); DROP TABLE units; --": 1}}, "PLP0015"),
    ({"filters": {"_secret": 1}}, "PLP0015"),
    ({"sort": [["a b", "ascending"]]}, "PLP0015"),
    ({"fields": "name"}, "PLP0015"),
    ({"skip": -3}, "PLP0015"),
])
def test_content_search_bad_criteria(api, criteria, code):
    assert_bad_request(api.post("content/units/rpm/search/", json={"criteria": criteria}), code)


def test_content_search_bad_include_repos(api):
    response = api.post("content/units/rpm/search/", json={"criteria": {},
                                                          "include_repos": "maybe"})
    assert_bad_request(response, "PLP0015", "include_repos")


def test_content_search_get_bad_json(api):
    response = api.get("content/units/rpm/search/", params={"filters": "{name"})
    assert_bad_request(response, "PLP0015", "filters")


@pytest.mark.parametrize("filters", ['{"name": "tapir"} garbage', '{"name": "tapir"}}',
                                     b'{"name": "\xff"}'])
def test_content_search_get_invalid_filters(api, filters):
    response = api.get("content/units/rpm/search/", params={"filters": filters})
    assert response.status_code == 400, response.text
    assert "filters" in response.json()["error_message"]


def test_content_search_get_null_filters(api, repo_id):
    everything = api.get("content/units/rpm/search/")
    response = api.get("content/units/rpm/search/", params={"filters": "null", "sort": "null"})
    assert response.status_code == 200, response.text
    assert response.json() == everything.json()


def test_content_search_get_limit_zero(api):
    response = api.get("content/units/rpm/search/", params={"limit": "0"})
    assert_bad_request(response, "PLP0015", "limit")


def test_content_search_wrong_method(api):
    response = api.put("content/units/rpm/search/", json={"criteria": {}})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "PLP0000"
    assert response.headers["Allow"] == "GET, POST"


def test_content_get_unit(api, repo_id):
    tapir = api.post("content/units/rpm/search/",
                     json={"criteria": {"filters": {"name": "tapir"}}}).json()[0]
    response = api.get(f"content/units/rpm/{tapir['_id']}/")
    assert response.status_code == 200
    assert response.json() == tapir


@pytest.mark.parametrize("unit_id", [str(uuid.uuid4()), "not-a-uuid", "x%27%3B"])
def test_content_get_missing(api, unit_id):
    response = api.get(f"content/units/rpm/{unit_id}/")
    assert response.status_code == 404
    body = response.json()
    assert body["error"]["code"] == "PLP0009"
    assert "unit" in body["error_message"]


def test_content_get_wrong_type(api, repo_id):
    tapir = api.post("content/units/rpm/search/",
                     json={"criteria": {"filters": {"name": "tapir"}}}).json()[0]
    assert api.get(f"content/units/erratum/{tapir['_id']}/").status_code == 404


@pytest.fixture
def reader(api, stack):
    """A user with READ on /v2/content/units/ only: (login, session)."""
    login = unique_id("reader")
    password = uuid.uuid4().hex
    response = api.post("users/", json={"login": login, "password": password})
    assert response.status_code == 201, response.text
    response = api.post("permissions/actions/grant_to_user/", json={
        "login": login, "resource": "/v2/content/units/", "operations": ["READ"]})
    assert response.status_code == 200, response.text
    with ApiSession(stack.url, auth=(login, password)) as session:
        yield login, session
    api.delete(f"users/{login}/")


def test_repository_search_needs_read(api, reader, repo_id):
    login, session = reader
    response = session.post(f"repositories/{repo_id}/search/units/", json={"criteria": {}})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PLP0026"
    response = api.post("permissions/actions/grant_to_user/", json={
        "login": login, "resource": f"/v2/repositories/{repo_id}/", "operations": ["READ"]})
    assert response.status_code == 200, response.text
    response = session.post(f"repositories/{repo_id}/search/units/", json={"criteria": {}})
    assert response.status_code == 200


def test_content_routes_need_read(api, reader, stack):
    login, session = reader
    assert session.get("content/units/rpm/").status_code == 200
    response = api.post("permissions/actions/revoke_from_user/", json={
        "login": login, "resource": "/v2/content/units/", "operations": ["READ"]})
    assert response.status_code == 200, response.text
    for response in (session.get("content/units/rpm/"),
                     session.get("content/units/rpm/search/"),
                     session.post("content/units/rpm/search/", json={"criteria": {}}),
                     session.get(f"content/units/rpm/{uuid.uuid4()}/")):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "PLP0026"
