"""Certificates for the TLS tests, made with the openssl command line.

make_certs() writes a CA, a server certificate for 127.0.0.1 signed by it, and a client
certificate signed by it into a directory, each as PEM files.
"""

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Certs:
    """Paths of the PEM files that make_certs() writes."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def text(self, name):
        """Return the PEM text of one file, such as text("client_key")."""
        return getattr(self, name).read_text()


def openssl(*arguments, cwd=None):
    result = subprocess.run(["openssl", *arguments], cwd=cwd, capture_output=True, text=True,
                            timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(arguments)} exited with status "
                           f"{result.returncode}:\n{result.stderr}")
    return result.stdout


def sign(directory, name, subject, ca, extensions):
    """Make a key and a certificate signed by ca (a (cert, key) pair) with the given
    X.509 v3 extensions; returns the certificate and key paths."""
    key = directory / f"{name}.key"
    request = directory / f"{name}.csr"
    cert = directory / f"{name}.crt"
    extension_file = directory / f"{name}.ext"
    extension_file.write_text("\n".join(extensions) + "\n")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
            "-subj", subject, "-out", str(request))
    openssl("x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
            "-CAcreateserial", "-days", "2", "-sha256", "-extfile", str(extension_file),
            "-out", str(cert))
    return cert, key


def make_certs(directory):
    """Write a CA, a server certificate for 127.0.0.1 and a client certificate into
    directory (created); returns a Certs."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert = directory / "ca.crt"
    ca_key = directory / "ca.key"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
            "-subj", "/CN=Pulp test CA", "-days", "2", "-sha256",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(ca_cert))
    ca = (ca_cert, ca_key)
    server_cert, server_key = sign(directory, "server", "/CN=127.0.0.1", ca, [
        "basicConstraints=CA:FALSE",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "extendedKeyUsage=serverAuth",
    ])
    client_cert, client_key = sign(directory, "client", "/CN=pulp-sync-client", ca, [
        "basicConstraints=CA:FALSE",
        "extendedKeyUsage=clientAuth",
    ])
    return Certs(ca_cert, ca_key, server_cert, server_key, client_cert, client_key)
