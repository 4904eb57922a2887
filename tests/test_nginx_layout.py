"""The production layout, tested: the shipped nginx.conf (TLS) before two gunicorn processes,
Redis and PostgreSQL, with workstations from several loopback subnets (issue 23).

Half the seats upgrade to websockets (as the page does: polling first), half stay on
long-polling, each from its own address
(127.0.x.y, the client socket bound to it), as a lab's workstations do. The test
shows: websockets upgrade through nginx; one subnet's seats spread over both
processes; the proctor on one process sees the seats of the other; every
acknowledged answer is stored once; killing one process moves its workstations to
the other, where they resume at the same item with every acknowledged answer and
the seconds they were offline credited. When the dead process is back, the operator's
way to spread the seats again (docs/RELIABILITY.md: pause the sitting, reload
nginx, resume) brings every seat back to its own process, costing nobody time.
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
import time

import pytest

from loadtests.nginx import Nginx, nginx_binary
from tests.conftest import PIN, make_config, make_sitting, make_user
from tests.live import LiveServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        nginx_binary() is None, reason="nginx is not installed (.ci/run installs Debian's)"
    ),
]

SUBNETS = ("127.0.1", "127.0.2", "127.0.3")
SEATS_PER_SUBNET = 10
RECONNECT_DELAY_S = 1.0  # the offline time that must come back as credit
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _resolve(future, *args):
    if not future.done():
        future.set_result(args[0] if args else None)


class Station:
    """One workstation: its own source address, cookie jar and Socket.IO client."""

    def __init__(self, base, sitting_id, number, address, transport):
        import aiohttp

        self.base, self.sitting_id = base, sitting_id
        self.registration_no = f"2026{number:04d}"
        self.seat = f"PC-{number:02d}"
        self.address, self.transport = address, transport
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0), ssl=False),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
        )
        self.sio = None
        self.state = None
        self.changed = asyncio.Event()
        self.connected = asyncio.Event()
        self.connects = 0
        self.acked = []  # (attempt, seq, choice)
        self.states = []  # (when, state)
        self.device = f"ws-{address}"

    async def login(self):
        """The real form over TLS, as a browser sends it: Origin and Referer included."""
        page = f"{self.base}/exam/{self.sitting_id}/"
        async with self.http.get(page) as response:
            token = CSRF.search(await response.text()).group(1)
        fields = {"registration_no": self.registration_no, "pin": PIN, "csrf_token": token}
        while True:
            async with self.http.post(
                page,
                data=fields,
                headers={"Referer": page, "Origin": self.base},
                allow_redirects=False,
            ) as response:
                if response.status == 503:  # the admission guard: come back later
                    await asyncio.sleep(float(response.headers.get("Retry-After", 1)))
                    continue
                assert response.status == 302, (self.seat, response.status, await response.text())
                return

    async def connect(self):
        """Open /exam as the page does; a websocket seat must end up upgraded through nginx.

        An upgrade that fails once (a busy box: the probe timed out) leaves a browser on
        polling too; the seat tries twice more, so only an nginx that never upgrades fails.
        """
        import socketio

        for _ in range(3):
            self.sio = socketio.AsyncClient(
                reconnection=True,
                reconnection_delay=RECONNECT_DELAY_S,
                reconnection_delay_max=RECONNECT_DELAY_S,
                randomization_factor=0,
                http_session=self.http,
                ssl_verify=False,
            )
            self.sio.on("state", self._take, namespace="/exam")
            self.sio.on("connect", self._on_connect, namespace="/exam")
            self.sio.on("disconnect", self._on_disconnect, namespace="/exam")
            await self.sio.connect(
                self.base,
                namespaces=["/exam"],
                transports=["polling", "websocket"]
                if self.transport == "websocket"
                else ["polling"],
                headers={"Origin": self.base},  # a browser's: the app checks it against Host
                auth={"device": self.device},
                wait_timeout=20,
            )
            await self.wait_state(lambda s: True)
            if self.transport == "polling" or self.sio.transport() == "websocket":
                return
            await self.sio.disconnect()
            await asyncio.sleep(0.5)
        raise AssertionError(f"{self.seat}: no websocket upgrade through nginx in 3 tries")

    async def _on_connect(self):
        self.connects += 1
        self.connected.set()

    async def _on_disconnect(self, *reason):
        self.connected.clear()

    async def _take(self, state):
        self.state = state
        self.state_at = time.time()
        self.states.append((self.state_at, state))
        self.changed.set()

    async def wait_state(self, predicate, timeout=30):
        async def until():
            while not (self.state is not None and predicate(self.state)):
                self.changed.clear()
                await self.changed.wait()
            return self.state

        return await asyncio.wait_for(until(), timeout)

    async def answer_once(self):
        """Answer the item on screen; the same seq again until acknowledged (docs/protocol.md)."""
        state = self.state
        choice = "ABCDE"[len(self.acked) % 5]
        payload = {
            "attempt": state["attempt"],
            "seq": state["seq"],
            "item": state["item"]["id"],
            "choice": choice,
        }
        loop = asyncio.get_running_loop()
        for _ in range(60):
            await asyncio.wait_for(self.connected.wait(), 30)
            future = loop.create_future()
            try:
                await self.sio.emit(
                    "answer",
                    payload,
                    namespace="/exam",
                    callback=functools.partial(_resolve, future),
                )
                ack = await asyncio.wait_for(future, 5)
            except Exception:  # dropped meanwhile: send it again once reconnected
                await asyncio.sleep(0.2)
                continue
            if ack.get("ok"):
                self.acked.append((payload["attempt"], payload["seq"], choice))
                await self._take(ack["state"])
                return
            if ack.get("error") == "retry":
                await asyncio.sleep(0.2)
                continue
            raise AssertionError(f"{self.seat}: answer refused: {ack}")
        raise AssertionError(f"{self.seat}: no ack for seq {payload['seq']}")

    async def answer_for(self, seconds, think=0.25):
        end = time.monotonic() + seconds
        await self.wait_state(lambda s: s["status"] == "in_progress")
        while time.monotonic() < end:
            await asyncio.sleep(think)
            await self.answer_once()

    async def close(self):
        if self.sio is not None:
            await self.sio.disconnect()
        await self.http.close()


class Proctor:
    """The proctor's console through nginx: login form, /proctor socket, the seat grid."""

    def __init__(self, base, sitting_id, address):
        import aiohttp

        self.base, self.sitting_id, self.address = base, sitting_id, address
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0), ssl=False),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
        )
        self.seats = {}

    async def open(self):
        import socketio

        page = f"{self.base}/login"
        async with self.http.get(page) as response:
            token = CSRF.search(await response.text()).group(1)
        async with self.http.post(
            page,
            data={"username": "pengawas", "password": "rahasia-123", "csrf_token": token},
            headers={"Referer": page, "Origin": self.base},
            allow_redirects=False,
        ) as response:
            assert response.status == 302, await response.text()
        self.sio = socketio.AsyncClient(
            reconnection=False, http_session=self.http, ssl_verify=False
        )
        self.sio.on("seats", self._on_seats, namespace="/proctor")
        await self.sio.connect(
            self.base,
            namespaces=["/proctor"],
            transports=["polling", "websocket"],  # as the console page
            headers={"Origin": self.base},
        )
        snapshot = await self.sio.call("watch", {"sitting": self.sitting_id}, namespace="/proctor")
        assert snapshot["ok"], snapshot
        self.seats.update({s["seat"]: s for s in snapshot["seats"]})

    async def _on_seats(self, message):
        self.seats.update({s["seat"]: s for s in message["seats"]})

    async def call(self, event, **payload):
        return await self.sio.call(
            event, {"sitting": self.sitting_id, **payload}, namespace="/proctor", timeout=10
        )

    async def close(self):
        await self.sio.disconnect()
        await self.http.close()


async def _gather(coros, limit=8):
    semaphore = asyncio.Semaphore(limit)

    async def run(coro):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(run(c) for c in coros))


def _stored(pg_url, attempts):
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT attempt_id, seq, choice FROM response WHERE attempt_id = ANY(:ids)"),
            {"ids": list(attempts)},
        ).all()
        credits = connection.execute(
            sa.text(
                "SELECT attempt_id, data FROM audit_event WHERE action = 'downtime_credit'"
                " AND attempt_id = ANY(:ids)"
            ),
            {"ids": list(attempts)},
        ).all()
    engine.dispose()
    return rows, credits


def test_the_shipped_nginx_layout_spreads_seats_and_survives_a_dead_process(
    pg_url, redis_url, tmp_path
):
    from cat_server import create_app
    from cat_server.extensions import db

    n_seats = len(SUBNETS) * SEATS_PER_SUBNET
    app = create_app(make_config(pg_url))
    with app.app_context():
        db.drop_all()
        db.create_all()
        sitting_id = make_sitting(
            n_items=200, n_candidates=n_seats, duration_s=1800, proctor=make_user()
        )
    channel = f"cat-test-{secrets.token_hex(4)}"
    env = dict(
        REDIS_URL=redis_url,
        SOCKETIO_CHANNEL=channel,
        TRUSTED_PROXIES=1,
        SESSION_COOKIE_SECURE="true",
        MAX_SOCKETS_PER_ADDRESS=20,  # the production guard, per workstation address
    )
    servers = [LiveServer(pg_url, tmp_path / f"{name}.log", **env) for name in "ab"]
    for server in servers:
        server.start()
    nginx = Nginx(tmp_path / "nginx", [s.port for s in servers]).start()
    by_upstream = {f"127.0.0.1:{s.port}": s for s in servers}

    def restart(upstream):
        """The dead process comes back on its port, as systemd restarts it."""
        port = by_upstream[upstream].port
        again = LiveServer(pg_url, tmp_path / f"again-{port}.log", port=port, **env)
        servers.append(again.start())
        return again

    try:
        asyncio.run(_drive(nginx, by_upstream, restart, sitting_id, pg_url, n_seats))
    finally:
        nginx.stop()
        for server in servers:
            server.stop()


async def _drive(nginx, by_upstream, restart, sitting_id, pg_url, n_seats):
    stations = [
        Station(
            nginx.url,
            sitting_id,
            number=i + 1,
            address=f"{SUBNETS[i % len(SUBNETS)]}.{10 + i // len(SUBNETS)}",
            transport="websocket" if i % 2 == 0 else "polling",
        )
        for i in range(n_seats)
    ]
    proctor = Proctor(nginx.url, sitting_id, "127.0.9.9")
    console = Proctor(nginx.url, sitting_id, "127.0.9.9")  # the same console, reopened
    try:
        await _gather([s.login() for s in stations])
        await _gather([s.connect() for s in stations])
        await proctor.open()
        assert (await proctor.call("start_sitting"))["ok"]

        # -- every seat answers for a while, then stops with nothing in flight
        await asyncio.gather(*(s.answer_for(4.0) for s in stations))
        t_snap = time.time()
        before = {s.seat: dict(s.state) for s in stations}

        # -- where nginx put everyone (its access log names the process of each request)
        where = nginx.upstreams_by_address()
        home = {}
        for s in stations:
            assert len(where[s.address]) == 1, f"{s.seat} moved between processes: {where}"
            home[s.seat] = next(iter(where[s.address]))
        proctor_home = where[proctor.address]
        assert len(proctor_home) == 1
        for subnet in SUBNETS:
            used = {home[s.seat] for s in stations if s.address.startswith(subnet + ".")}
            assert used == set(by_upstream), f"{subnet}.0/24 sat on {used} only"

        # -- the proctor, on one process, sees every seat's answers, the other's included
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if all(proctor.seats[s.seat]["answered"] == len(s.acked) for s in stations):
                break
            await asyncio.sleep(0.2)
        seen = {s.seat: (proctor.seats[s.seat]["answered"], len(s.acked)) for s in stations}
        assert all(a == b for a, b in seen.values()), seen

        # -- kill -9 the process the proctor is not on; its seats come back on the other
        (victim,) = set(by_upstream) - proctor_home
        moved = [s for s in stations if home[s.seat] == victim]
        stayed = [s for s in stations if home[s.seat] != victim]
        assert moved and stayed
        connects = {s.seat: s.connects for s in moved}
        t_kill = time.time()
        by_upstream[victim].kill()
        for s in moved:
            deadline = time.monotonic() + 30
            while s.connects == connects[s.seat] or s.state_at < t_kill:
                assert time.monotonic() < deadline, f"{s.seat} did not come back"
                await asyncio.sleep(0.1)
        back_at = {s.seat: min(t for t, _ in s.states if t > t_kill) for s in moved}
        back_s = max(back_at.values()) - t_kill

        def credit(s):
            """Seconds the clock gave back: its remaining time against the wall clock."""
            t, state = s.states[-1]
            return state["remaining_s"] + (t - t_snap) - before[s.seat]["remaining_s"]

        def offline(s):
            return back_at[s.seat] - t_kill

        # the credit comes once the dead process has missed its beats (a few seconds)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if all(credit(s) >= RECONNECT_DELAY_S - 0.1 for s in moved):
                break
            await asyncio.sleep(0.2)
        for s in moved:
            after, was = s.state, before[s.seat]
            assert (after["seq"], after["item"]["id"]) == (was["seq"], was["item"]["id"])
            assert after["answered"] == len(s.acked) == was["answered"]
            # The offline seconds came back, counted by the server from the dead process's
            # last beat (<= 1 s before the kill) to the reconnect it accepted. A seat waits
            # RECONNECT_DELAY_S before it tries: at least that; at most what the seat saw
            # (its state arrives a little after the server accepted it) plus one beat.
            assert RECONNECT_DELAY_S - 0.1 <= credit(s) <= offline(s) + 1.2, (
                s.seat,
                credit(s),
                offline(s),
            )
        for s in stayed:  # the others lost nothing and got nothing
            assert abs(credit(s)) < 0.4, (s.seat, credit(s))
        where_now = nginx.upstreams_by_address()
        assert all(where_now[s.address] == set(by_upstream) for s in moved)

        # -- everyone answers on; the proctor keeps up with all of them
        await asyncio.gather(*(s.answer_for(3.0) for s in stations))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if all(proctor.seats[s.seat]["answered"] == len(s.acked) for s in stations):
                break
            await asyncio.sleep(0.2)
        assert all(proctor.seats[s.seat]["answered"] == len(s.acked) for s in stations)

        # -- the dead process comes back; websockets stay on the survivor (nothing moves a
        #    seat by itself). The operator's way (docs/RELIABILITY.md): pause the sitting,
        #    `systemctl reload nginx` (its old workers end their connections after
        #    worker_shutdown_timeout; every seat reconnects through the new ones, each to
        #    its own process), wait for every seat, resume. Reloading the survivor instead
        #    would cut its long-polls from the upstream side: nginx would skip it for
        #    fail_timeout and send its own seats, reconnecting meanwhile, elsewhere.
        restart(victim)
        assert (await proctor.call("pause_sitting", reason="seats back to both processes"))["ok"]
        for s in stations:  # the paused countdown: what was left when the pause began
            await s.wait_state(lambda st: st.get("paused") is True)
        before_reload = {s.seat: (dict(s.state), s.connects) for s in stations}
        nginx.reload()
        # every websocket is cut and reconnects; a polling seat's next request goes to its
        # own process through the new workers (a session there goes on; one on the other
        # process is unknown there, so the seat reconnects)
        deadline = time.monotonic() + 60
        websockets = [s for s in stations if s.transport == "websocket"]
        while not all(s.connects > before_reload[s.seat][1] for s in websockets) or not all(
            s.connected.is_set() for s in stations
        ):
            waiting = [
                s.seat
                for s in stations
                if not s.connected.is_set()
                or (s in websockets and s.connects == before_reload[s.seat][1])
            ]
            assert time.monotonic() < deadline, f"not back after the reload: {waiting}"
            await asyncio.sleep(0.2)
        # past the time a dead worker's seats would be credited: nothing died here
        await asyncio.sleep(5.0)
        await console.open()
        t_resume = time.time()
        assert (await console.call("resume_sitting", reason="seats back to both processes"))["ok"]
        for s in stations:
            await s.wait_state(lambda st: st["status"] == "in_progress" and not st.get("paused"))
            was, _ = before_reload[s.seat]
            assert (s.state["seq"], s.state["answered"]) == (was["seq"], was["answered"]), s.seat
            assert s.state["answered"] == len(s.acked)
            # The pause gave the time back and the reload took none, nothing on top of it:
            # what was left when the pause began, less the time the clock has run since
            # the resume (at most until this state came)
            ran = s.state_at - t_resume
            assert -0.5 - ran <= s.state["remaining_s"] - was["remaining_s"] <= 1.0, (
                s.seat,
                s.state["remaining_s"],
                was["remaining_s"],
                ran,
            )
        await asyncio.gather(*(s.answer_for(3.0) for s in stations))
    finally:
        await asyncio.gather(*(s.close() for s in stations), return_exceptions=True)
        await asyncio.gather(proctor.close(), console.close(), return_exceptions=True)

    # -- after the reload every seat was back on the process it started on (its last
    #    request there; a websocket is logged when it closes, at the end)
    last = nginx.last_upstream_by_address()
    astray = {
        s.seat: (s.transport, home[s.seat], last[s.address])
        for s in stations
        if last[s.address] != home[s.seat]
    }
    assert not astray, (astray, nginx.access_log.read_text()[-6000:])

    # -- the websockets went through nginx (a websocket is logged when it closes)
    log = nginx.access_log.read_text()
    for s in stations:
        upgraded = re.search(
            rf"^{re.escape(s.address)} .*transport=websocket[^\"]*\" 101 ", log, re.M
        )
        assert bool(upgraded) == (s.transport == "websocket"), (s.seat, s.transport)

    # -- every acknowledged answer is stored exactly once
    attempts = {a for s in stations for a, _, _ in s.acked}
    rows, credits = _stored(pg_url, attempts)
    stored = [(a, seq) for a, seq, _ in rows]
    assert len(stored) == len(set(stored)), "an answer was stored twice"
    acked = {(a, seq, choice) for s in stations for a, seq, choice in s.acked}
    assert acked <= set(rows), f"{len(acked - set(rows))} acknowledged answers lost"
    credited = {a for a, _ in credits}
    assert credited == {s.acked[0][0] for s in moved}
    print(
        f"\nnginx layout: {n_seats} seats, {len(acked)} answers, "
        f"{len(moved)} moved after kill -9 and back in {back_s:.1f} s"
    )


def test_the_simulator_logs_in_and_answers_over_tls(tmp_path):
    """The project's own load tool drives the TLS layout: it sends the Referer a login over
    HTTPS needs (docs/protocol.md) and trusts the centre's certificate (issue 23, defect 8)."""
    import json
    import subprocess
    import sys

    from loadtests.scenarios import seed
    from tests.live import ROOT

    db_url = f"sqlite:///{tmp_path / 'sim.db'}"
    sitting_id, candidates = seed(db_url, 4, tmp_path, pin="123456")
    server = LiveServer(
        db_url, tmp_path / "sim.log", TRUSTED_PROXIES=1, SESSION_COOKIE_SECURE="true"
    )
    server.start()
    nginx = Nginx(tmp_path / "nginx", [server.port, server.port]).start()
    try:
        report = tmp_path / "report.json"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "loadtests.workstations",
                *("--url", nginx.url, "--sitting", str(sitting_id), "--seats", "4"),
                *("--candidates", str(candidates), "--think-time", "0.3", "--duration", "3"),
                *("--report", str(report), "--database", db_url),
                *("--proctor", "loadtest:loadtest-123", "--cafile", str(nginx.cert)),
                *("--subnets", "2"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
        figures = json.loads(report.read_text())
        assert figures["connected"] == 4 and figures["answers"] > 0
        assert figures["errors"] == figures["acked_lost"] == figures["duplicates"] == 0
        assert {"127.0.1.10", "127.0.2.10"} <= set(nginx.upstreams_by_address())
    finally:
        nginx.stop()
        server.stop()
