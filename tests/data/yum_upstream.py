"""Upstream yum repositories for the tests, the demo and the benchmarks.

Packages are built with rpmbuild from the spec files in tests/data/specs, and repodata is
made with createrepo_c and modifyrepo_c. FeedServer serves a directory over HTTP or HTTPS
on loopback, with per-path faults (404, stalls, early close, slow trickle, corrupt bytes,
redirects) for the tests of bad upstreams.
"""

import contextlib
import http.server
import os
import shutil
import socketserver
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

from server_ports import bind_free_port

DATA_DIR = Path(__file__).resolve().parent
SPEC_DIR = DATA_DIR / "specs"
CHECKOUT = DATA_DIR.parents[1]
ZOO_DIR = CHECKOUT.parent / "shared" / "fixtures" / "rpm-zoo"

# The binary packages that build_rpms() makes from tests/data/specs by default, and the
# source packages that come with them.
TEST_RPMS = (
    "numbat-0.3-2.noarch.rpm",
    "numbat-doc-0.3-2.noarch.rpm",
    "okapi-1.0-1.noarch.rpm",
    "quokka-1.0-1.noarch.rpm",
    "quokka-1.1-1.noarch.rpm",
    "tapir-2.0-1.noarch.rpm",
)
TEST_SRPMS = (
    "numbat-0.3-2.src.rpm",
    "okapi-1.0-1.src.rpm",
    "quokka-1.0-1.src.rpm",
    "quokka-1.1-1.src.rpm",
    "tapir-2.0-1.src.rpm",
)


def run(command, **kwargs):
    """Run a command and fail with its output when it exits with a non-zero status."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, command))} exited with status {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return result


def rpmbuild(spec, topdir, defines=(), sources=True):
    """Build one spec file with rpmbuild under topdir; returns the paths of the packages."""
    command = ["rpmbuild", "--define", f"_topdir {topdir}"]
    for name, value in defines:
        command += ["--define", f"{name} {value}"]
    command += ["-ba" if sources else "-bb", str(spec)]
    output = run(command).stdout
    return [Path(line.split(":", 1)[1].strip()) for line in output.splitlines()
            if line.startswith("Wrote:")]


def build_rpms(work_dir, sources=True):
    """Build every spec of tests/data/specs (and quokka in a second version) into work_dir.

    Returns the paths of the binary and, with sources, the source packages."""
    topdir = Path(work_dir) / "rpmbuild"
    packages = []
    for spec in sorted(SPEC_DIR.glob("*.spec")):
        packages += rpmbuild(spec, topdir, sources=sources)
    packages += rpmbuild(SPEC_DIR / "quokka.spec", topdir, [("quokka_version", "1.1")], sources)
    return sorted(packages)


def add_metadata(repo_dir, path, mdtype):
    """Add one metadata file to an existing repository with modifyrepo_c."""
    run(["modifyrepo_c", f"--mdtype={mdtype}", str(path), str(Path(repo_dir) / "repodata")])


def make_repo(repo_dir, packages, updateinfo=None, comps=None, modules=None, productid=None,
              createrepo_args=()):
    """Make a yum repository in repo_dir from package files, plus optional metadata files."""
    repo_dir = Path(repo_dir)
    (repo_dir / "Packages").mkdir(parents=True, exist_ok=True)
    for package in packages:
        shutil.copy(package, repo_dir / "Packages" / Path(package).name)
    run(["createrepo_c", "--quiet", *createrepo_args, str(repo_dir)])
    if updateinfo:
        add_metadata(repo_dir, updateinfo, "updateinfo")
    if comps:
        add_metadata(repo_dir, comps, "group")
    if modules:
        add_metadata(repo_dir, modules, "modules")
    if productid:
        add_metadata(repo_dir, productid, "productid")
    return repo_dir


def make_test_repo(repo_dir, sources=True, createrepo_args=()):
    """Make the repository of the project's own test packages, with errata, comps and a
    productid file."""
    work_dir = Path(repo_dir).parent / (Path(repo_dir).name + "-build")
    packages = build_rpms(work_dir, sources=sources)
    make_repo(repo_dir, packages, updateinfo=DATA_DIR / "updateinfo.xml",
              comps=DATA_DIR / "comps.xml", productid=DATA_DIR / "productid",
              createrepo_args=createrepo_args)
    shutil.rmtree(work_dir, ignore_errors=True)
    return Path(repo_dir)


def make_zoo_repo(repo_dir):
    """Make a repository of the rpm-zoo fixture as its README describes; returns None when
    the fixture is not there."""
    if not ZOO_DIR.is_dir():
        return None
    return make_repo(repo_dir, sorted(ZOO_DIR.glob("*.rpm")),
                     updateinfo=ZOO_DIR / "updateinfo.xml", comps=ZOO_DIR / "comps.xml",
                     modules=ZOO_DIR / "modules.yaml", productid=ZOO_DIR / "productid")


def rewrite_metadata(repo_dir, mdtype, transform):
    """Replace the content of one metadata file of repomd.xml by transform(text) and update
    its checksums and sizes in repomd.xml. The file keeps its name and compression."""
    import gzip
    import hashlib
    import re

    repo_dir = Path(repo_dir)
    repomd_path = repo_dir / "repodata" / "repomd.xml"
    repomd = repomd_path.read_text()
    block = re.search(r'<data type="%s">.*?</data>' % re.escape(mdtype), repomd, re.S).group(0)
    href = re.search(r'<location href="([^"]+)"', block).group(1)
    path = repo_dir / href
    raw = path.read_bytes()
    compressed = href.endswith(".gz")
    text = (gzip.decompress(raw) if compressed else raw).decode()
    plain = transform(text).encode()
    data = gzip.compress(plain) if compressed else plain
    path.write_bytes(data)

    new_block = re.sub(r'(<checksum type="sha256">)[0-9a-f]+',
                       r"\g<1>" + hashlib.sha256(data).hexdigest(), block)
    new_block = re.sub(r'(<open-checksum type="sha256">)[0-9a-f]+',
                       r"\g<1>" + hashlib.sha256(plain).hexdigest(), new_block)
    new_block = re.sub(r"<size>\d+</size>", f"<size>{len(data)}</size>", new_block)
    new_block = re.sub(r"<open-size>\d+</open-size>", f"<open-size>{len(plain)}</open-size>",
                       new_block)
    repomd_path.write_text(repomd.replace(block, new_block))


# --- the feed server ---------------------------------------------------------------------

class Fault:
    """How the server responds to one path. kind is one of:

    status   answer `value` (an HTTP status) with an empty body
    stall    send the headers and half the body, then nothing until the server stops
    close    send the headers (with the full length) and half the body, then close
    trickle  send the body in `value`-byte pieces every 0.1 s
    corrupt  send the body with its middle byte changed
    truncate send the first half of the body as a complete response
    redirect answer 302 to `value` (a URL)
    """

    def __init__(self, kind, value=None):
        self.kind = kind
        self.value = value


class FeedHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def translate_path(self, path):
        relative = unquote(urlsplit(path).path).lstrip("/")
        return str(Path(self.server.root) / relative)

    def do_GET(self):
        path = unquote(urlsplit(self.path).path)
        self.server.record(path, dict(self.headers))
        self.server.begin_response(path)
        try:
            fault = self.server.faults.get(path)
            if fault is None:
                return super().do_GET()
            return self.answer_fault(fault)
        finally:
            self.server.end_response(path)

    def send_body_headers(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    def read_file(self):
        return Path(self.translate_path(self.path)).read_bytes()

    def answer_fault(self, fault):
        if fault.kind == "status":
            self.send_response(fault.value)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif fault.kind == "redirect":
            self.send_response(302)
            self.send_header("Location", fault.value)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif fault.kind in ("stall", "close"):
            body = self.read_file()
            self.send_body_headers(body)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if fault.kind == "stall":
                self.server.stopping.wait(120)
            self.close_connection = True
        elif fault.kind == "trickle":
            body = self.read_file()
            self.send_body_headers(body)
            for start in range(0, len(body), fault.value):
                self.wfile.write(body[start:start + fault.value])
                self.wfile.flush()
                time.sleep(0.1)
        elif fault.kind == "truncate":
            whole = self.read_file()
            body = whole[: len(whole) // 2]
            self.send_body_headers(body)
            self.wfile.write(body)
        elif fault.kind == "corrupt":
            body = bytearray(self.read_file())
            body[len(body) // 2] ^= 0xFF
            self.send_body_headers(body)
            self.wfile.write(body)


class FeedServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """Serves root over HTTP on host (loopback) at a free port, or over HTTPS when
    tls_context (a server-side ssl.SSLContext) is given.

    faults maps URL paths to Fault objects, requests records (path, headers) of every
    request, tls_errors records the message of every failed TLS handshake, and
    max_concurrent_packages is the largest number of .rpm responses sent at the same time."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root, host="127.0.0.1", port=None, tls_context=None):
        """Listens on port, or on a free port of server_ports.server_ports() when it is None."""
        if port is None:
            bind_free_port(lambda free: super(FeedServer, self).__init__((host, free),
                                                                        FeedHandler))
        else:
            super().__init__((host, port), FeedHandler)
        self.root = str(root)
        self.tls_context = tls_context
        self.faults = {}
        self.requests = []
        self.tls_errors = []
        self.concurrent_packages = 0
        self.max_concurrent_packages = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.thread = None

    @property
    def url(self):
        host, port = self.server_address[:2]
        scheme = "https" if self.tls_context else "http"
        return f"{scheme}://{host}:{port}/"

    def finish_request(self, request, client_address):
        if self.tls_context is None:
            return super().finish_request(request, client_address)
        # The handshake runs here, in the connection's own thread, so that a client that
        # stalls in it holds up no other connection.
        try:
            tls_socket = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            with self.lock:
                self.tls_errors.append(str(error))
            return None
        try:
            return super().finish_request(tls_socket, client_address)
        finally:
            tls_socket.close()

    def record(self, path, headers):
        with self.lock:
            self.requests.append((path, headers))

    def begin_response(self, path):
        if path.endswith(".rpm"):
            with self.lock:
                self.concurrent_packages += 1
                self.max_concurrent_packages = max(self.max_concurrent_packages,
                                                   self.concurrent_packages)

    def end_response(self, path):
        if path.endswith(".rpm"):
            with self.lock:
                self.concurrent_packages -= 1

    def requested(self, path):
        """Return the headers of each request of path so far."""
        with self.lock:
            return [headers for seen, headers in self.requests if seen == path]

    def start(self):
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.shutdown()
        self.server_close()


class HttpdFeedServer:
    """A private Apache httpd that serves root on 127.0.0.1:port, for feeds of many files
    that FeedServer would send too slowly. Its configuration, pid file and log live in
    work_dir. Use it as a context manager; `url` ends with "/"."""

    def __init__(self, root, port, work_dir):
        self.root = Path(root)
        self.port = port
        self.dir = Path(work_dir)
        self.url = f"http://127.0.0.1:{port}/"

    def apache(self, action):
        return subprocess.run(["/usr/sbin/apache2", "-f", str(self.dir / "httpd.conf"),
                               "-k", action], capture_output=True, text=True, check=False)

    def __enter__(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        modules = "/usr/lib/apache2/modules"
        # No User directive: started as root, the children stay root and can read feeds in
        # private temporary directories.
        (self.dir / "httpd.conf").write_text(f"""
ServerRoot "{self.dir}"
ServerName 127.0.0.1
PidFile "{self.dir}/httpd.pid"
DefaultRuntimeDir "{self.dir}"
Mutex file:{self.dir} default
ErrorLog "{self.dir}/error.log"
Listen 127.0.0.1:{self.port}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot "{self.root}"
<Directory "{self.root}">
    Options FollowSymLinks
    Require all granted
</Directory>
""")
        started = self.apache("start")
        if started.returncode != 0:
            raise RuntimeError(f"the feed httpd did not start: {started.stdout}{started.stderr}")
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url, timeout=5).close()
                return self
            except urllib.error.HTTPError:
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the feed httpd does not answer (log: {self.dir}/error.log)")

    def __exit__(self, *exc):
        self.apache("stop")
        time.sleep(0.5)


@contextlib.contextmanager
def serve(root, host="127.0.0.1", tls_context=None):
    """Serve root for the duration of a with block; yields the FeedServer."""
    server = FeedServer(root, host, tls_context=tls_context).start()
    try:
        yield server
    finally:
        server.stop()


def main():
    """Build the test repository into a directory and serve it: the demo's upstream."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("directory", help="where to build the repository (created)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any)")
    parser.add_argument("--build-only", action="store_true", help="build, do not serve")
    arguments = parser.parse_args()

    repo_dir = Path(arguments.directory)
    if not (repo_dir / "repodata" / "repomd.xml").is_file():
        make_test_repo(repo_dir)
    if arguments.build_only:
        return
    server = FeedServer(repo_dir, port=arguments.port)
    print(server.url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    os.umask(0o022)
    main()
