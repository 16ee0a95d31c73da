"""Workers that reach the broker (amqps://) and PostgreSQL (sslmode=verify-full) over TLS.

A TLS relay made by the test runs in front of the stack's RabbitMQ or PostgreSQL, which
listen without TLS: it presents a certificate made by the test and forwards the decrypted
stream. For PostgreSQL, the relay first accepts the client's SSLRequest, as a server with
TLS does. The worker checks the certificate against the CAs that OpenSSL trusts by default
(which SSL_CERT_FILE replaces here) or libpq's sslrootcert, and against the host name of
its URL or connection string. For the broker, Proton matches that name against DNS names
and the common name only. The stack's own workers are stopped, so that the worker under
test is the only consumer of the task queue.
"""

import re
import socket
import ssl
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from pulp_helpers import wait_task, wait_until  # noqa: E402
from server_ports import bind_free_port  # noqa: E402
from test_tasks import diagnostic, get_task  # noqa: E402
from test_worker_lifecycle import (  # noqa: E402,F401
    close_sockets,
    copy_stream,
    database_parameters,
    extra_workers,
    stopped_workers,
)

# The code of PostgreSQL's SSLRequest message (protocol 1234.5679).
SSL_REQUEST_CODE = 80877103


def make_certificate(directory, name, subject_alt_name):
    """Make a self-signed server certificate; returns (certificate path, key path)."""
    cert = directory / f"{name}.crt"
    key = directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName={subject_alt_name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


def accept_ssl_request(client):
    """Read a PostgreSQL client's SSLRequest and accept it, as a server with TLS does."""
    length, code = struct.unpack("!II", client.recv(8, socket.MSG_WAITALL))
    if (length, code) != (8, SSL_REQUEST_CODE):
        raise OSError(f"expected an SSLRequest, got length {length} and code {code}")
    client.sendall(b"S")


class TlsRelay:
    """A loopback TLS server that forwards each connection, decrypted, to a plain port.

    preamble, if given, runs on each new connection before the TLS handshake."""

    def __init__(self, cert, key, target_port, preamble=None):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.target_port = target_port
        self.preamble = preamble
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        bind_free_port(lambda port: self.listener.bind(("127.0.0.1", port)))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(16)
        self.sockets = []
        self.handshake_errors = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            if self.preamble:
                self.preamble(client)
            secure = self.context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError) as error:
            self.handshake_errors.append(str(error))
            client.close()
            return
        server = socket.create_connection(("127.0.0.1", self.target_port))
        self.sockets += [secure, server]
        threading.Thread(target=copy_stream, args=(server, secure), daemon=True).start()
        copy_stream(secure, server)

    def close(self):
        close_sockets([self.listener, *self.sockets])


@pytest.fixture
def tls_relay(managed_stack, tmp_path):
    """Start a relay to the broker, or with database=True to PostgreSQL, with a certificate
    for localhost: relay(cert=None, key=None, database=False)."""
    relays = []

    def start(cert=None, key=None, database=False):
        if cert is None:
            cert, key = make_certificate(tmp_path, "server", "DNS:localhost")
        if database:
            relay = TlsRelay(cert, key, int(managed_stack.settings["PULP_PG_PORT"]),
                             preamble=accept_ssl_request)
        else:
            relay = TlsRelay(cert, key, int(managed_stack.settings["PULP_AMQP_PORT"]))
        relays.append(relay)
        return relay, cert

    yield start
    for relay in relays:
        relay.close()


def amqps_url(relay):
    return f"amqps://localhost:{relay.port}"


def wait_for_failures(worker, relay):
    """Wait for two failed connection attempts in the worker's log; returns the first
    message."""
    pattern = re.compile(rf"could not connect to the broker at localhost:{relay.port}: "
                         r"(.*); retrying in \d+ ms$", re.M)

    def failures():
        found = pattern.findall(worker.log())
        return found if len(found) >= 2 else None

    return wait_until(failures, timeout=30, message="two failed connections in the log")[0]


def test_worker_runs_tasks_over_amqps(api, stopped_workers, extra_workers, tls_relay):
    relay, cert = tls_relay()
    worker = extra_workers("amqps", "--broker", amqps_url(relay),
                           env={"SSL_CERT_FILE": str(cert)})
    connected = f"connected to the broker at localhost:{relay.port}"
    try:
        wait_until(lambda: connected in worker.log(), timeout=30,
                   message="the worker's connection over TLS")
    except AssertionError as error:
        raise AssertionError(f"{error}; the worker's log:\n{worker.log()[-2000:]}") from None

    report = wait_task(api, diagnostic(api), timeout=30)
    assert report["state"] == "finished"
    assert report["worker_name"] == worker.name
    assert relay.handshake_errors == []
    assert worker.stop() == 0


def test_amqps_rejects_untrusted_certificate(api, stopped_workers, extra_workers, tls_relay,
                                             tmp_path):
    relay, _ = tls_relay()
    other_ca, _ = make_certificate(tmp_path, "other", "DNS:other.invalid")
    worker = extra_workers("untrusted", "--broker", amqps_url(relay),
                           env={"SSL_CERT_FILE": str(other_ca)})
    reason = wait_for_failures(worker, relay)
    assert "certificate verify failed" in reason
    assert "SSL_CERT_FILE" in reason

    task_id = diagnostic(api)
    assert get_task(api, task_id)["state"] == "waiting"
    assert "connected to the broker" not in worker.log()
    assert worker.process.poll() is None


def test_amqps_rejects_other_host_name(api, stopped_workers, extra_workers, tls_relay,
                                       tmp_path):
    cert, key = make_certificate(tmp_path, "elsewhere", "DNS:broker.invalid")
    relay, _ = tls_relay(cert, key)
    worker = extra_workers("other-name", "--broker", amqps_url(relay),
                           env={"SSL_CERT_FILE": str(cert)})
    reason = wait_for_failures(worker, relay)
    assert "certificate verify failed" in reason
    assert "DNS subjectAltName" in reason
    assert "connected to the broker" not in worker.log()


def verify_full_conninfo(stack, relay, root_cert):
    """Return the stack's connection string through the relay with sslmode=verify-full, and
    the password, which goes through the environment."""
    parameters = database_parameters(stack)
    password = parameters.pop("password")
    parameters.update(host="localhost", port=str(relay.port), sslmode="verify-full",
                      sslrootcert=str(root_cert), gssencmode="disable")
    return " ".join(f"{key}={value}" for key, value in parameters.items()), password


def test_worker_uses_database_over_tls(api, managed_stack, stopped_workers, extra_workers,
                                       tls_relay):
    relay, cert = tls_relay(database=True)
    conninfo, password = verify_full_conninfo(managed_stack, relay, cert)
    worker = extra_workers("pg-tls", "--database", conninfo, env={"PGPASSWORD": password})

    report = wait_task(api, diagnostic(api), timeout=30)
    assert report["state"] == "finished"
    assert report["worker_name"] == worker.name
    assert relay.handshake_errors == []
    assert "could not connect to the database" not in worker.log()
    assert worker.stop() == 0


def test_database_rejects_untrusted_certificate(api, managed_stack, stopped_workers,
                                                extra_workers, tls_relay, tmp_path):
    relay, _ = tls_relay(database=True)
    other_ca, _ = make_certificate(tmp_path, "other", "DNS:other.invalid")
    conninfo, password = verify_full_conninfo(managed_stack, relay, other_ca)
    worker = extra_workers("pg-untrusted", "--database", conninfo,
                           env={"PGPASSWORD": password})
    wait_until(lambda: re.search(r"could not connect to the database: .*certificate verify "
                                 r"failed", worker.log()),
               timeout=30, message="a rejected certificate in the log")

    task_id = diagnostic(api)
    assert get_task(api, task_id)["state"] == "waiting"
    assert worker.process.poll() is None
