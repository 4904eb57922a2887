"""A real gunicorn + gevent server process for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
# production refuses keys under 32 bytes or patterned ones: a random one, fixed for the tests
E2E_SECRET_KEY = "e2e-NfdhC1lVOa_55WE8cXPEvImI5Pp87L9zVeJnHsVoscyeJYeljQ52tJ8VYXscL581"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``cat-server`` under gunicorn with one gevent worker, as the demo runs it."""

    def __init__(self, db_url: str, log_path: Path, port: int | None = None, **env):
        self.db_url = db_url
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "CAT_DATABASE_URL": db_url,
            "CAT_SECRET_KEY": E2E_SECRET_KEY,
            # every test client shares 127.0.0.1 (tests/security/test_socket_limits.py sets one)
            "CAT_MAX_SOCKETS_PER_ADDRESS": "0",
            **{f"CAT_{k}": str(v) for k, v in env.items()},
        }
        self.process = None

    def start(self, timeout=30.0) -> LiveServer:
        from cat_server.cli import gunicorn_argv

        log = open(self.log_path, "ab")  # noqa: SIM115  (kept open for the process)
        self.process = subprocess.Popen(
            gunicorn_argv("127.0.0.1", self.port),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = self.log_path.read_text()
                if "already in use" in text[-2000:] and time.monotonic() < deadline - 5:
                    # another test run on this machine holds the port for a moment
                    self.log_path.write_text(text.replace("already in use", "was in use"))
                    time.sleep(0.5)
                    return self.start(timeout=deadline - time.monotonic())
                raise RuntimeError(f"server exited: {text[-3000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(
            f"server did not answer in {timeout}s: {self.log_path.read_text()[-3000:]}"
        )

    def kill(self) -> None:
        """SIGKILL the whole process group: master and worker die mid-flight."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # gunicorn: quick shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no csrf_token field on the page"
    return match.group(1)


def http_login(session: requests.Session, page_url: str, fields: dict, post_url=None):
    """Log in through the real form, CSRF token included; return the response."""
    token = csrf_token(session.get(page_url, timeout=10).text)
    return session.post(
        post_url or page_url,
        data={**fields, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )


def cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def proctor_call(
    url: str, sitting_id: int, event: str, username="pengawas", password="rahasia-123", **payload
):
    """One proctor action over the proctor's own /proctor connection; return the ack."""
    import socketio as sio_client

    staff = requests.Session()
    assert (
        http_login(staff, f"{url}/login", {"username": username, "password": password}).status_code
        == 302
    )
    proctor = sio_client.Client(reconnection=False)
    proctor.connect(
        url,
        namespaces=["/proctor"],
        headers={"Cookie": cookie_header(staff)},
        transports=["websocket"],
    )
    try:
        return proctor.call(
            event, {"sitting": sitting_id, **payload}, namespace="/proctor", timeout=10
        )
    finally:
        proctor.disconnect()


def python_bin() -> str:
    return sys.executable


def full_run() -> bool:
    """``make reliability`` (CAT_RELIABILITY_FULL=1): the long versions, on every backend."""
    return os.environ.get("CAT_RELIABILITY_FULL") == "1"


def one_backend_in_ci(db_url: str) -> None:
    """A long live test runs in CI on PostgreSQL when it is there (production's database),
    else on SQLite; ``make reliability`` runs both."""
    import pytest

    if db_url.startswith("sqlite") and os.environ.get("CAT_TEST_DATABASE_URL") and not full_run():
        pytest.skip("CI runs this on PostgreSQL; make reliability runs SQLite too")
