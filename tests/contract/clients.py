"""Clients of the contract: a workstation and a staff console, over the wire only."""

from __future__ import annotations

import itertools
import threading
import time

import requests
import socketio

from tests.conftest import PIN
from tests.live import cookie_header, csrf_token, http_login

JSON = {"Accept": "application/json"}
# what a browser sends: the login refusals then come as pages (protocol.md "a browser gets the page")
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
_addresses = itertools.count(10)


def new_address() -> str:
    """A client address of its own (the servers run with CAT_TRUSTED_PROXIES=1)."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


class Recorder:
    """A python-socketio client that keeps every event it receives, in order."""

    def __init__(self, namespace, names):
        self.namespace = namespace
        self.events = []
        self.stamps = []  # time.monotonic() of each event, for pacing checks
        self.changed = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        for name in names:
            self.sio.on(name, self._keeper(name), namespace=namespace)

    def _keeper(self, name):
        def keep(*args):
            with self.changed:
                self.events.append((name, args[0] if args else None))
                self.stamps.append(time.monotonic())
                self.changed.notify_all()

        return keep

    def of(self, name):
        return [data for event, data in self.events if event == name]

    def wait_for(self, name, predicate=lambda data: True, timeout=10, after=0):
        """The first ``name`` event past index ``after`` that matches."""

        def found():
            for event, data in self.events[after:]:
                if event == name and predicate(data):
                    return data
            return None

        with self.changed:
            self.changed.wait_for(lambda: found() is not None, timeout)
            data = found()
        assert data is not None, f"no matching {name!r}; got {self.events[after:][-3:]}"
        return data

    def mark(self):
        return len(self.events)

    def call(self, event, data=None, timeout=10):
        return self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    @property
    def connected(self):
        return self.namespace in self.sio.namespaces and self.sio.connected

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()


class Station(Recorder):
    """A candidate's workstation: the login over HTTP, then ``/exam`` over a websocket."""

    def __init__(self, url, sitting, registration_no, pin=PIN, address=None):
        super().__init__("/exam", ["state", "exam_error", "connect_error", "disconnect"])
        self.url, self.sitting = url, sitting
        self.registration_no, self.pin = registration_no, pin
        self.address = address or new_address()
        self.http = requests.Session()
        self.http.headers.update(BROWSER)
        self.http.headers["X-Forwarded-For"] = self.address

    def login(self):
        response = http_login(
            self.http,
            f"{self.url}/exam/{self.sitting}/",
            {"registration_no": self.registration_no, "pin": self.pin},
        )
        assert response.status_code == 302, (response.status_code, response.text[:300])
        return self

    def connect(self, auth=None, device="device-1", protocol=2):
        if auth is None:
            auth = {"device": device, "protocol": protocol}
        self.sio.connect(
            self.url,
            namespaces=["/exam"],
            headers={"Cookie": cookie_header(self.http), "X-Forwarded-For": self.address},
            transports=["websocket"],
            auth=auth,
            wait_timeout=10,
        )
        return self

    def try_connect(self, **kwargs):
        """Connect and expect a refusal: the ``connect_error`` data (or the exception)."""
        at = self.mark()
        try:
            self.connect(**kwargs)
        except socketio.exceptions.ConnectionError as error:
            errors = [data for event, data in self.events[at:] if event == "connect_error"]
            return errors[-1] if errors else str(error)
        raise AssertionError("the connection was accepted")

    def state(self, predicate=lambda s: True, timeout=10, after=0):
        return self.wait_for("state", predicate, timeout, after)

    def last_state(self):
        return self.of("state")[-1]

    def answer(self, state, choice="A", **override):
        payload = {
            "attempt": state["attempt"],
            "seq": state["seq"],
            "item": state["item"]["id"],
            "choice": choice,
            **override,
        }
        return self.call("answer", payload)

    def take_page(self):
        return self.http.get(f"{self.url}/exam/{self.sitting}/take", allow_redirects=False)


class Staff(Recorder):
    """A proctor's or administrator's console: the staff login, then ``/proctor``."""

    def __init__(self, url, username, password):
        super().__init__("/proctor", ["seats"])
        self.url = url
        self.http = requests.Session()
        self.http.headers["X-Forwarded-For"] = new_address()
        response = http_login(
            self.http, f"{url}/login", {"username": username, "password": password}
        )
        assert response.status_code == 302, response.status_code
        self.sio.connect(
            url,
            namespaces=["/proctor"],
            headers={
                "Cookie": cookie_header(self.http),
                "X-Forwarded-For": self.http.headers["X-Forwarded-For"],
            },
            transports=["websocket"],
            wait_timeout=10,
        )

    def act(self, event, sitting, **payload):
        return self.call(event, {"sitting": sitting, **payload})

    def seat(self, sitting, candidate=None, seat=None):
        """The seat snapshot of one candidate (by id or seat label) from a fresh ``watch``."""
        ack = self.act("watch", sitting)
        for snapshot in ack["seats"]:
            if snapshot["candidate"] == candidate or snapshot["seat"] == seat:
                return snapshot
        raise AssertionError(f"no seat {candidate or seat} in {ack['seats']}")


def login_page(session, url, sitting):
    return session.get(f"{url}/exam/{sitting}/", allow_redirects=False)


def post_login(session, url, sitting, registration_no, pin, json=False, token=None, **kw):
    """The login POST with a CSRF token from the login page."""
    if token is None:
        token = csrf_token(session.get(f"{url}/exam/{sitting}/").text)
    return session.post(
        f"{url}/exam/{sitting}/",
        data={"registration_no": registration_no, "pin": pin, "csrf_token": token},
        headers=JSON if json else BROWSER,
        allow_redirects=False,
        **kw,
    )


def wait_until(predicate, timeout=10, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
