"""Protected yum repositories: the https tree of a distributor with "protected": true is
served only to clients whose TLS certificate its auth_ca signed.

The stack's HTTPS port requests a certificate from every client (SSLVerifyClient
optional_no_ca) and mod_pulp checks it against the distributor's auth_ca. The stack sets
no PulpRepoAuthCA, so a protected distributor needs its own auth_ca."""

import subprocess
import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from tls_certs import make_certs, openssl  # noqa: E402
from yum_testing import (  # noqa: E402
    create_repo,
    primary_packages,
    publish,
    sync,
    unique_id,
)
from yum_upstream import make_test_repo, serve  # noqa: E402

REPOMD = "repodata/repomd.xml"


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    with serve(make_test_repo(tmp_path_factory.mktemp("protected") / "feed")) as server:
        yield server


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """The repositories' CA with a client certificate it signed."""
    return make_certs(tmp_path_factory.mktemp("auth-ca"))


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory):
    """Another CA, whose client certificate no protected repository trusts."""
    return make_certs(tmp_path_factory.mktemp("other-ca"))


def protected_repo(api, feed, certs, **config):
    """Create, sync and publish a protected https-only repository; returns (repo id,
    relative URL)."""
    repo_id = unique_id("protected")
    distributor_config = {"http": False, "https": True, "protected": True,
                          "auth_ca": certs.text("ca_cert")}
    distributor_config.update(config)
    relative_url = create_repo(api, repo_id, feed.url, distributor_config=distributor_config)
    task, spawned = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert [child["state"] for child in spawned] == ["finished"]
    return repo_id, relative_url


def https_get(stack, relative_url, path, client=None):
    """GET a published file over HTTPS, with client = (certificate, key) paths or None."""
    return requests.get(f"{stack.https_url}/pulp/repos/{relative_url}/{path}",
                        verify=stack.https_cert, cert=client, timeout=30)


def client_of(certs):
    return (str(certs.client_cert), str(certs.client_key))


def update_distributor(api, repo_id, config):
    return api.put(f"repositories/{repo_id}/distributors/yum/",
                   json={"distributor_config": config})


def test_client_cert_of_auth_ca_gets_tree(api, https_stack, feed, certs):
    _, relative_url = protected_repo(api, feed, certs)
    response = https_get(https_stack, relative_url, REPOMD, client_of(certs))
    assert response.status_code == 200, response.text
    assert b"<repomd" in response.content
    with requests.Session() as session:
        session.trust_env = False
        session.verify = https_stack.https_cert
        session.cert = client_of(certs)
        packages = primary_packages(
            session, f"{https_stack.https_url}/pulp/repos/{relative_url}/")
    tapir = packages[("tapir", "2.0", "1", "noarch")]
    assert https_get(https_stack, relative_url, tapir, client_of(certs)).status_code == 200


def test_no_client_cert_is_403(api, https_stack, feed, certs):
    repo_id, relative_url = protected_repo(api, feed, certs)
    response = https_get(https_stack, relative_url, REPOMD)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["http_status"] == 403
    assert body["error"]["code"] == "PLP0026"
    assert repo_id in body["error_message"]
    assert "client certificate" in body["error_message"]


def test_tree_directory_without_cert_is_403(api, https_stack, feed, certs):
    _, relative_url = protected_repo(api, feed, certs)
    assert https_get(https_stack, relative_url, "").status_code == 403
    assert https_get(https_stack, relative_url, "Packages/").status_code == 403
    assert https_get(https_stack, relative_url, "no-such-file").status_code == 403


def test_other_ca_client_cert_is_403(api, https_stack, feed, certs, other_certs):
    _, relative_url = protected_repo(api, feed, certs)
    response = https_get(https_stack, relative_url, REPOMD, client_of(other_certs))
    assert response.status_code == 403
    assert "not trusted" in response.json()["error_message"]


def test_server_purpose_cert_rejected(api, https_stack, feed, certs):
    """A certificate of the right CA whose extended key usage excludes client
    authentication does not open the tree: mod_ssl already ends the handshake."""
    _, relative_url = protected_repo(api, feed, certs)
    server = (str(certs.server_cert), str(certs.server_key))
    with pytest.raises(requests.exceptions.SSLError):
        https_get(https_stack, relative_url, REPOMD, server)


def test_plain_http_is_403(api, https_stack, feed, certs):
    _, relative_url = protected_repo(api, feed, certs, http=True)
    response = requests.get(f"{https_stack.url}/pulp/repos/{relative_url}/{REPOMD}",
                            timeout=30)
    assert response.status_code == 403
    assert "HTTPS" in response.json()["error_message"]


def test_unprotected_repo_needs_no_cert(api, https_stack, feed, certs):
    """A repository beside a protected one, and the top of the tree, stay open."""
    protected_repo(api, feed, certs)
    repo_id = unique_id("open")
    relative_url = create_repo(api, repo_id, feed.url,
                               distributor_config={"http": False, "https": True})
    task, _ = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert https_get(https_stack, relative_url, REPOMD).status_code == 200
    listing = requests.get(f"{https_stack.https_url}/pulp/repos/",
                           verify=https_stack.https_cert, timeout=30)
    assert listing.status_code == 200


def test_nested_relative_url_protected(api, https_stack, feed, certs):
    base = unique_id("nested")
    _, relative_url = protected_repo(api, feed, certs, relative_url=f"{base}/el9/x86_64")
    assert https_get(https_stack, relative_url, REPOMD).status_code == 403
    assert https_get(https_stack, relative_url, REPOMD, client_of(certs)).status_code == 200
    parent = requests.get(f"{https_stack.https_url}/pulp/repos/{base}/el9/",
                          verify=https_stack.https_cert, timeout=30)
    assert parent.status_code == 200


def test_unprotect_opens_tree(api, https_stack, feed, certs):
    repo_id, relative_url = protected_repo(api, feed, certs)
    assert https_get(https_stack, relative_url, REPOMD).status_code == 403
    response = update_distributor(api, repo_id, {"protected": False})
    assert response.status_code == 202, response.text
    task = publish(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert https_get(https_stack, relative_url, REPOMD).status_code == 200


def test_protect_closes_tree_at_once(api, https_stack, feed, certs):
    repo_id = unique_id("later")
    relative_url = create_repo(api, repo_id, feed.url,
                               distributor_config={"http": False, "https": True})
    task, _ = sync(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert https_get(https_stack, relative_url, REPOMD).status_code == 200
    response = update_distributor(api, repo_id, {"protected": True,
                                                 "auth_ca": certs.text("ca_cert")})
    assert response.status_code == 202, response.text
    assert https_get(https_stack, relative_url, REPOMD).status_code == 403
    assert https_get(https_stack, relative_url, REPOMD, client_of(certs)).status_code == 200


def test_old_relative_url_stays_protected(api, https_stack, feed, certs):
    """The link at the old path stays until the next publish, and stays protected."""
    repo_id, old_url = protected_repo(api, feed, certs)
    new_url = unique_id("moved")
    response = update_distributor(api, repo_id, {"relative_url": new_url})
    assert response.status_code == 202, response.text
    assert https_get(https_stack, old_url, REPOMD).status_code == 403
    assert https_get(https_stack, old_url, REPOMD, client_of(certs)).status_code == 200
    task = publish(api, repo_id)
    assert task["state"] == "finished", task["error"]
    assert https_get(https_stack, new_url, REPOMD).status_code == 403
    assert https_get(https_stack, new_url, REPOMD, client_of(certs)).status_code == 200


def test_old_url_taken_by_open_repo_stays_protected(api, https_stack, feed, certs):
    """Another repository may take the old relative URL of a protected one before either
    publishes. The link there still serves the protected tree, so it stays protected, also
    after the new owner publishes over http only and leaves the https link in place."""
    repo_id, old_url = protected_repo(api, feed, certs)
    response = update_distributor(api, repo_id, {"relative_url": unique_id("moved")})
    assert response.status_code == 202, response.text
    open_id = unique_id("taker")
    create_repo(api, open_id, feed.url, auto_publish=False,
                distributor_config={"relative_url": old_url, "http": True, "https": False})
    assert https_get(https_stack, old_url, REPOMD).status_code == 403
    assert https_get(https_stack, old_url, REPOMD, client_of(certs)).status_code == 200
    task, _ = sync(api, open_id)
    assert task["state"] == "finished", task["error"]
    task = publish(api, open_id)
    assert task["state"] == "finished", task["error"]
    response = https_get(https_stack, old_url, REPOMD)
    assert response.status_code == 403
    assert repo_id in response.json()["error_message"]


def test_old_url_taken_by_other_ca_repo(api, https_stack, feed, certs, other_certs):
    """A protected repository that takes the old relative URL of another one does not open
    the other one's tree to its own clients."""
    repo_id, old_url = protected_repo(api, feed, certs)
    response = update_distributor(api, repo_id, {"relative_url": unique_id("moved")})
    assert response.status_code == 202, response.text
    create_repo(api, unique_id("taker"), feed.url, auto_publish=False, distributor_config={
        "relative_url": old_url, "http": False, "https": True, "protected": True,
        "auth_ca": other_certs.text("ca_cert")})
    assert https_get(https_stack, old_url, REPOMD, client_of(other_certs)).status_code == 403
    assert https_get(https_stack, old_url, REPOMD, client_of(certs)).status_code == 403


def test_intermediate_ca_as_auth_ca(api, https_stack, feed, certs, tmp_path):
    """auth_ca may be an intermediate CA without its root."""
    intermediate = make_intermediate(tmp_path, certs)
    _, relative_url = protected_repo(api, feed, certs,
                                     auth_ca=intermediate["ca_cert"].read_text())
    client = (str(intermediate["client_cert"]), str(intermediate["client_key"]))
    assert https_get(https_stack, relative_url, REPOMD, client).status_code == 200
    assert https_get(https_stack, relative_url, REPOMD, client_of(certs)).status_code == 403


def make_intermediate(directory, root):
    """Write an intermediate CA signed by root and a client certificate it signed."""
    ca_key = directory / "intermediate.key"
    ca_cert = directory / "intermediate.crt"
    request = directory / "intermediate.csr"
    extensions = directory / "intermediate.ext"
    extensions.write_text("basicConstraints=critical,CA:TRUE\n"
                          "keyUsage=critical,keyCertSign,cRLSign\n")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
            "-subj", "/CN=Pulp test intermediate CA", "-out", str(request))
    openssl("x509", "-req", "-in", str(request), "-CA", str(root.ca_cert), "-CAkey",
            str(root.ca_key), "-CAcreateserial", "-days", "2", "-sha256", "-extfile",
            str(extensions), "-out", str(ca_cert))
    client_key = directory / "leaf.key"
    client_cert = directory / "leaf.crt"
    leaf_request = directory / "leaf.csr"
    leaf_extensions = directory / "leaf.ext"
    leaf_extensions.write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(client_key),
            "-subj", "/CN=pulp-intermediate-client", "-out", str(leaf_request))
    openssl("x509", "-req", "-in", str(leaf_request), "-CA", str(ca_cert), "-CAkey",
            str(ca_key), "-CAcreateserial", "-days", "2", "-sha256", "-extfile",
            str(leaf_extensions), "-out", str(client_cert))
    return {"ca_cert": ca_cert, "client_cert": client_cert, "client_key": client_key}


def test_dnf_installs_with_client_cert(api, https_stack, feed, certs, tmp_path):
    """dnf reads the certificate from a .repo file inside the install root."""
    _, relative_url = protected_repo(api, feed, certs)
    result = dnf_with_repo_file(tmp_path, f"{https_stack.https_url}/pulp/repos/{relative_url}/",
                                https_stack.https_cert, certs)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "usr/bin/tapir").is_file()


def test_dnf_without_client_cert_fails(api, https_stack, feed, certs, tmp_path):
    _, relative_url = protected_repo(api, feed, certs)
    result = dnf_with_repo_file(tmp_path, f"{https_stack.https_url}/pulp/repos/{relative_url}/",
                                https_stack.https_cert, None)
    assert result.returncode != 0
    assert not (tmp_path / "usr/bin/tapir").exists()


def dnf_with_repo_file(root, url, server_ca, certs):
    """Run dnf with one repository, defined in a .repo file under root with the client
    certificate of certs (None: without one)."""
    repos = root / "etc/yum.repos.d"
    repos.mkdir(parents=True)
    lines = ["[protected]", "name=protected", f"baseurl={url}", "gpgcheck=0",
             f"sslcacert={server_ca}", "skip_if_unavailable=0"]
    if certs:
        lines += [f"sslclientcert={certs.client_cert}", f"sslclientkey={certs.client_key}"]
    (repos / "protected.repo").write_text("\n".join(lines) + "\n")
    command = ["dnf", "-y", f"--installroot={root}", "--releasever=1",
               f"--setopt=reposdir={repos}", f"--setopt=cachedir={root}/cache",
               "--repo=protected", "install", "tapir"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("config, key", [
    ({"https": False, "http": True}, "https"),
    ({"auth_ca": "not a certificate"}, "auth_ca"),
    ({"auth_ca": None}, "auth_ca"),
])
def test_invalid_protected_config_is_400(api, certs, config, key):
    distributor_config = {"relative_url": unique_id("invalid"), "http": False, "https": True,
                          "protected": True, "auth_ca": certs.text("ca_cert")}
    distributor_config.update(config)
    if distributor_config["auth_ca"] is None:
        del distributor_config["auth_ca"]
    response = api.post("repositories/", json={
        "id": unique_id("invalid"),
        "distributors": [{"distributor_type_id": "yum_distributor", "distributor_id": "yum",
                          "distributor_config": distributor_config}],
    })
    assert response.status_code == 400, response.text
    body = response.json()
    assert key in body["error_message"]
    assert body["property_names"] == [key]


def test_update_to_protected_without_https_is_400(api, feed, certs):
    repo_id = unique_id("nohttps")
    create_repo(api, repo_id, feed.url)
    response = update_distributor(api, repo_id, {"protected": True,
                                                 "auth_ca": certs.text("ca_cert")})
    assert response.status_code == 400, response.text
    assert response.json()["property_names"] == ["https"]
