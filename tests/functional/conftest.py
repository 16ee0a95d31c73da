"""Fixtures of the functional tests.

The `stack` fixture uses the running stack whose run directory PULP_TEST_STACK names, which
the tests may stop and restart component by component. Otherwise it starts a private stack
with scripts/stack in a new directory under /var/tmp, on the ports from PULP_TEST_PORT_BASE
(default 26800) to +16, and deletes it at the end of the session unless
PULP_TEST_KEEP_STACK=1. PULP_HTTPD_MPM chooses httpd's MPM as for scripts/stack.

The settings that `. run/stack.env` exports (PULP_URL and the others) never select a stack,
so a shell that uses a stack by hand does not turn the tests onto it.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pulp_helpers import (
    DEFAULT_TEST_PORT_BASE,
    STACK_SCRIPT,
    STACK_SETTINGS,
    ApiSession,
    Stack,
    read_stack_env,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from yum_testing import delete_created  # noqa: E402


def existing_stack(run_dir):
    env_file = Path(run_dir) / "stack.env"
    if not env_file.is_file():
        pytest.exit(f"PULP_TEST_STACK={run_dir}: no stack.env there; start the stack with "
                    f"PULP_RUN_DIR={run_dir} scripts/stack start", returncode=1)
    return Stack(read_stack_env(env_file), owned=False)


def private_stack_environment(run_dir, port_base):
    environment = {k: v for k, v in os.environ.items() if k not in STACK_SETTINGS}
    environment["PULP_RUN_DIR"] = str(run_dir)
    environment["PULP_PORT_BASE"] = str(port_base)
    return environment


@pytest.fixture(scope="session")
def stack():
    if os.environ.get("PULP_TEST_STACK"):
        yield existing_stack(os.environ["PULP_TEST_STACK"])
        return

    port_base = int(os.environ.get("PULP_TEST_PORT_BASE", DEFAULT_TEST_PORT_BASE))
    run_dir = Path(tempfile.mkdtemp(prefix=f"pulp-test-{port_base}-", dir="/var/tmp"))
    # mkdtemp makes the directory mode 0700; the postgres user must enter it to keep the
    # cluster inside it.
    run_dir.chmod(0o755)
    environment = private_stack_environment(run_dir, port_base)

    def stack_command(*args):
        return subprocess.run(
            [str(STACK_SCRIPT), *args], env=environment, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=300, check=False,
        )

    def clean():
        if os.environ.get("PULP_TEST_KEEP_STACK") == "1":
            print(f"\nkeeping the test stack in {run_dir} (PULP_TEST_KEEP_STACK=1)")
            return
        result = stack_command("clean")
        if result.returncode != 0:
            print(f"\nscripts/stack clean failed:\n{result.stdout}{result.stderr}")
        shutil.rmtree(run_dir, ignore_errors=True)

    started = stack_command("start")
    if started.returncode != 0:
        clean()
        pytest.exit(
            f"scripts/stack start failed with status {started.returncode} (run directory "
            f"{run_dir}, port base {port_base}):\n{started.stdout}{started.stderr}",
            returncode=1,
        )
    try:
        yield Stack(read_stack_env(run_dir / "stack.env"), owned=True)
    finally:
        clean()


@pytest.fixture(scope="session")
def api(stack):
    """A session authenticated as the stack's admin user; paths are relative to /pulp/api/v2/."""
    with ApiSession(stack.url, auth=(stack.user, stack.password)) as session:
        yield session


@pytest.fixture(scope="session")
def anon(stack):
    """A session without credentials; paths are relative to /pulp/api/v2/."""
    with ApiSession(stack.url) as session:
        yield session


@pytest.fixture(scope="module", autouse=True)
def delete_repositories(api):
    """Deletes the repositories that the module's tests created through yum_testing."""
    yield
    delete_created(api)


@pytest.fixture(scope="session")
def https_stack(stack):
    """The stack, for tests of its HTTPS port. Skips when stack.env does not name that port
    (a stack started by an older checkout)."""
    if not stack.https_url:
        pytest.skip("the stack's stack.env has no PULP_HTTPS_URL: restart it with this "
                    "checkout's scripts/stack")
    return stack


@pytest.fixture
def managed_stack(stack):
    """The stack, for tests that stop or kill its components.

    Skips when the stack has no run directory."""
    if stack.run_dir is None:
        pytest.skip("the stack has no run directory (set PULP_RUN_DIR to manage it)")
    return stack

