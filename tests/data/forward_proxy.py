"""A forward HTTP proxy on loopback for the tests of yum_importer's proxy settings.

ForwardProxy serves absolute-URI requests (GET http://host:port/path) by fetching the URL,
and CONNECT requests by tunnelling the bytes, both only to loopback addresses. With
credentials it checks the Proxy-Authorization header (Basic) of every request and responds
407 to a missing or wrong one. It records each request, so that a test can count them.
"""

import base64
import http.client
import http.server
import ipaddress
import selectors
import socket
import socketserver
import threading
from urllib.parse import urlsplit

from server_ports import bind_free_port

# Request headers that concern the hop to the proxy and are not forwarded.
HOP_HEADERS = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}


def is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def send_empty(self, status, reason=None, headers=()):
        self.send_response(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def authorized(self):
        """Check Proxy-Authorization. When it is wrong, send 407 and return False."""
        expected = self.server.expected_authorization
        if expected is None or self.headers.get("Proxy-Authorization") == expected:
            return True
        self.server.record("rejected", self.command, self.path)
        self.send_empty(407, headers=[("Proxy-Authenticate", 'Basic realm="test proxy"')])
        return False

    def do_GET(self):
        if not self.authorized():
            return
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname or not is_loopback(target.hostname):
            self.server.record("refused", self.command, self.path)
            self.send_empty(403, "only absolute http URLs on loopback are proxied")
            return
        self.server.record("forwarded", self.command, self.path)
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in HOP_HEADERS}
        upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
        try:
            upstream.request("GET", path, headers=headers)
            response = upstream.getresponse()
            body = response.read()
        finally:
            upstream.close()
        self.send_response(response.status, response.reason)
        for name in ("Content-Type", "Location", "Last-Modified"):
            if response.getheader(name):
                self.send_header(name, response.getheader(name))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self):
        if not self.authorized():
            return
        host, _, port = self.path.rpartition(":")
        if not is_loopback(host.strip("[]")) or not port.isdigit():
            self.server.record("refused", self.command, self.path)
            self.send_empty(403, "only loopback addresses are tunnelled")
            return
        self.server.record("forwarded", self.command, self.path)
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.tunnel(upstream)
        self.close_connection = True

    def tunnel(self, upstream):
        """Copy bytes both ways until one side closes."""
        selector = selectors.DefaultSelector()
        peers = {self.connection: upstream, upstream: self.connection}
        for side in peers:
            selector.register(side, selectors.EVENT_READ)
        try:
            while not self.server.stopping.is_set():
                for key, _ in selector.select(timeout=1):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    peers[key.fileobj].sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            upstream.close()


class ForwardProxy(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """The proxy on 127.0.0.1 at a free port. With username and password it requires them.

    requests records (outcome, method, target) of every request, where outcome is
    "forwarded", "rejected" (407) or "refused" (not loopback)."""

    daemon_threads = True

    def __init__(self, username=None, password=None):
        bind_free_port(lambda port: super(ForwardProxy, self).__init__(("127.0.0.1", port),
                                                                        ProxyHandler))
        self.expected_authorization = None
        if username is not None:
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            self.expected_authorization = f"Basic {token}"
        self.requests = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    @property
    def port(self):
        return self.server_address[1]

    def record(self, outcome, method, target):
        with self.lock:
            self.requests.append((outcome, method, target))

    def count(self, outcome):
        with self.lock:
            return sum(1 for seen, _, _ in self.requests if seen == outcome)

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        self.shutdown()
        self.server_close()
