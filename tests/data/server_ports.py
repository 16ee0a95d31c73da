"""Loopback ports for the servers that the tests start themselves (feeds, proxies, refused
ports), so that no test depends on the kernel's ephemeral range (32768 and above).

The ports run from PULP_TEST_SERVER_PORT_BASE, by default PULP_TEST_PORT_BASE + 100 (26900
when neither is set), to 99 above it. Two test runs at the same time need different bases.
"""

import errno
import os

# The same default as tests/functional/pulp_helpers.py.
DEFAULT_TEST_PORT_BASE = 26800
SERVER_PORT_OFFSET = 100
SERVER_PORT_COUNT = 100


def server_ports():
    """Return the range of ports that test servers may take."""
    test_base = int(os.environ.get("PULP_TEST_PORT_BASE", DEFAULT_TEST_PORT_BASE))
    base = int(os.environ.get("PULP_TEST_SERVER_PORT_BASE", test_base + SERVER_PORT_OFFSET))
    return range(base, base + SERVER_PORT_COUNT)


def bind_free_port(bind):
    """Call bind(port) for each port of server_ports() until one is free; return its result.

    bind raises OSError with EADDRINUSE when the port is taken."""
    for port in server_ports():
        try:
            return bind(port)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
    ports = server_ports()
    raise RuntimeError(f"no free loopback port from {ports.start} to {ports.stop - 1}: set "
                       "PULP_TEST_SERVER_PORT_BASE to a free range")
