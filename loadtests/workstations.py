"""Workstation simulator: N candidates on real Socket.IO clients against a running server.

    python -m loadtests.workstations --url URL --sitting ID --seats N \
        --think-time SECONDS --duration SECONDS --report report.json

Each seat logs in through the real form (registration number + PIN from the
candidates CSV that ``cat-server load-seed`` writes), opens ``/exam`` over a
websocket with the session cookie, waits for the start, then answers the
presented item after a think time drawn uniformly from
``think_time * [1 - jitter, 1 + jitter]``. An answer whose acknowledgement did
not arrive (the connection dropped) is sent again with the same ``seq`` after the
client reconnects by itself, as docs/protocol.md tells a client to do.

At the end, unless ``--no-verify``, every acknowledged answer is looked up in the
database (``--database``, default ``$CAT_DATABASE_URL``): ``acked_lost`` counts
acknowledged answers without their row, ``duplicates`` rows stored twice for
one (attempt, seq).

The clients are asyncio (python-socketio's AsyncClient on aiohttp): one event
loop per process holds thousands of sockets. ``--procs`` splits the seats over
several processes when one client process would saturate a core; remember the
clients share the machine's cores with the server when reading the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import json
import math
import multiprocessing as mp
import os
import random
import re
import ssl
import sys
import time
from collections import Counter
from pathlib import Path

REPORT_KEYS = (
    "answers",
    "answers_per_s",
    "errors",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "acked_lost",
    "duplicates",
    "connect_p99_ms",
)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def percentile(values, q):
    """The q-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return round(ordered[rank], 2)


def read_candidates(path, n):
    """The first ``n`` rows of a candidates CSV (registration_no, pin, ...)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for number, row in enumerate(rows, start=2):
        if not row.get("registration_no") or not row.get("pin"):
            raise SystemExit(f"{path}: row {number}: expected registration_no and pin, got {row}")
    if len(rows) < n:
        raise SystemExit(f"{path}: {len(rows)} candidates, --seats asks for {n}")
    return rows[:n]


class Seat:
    """One workstation: login, socket, the answer loop and what it measured."""

    def __init__(self, row, args, http, stats):
        self.row = row
        self.args = args
        self.http = http
        self.stats = stats
        self.cookie = None
        self.sio = None
        self.state = None
        self.changed = asyncio.Event()  # a new state arrived
        self.connected = asyncio.Event()
        self.dropped = asyncio.Event()  # the connection went away (pending acks are lost)
        self.first_item_at = None  # wall clock of the first in_progress state
        self.dropped_at = None
        self.resume_ms = None
        self.acked = []  # (attempt, seq, choice)
        self.rng = random.Random(row["registration_no"])
        self.device = f"loadtest-{self.rng.randrange(16**12):012x}"

    # --- login and connection ---------------------------------------------

    async def login(self):
        """The real form: GET the page for the CSRF token, POST registration number + PIN."""
        page = f"{self.args.url}/exam/{self.args.sitting}/"
        t0 = time.perf_counter()
        async with self.http.get(page) as response:
            html = await response.text()
        match = CSRF.search(html)
        fields = {"registration_no": self.row["registration_no"], "pin": self.row["pin"]}
        if match:
            fields["csrf_token"] = match.group(1)
        while (
            True
        ):  # a busy server answers 503 + Retry-After: wait and send again, as the page does
            # a browser's Referer and Origin: over HTTPS the login form refuses a POST
            # without a same-origin Referer (docs/protocol.md, "Logging in")
            async with self.http.post(
                page,
                data=fields,
                allow_redirects=False,
                headers={"Referer": page, "Origin": self.args.url},
            ) as response:
                if response.status == 503 and "Retry-After" in response.headers:
                    self.stats["counts"]["login_busy"] += 1
                    await asyncio.sleep(float(response.headers["Retry-After"]))
                    continue
                if response.status != 302:
                    raise RuntimeError(
                        f"login {self.row['registration_no']}: HTTP {response.status}"
                    )
                break
        # the session's own cookie jar now holds the login; Socket.IO sends it
        self.cookie = "; ".join(f"{c.key}={c.value}" for c in self.http.cookie_jar)
        self.stats["login_ms"].append((time.perf_counter() - t0) * 1000)

    async def connect(self):
        import socketio

        self.sio = socketio.AsyncClient(
            reconnection=True,
            reconnection_delay=self.args.reconnect_delay,
            reconnection_delay_max=2 * self.args.reconnect_delay,
            randomization_factor=0.5,
            http_session=self.http,
            request_timeout=10,
        )
        self.sio.on("state", self._on_state, namespace="/exam")
        self.sio.on("connect", self._on_connect, namespace="/exam")
        self.sio.on("disconnect", self._on_disconnect, namespace="/exam")
        t0 = time.perf_counter()
        # a stable device id, as the page keeps one in localStorage: a reconnect
        # of the same device replaces its old socket (docs/protocol.md)
        await self.sio.connect(
            self.args.url,
            namespaces=["/exam"],
            transports=["websocket"],
            auth={"device": self.device},
            wait_timeout=30,
        )
        await self.wait_state(lambda s: True, timeout=30)  # connected = the screen can render
        self.stats["connect_ms"].append((time.perf_counter() - t0) * 1000)

    async def _on_connect(self):
        self.connected.set()
        self.dropped.clear()

    async def _on_disconnect(self, reason=None):
        self.connected.clear()
        self.dropped.set()
        self.stats["counts"]["disconnects"] += 1

    async def _on_state(self, state):
        self._take(state)

    def _take(self, state):
        if self.dropped_at is not None and self.resume_ms is None and self.connected.is_set():
            self.resume_ms = (time.time() - self.dropped_at) * 1000
        if state.get("status") == "in_progress" and self.first_item_at is None:
            self.first_item_at = time.time()
        self.state = state
        self.changed.set()

    async def wait_state(self, predicate, timeout=None):
        async def until():
            while not (self.state is not None and predicate(self.state)):
                self.changed.clear()
                await self.changed.wait()
            return self.state

        return await asyncio.wait_for(until(), timeout)

    async def drop(self):
        """Lose the connection as a network fault does: the client reconnects by itself."""
        self.dropped_at = time.time()
        self.resume_ms = None
        ws = getattr(self.sio.eio, "ws", None)
        if ws is not None:
            transport = getattr(getattr(ws, "_conn", None), "transport", None)
            if transport is not None:
                transport.abort()  # no close frame: like a cable pulled
            else:
                await ws.close()

    # --- answering ----------------------------------------------------------

    def think(self):
        t, j = self.args.think_time, self.args.think_jitter
        return self.rng.uniform(t * (1 - j), t * (1 + j)) if t > 0 else 0.0

    async def answer_loop(self, t_end):
        counts = self.stats["counts"]
        while time.time() < t_end:
            try:
                state = await self.wait_state(
                    lambda s: s.get("status") in ("in_progress", "finished"),
                    timeout=max(0.01, t_end - time.time()),
                )
            except TimeoutError:
                return
            if state["status"] == "finished":
                counts["finished"] += 1
                return
            await asyncio.sleep(min(self.think(), max(0.0, t_end - time.time())))
            if time.time() >= t_end:
                return
            state = self.state
            if state.get("status") != "in_progress":
                continue
            choice = "ABCDE"[self.rng.randrange(5)]
            payload = {
                "attempt": state["attempt"],
                "seq": state["seq"],
                "item": state["item"]["id"],
                "choice": choice,
            }
            ack = await self.send(payload, t_end + 30)
            if ack is None:
                return
            if ack.get("ok"):
                t_ack = time.time()
                self.acked.append((payload["attempt"], payload["seq"], choice))
                if not ack.get("repeat") and "answered" in ack.get("state", {}):
                    # when this seat's new count was known here (--ack-times)
                    self.stats["ack_times"].append(
                        (self.row["registration_no"], ack["state"]["answered"], t_ack)
                    )
                counts["repeats"] += bool(ack.get("repeat"))
                self._take(ack["state"])
            else:
                counts["errors"] += 1
                counts[f"error:{ack.get('error')}"] += 1
                if ack.get("state"):
                    self._take(ack["state"])
                elif ack.get("error") == "retry":
                    await asyncio.sleep(0.2)

    async def send(self, payload, give_up_at):
        """Emit ``answer`` until acknowledged; the same seq again after a drop. None: gave up."""
        loop = asyncio.get_running_loop()
        while time.time() < give_up_at:
            if not self.connected.is_set():
                try:
                    await asyncio.wait_for(
                        self.connected.wait(), max(0.1, give_up_at - time.time())
                    )
                except TimeoutError:
                    break
            future = loop.create_future()
            self.dropped.clear()
            t0 = time.perf_counter()
            try:
                await self.sio.emit(
                    "answer",
                    payload,
                    namespace="/exam",
                    callback=functools.partial(_resolve, future),
                )
            except Exception:  # not connected at this instant: wait and send again
                self.stats["counts"]["resends"] += 1
                await asyncio.sleep(0.05)
                continue
            lost = asyncio.ensure_future(self.dropped.wait())
            done, _ = await asyncio.wait(
                {future, lost}, timeout=self.args.ack_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            lost.cancel()
            if future in done:
                # ended when the ack was handed to its callback, not when this coroutine
                # woke: the wake-up waits for the simulator's own busy loop, which is
                # neither the server's nor the network's time
                t_ack, reply = future.result()
                self.stats["rtt_ms"].append((t_ack - t0) * 1000)
                ws = getattr(self.sio.eio, "ws", None)
                if getattr(ws, "read_at", None) and ws.written_at:
                    self.stats["wire_ms"].append((ws.read_at - ws.written_at) * 1000)
                self.stats["rtt_at"].append(time.time())  # when it came: latency over time
                return reply[0]
            self.stats["counts"]["resends"] += 1  # no ack: same seq again (idempotent)
        self.stats["counts"]["errors"] += 1
        self.stats["counts"]["error:no_ack"] += 1
        return None


def _resolve(future, *args):
    # bound to its own emit: a late ack of an earlier try must not answer this one
    if not future.done():
        future.set_result((time.perf_counter(), args))


def stamped_websocket_class():
    """aiohttp's websocket, noting when an answer is written and its ack read (``wire_ms``).

    ``rtt_ms`` runs from the ``emit`` call to the ack's callback, and so holds two
    hand-offs inside this simulator's own event loop (to python-engineio's writer
    task, and from its reader to a task per message), which wait when the loop or
    the machine is busy. The time between the answer's frame being written and
    the ack's frame being read is what the network and the server took: the
    figure ``/metrics`` should match. Passed to aiohttp as ``ws_response_class``
    (its public hook); a seat has one answer in flight, matched by its ack id.
    """
    import aiohttp

    class StampedWebSocket(aiohttp.ClientWebSocketResponse):
        answer_id = None
        written_at = read_at = None

        async def send_str(self, data, compress=None):
            if data.startswith(_ANSWER_PREFIX):
                self.answer_id = data[len(_ANSWER_PREFIX) :].split("[", 1)[0]
                self.written_at, self.read_at = time.perf_counter(), None
            return await super().send_str(data, compress)

        async def receive(self, timeout=None):
            message = await super().receive(timeout)
            data = message.data
            if isinstance(data, str) and data.startswith(_ACK_PREFIX) and self.answer_id:
                if data[len(_ACK_PREFIX) :].split("[", 1)[0] == self.answer_id:
                    self.read_at = time.perf_counter()
            return message

    return StampedWebSocket


_ANSWER_PREFIX = "42/exam,"  # engine.io message (4) of a Socket.IO event (2) in /exam
_ACK_PREFIX = "43/exam,"  # ... of an ack (3)


# --- one client process -----------------------------------------------------


def new_stats():
    return {
        "login_ms": [],
        "connect_ms": [],
        "rtt_ms": [],
        "rtt_at": [],
        "wire_ms": [],
        "ack_times": [],
        "counts": Counter(),
    }


async def _gather_limited(coros, limit):
    semaphore = asyncio.Semaphore(limit)

    async def run(coro):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(run(c) for c in coros), return_exceptions=True)


async def run_seats(rows, args, control):
    """Log in and connect ``rows``, report ready, wait for go, answer until the end."""
    import aiohttp

    stats = new_stats()
    # One connector (no limit: each websocket holds its connection); one light
    # ClientSession per seat for its own cookie jar (engine.io moves the Cookie
    # header into the session's jar).
    # (one connector per source address with --subnets: the seats of a lab)
    tls = ssl.create_default_context(cafile=args.cafile) if args.cafile else True
    connectors = {}
    timeout = aiohttp.ClientTimeout(total=60)
    websocket_class = stamped_websocket_class()

    def session(address):
        if address not in connectors:
            local = (address, 0) if address else None
            connectors[address] = aiohttp.TCPConnector(limit=0, local_addr=local, ssl=tls)
        return aiohttp.ClientSession(
            connector=connectors[address],
            connector_owner=False,
            timeout=timeout,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            ws_response_class=websocket_class,
        )

    try:
        seats = [Seat(row, args, session(row.get("_address")), stats) for row in rows]
        for result in await _gather_limited([s.login() for s in seats], args.login_concurrency):
            if isinstance(result, BaseException):
                stats["counts"]["errors"] += 1
                stats["counts"][f"error:login:{type(result).__name__}"] += 1
        t_connect = time.time()
        live = [s for s in seats if s.cookie]
        results = await _gather_limited([s.connect() for s in live], args.connect_concurrency)
        for result in results:
            if isinstance(result, BaseException):
                stats["counts"]["errors"] += 1
                stats["counts"][f"error:connect:{type(result).__name__}"] += 1
        live = [s for s in live if s.connected.is_set()]
        stats["counts"]["connected"] = len(live)
        stats["connect_all_s"] = round(time.time() - t_connect, 3)
        go = await asyncio.get_running_loop().run_in_executor(None, control.exchange, stats)
        t_go, t_end = go["t_go"], go["t_end"]
        tasks = [asyncio.ensure_future(s.answer_loop(t_end)) for s in live]
        if args.storm_at is not None:
            await asyncio.sleep(max(0.0, t_go + args.storm_at - time.time()))
            rng = random.Random(1)
            await asyncio.gather(
                *(_later(rng.uniform(0, args.storm_spread), s.drop()) for s in live)
            )
        await asyncio.gather(*tasks, return_exceptions=True)
        stats["acked"] = [a for s in live for a in s.acked]
        stats["attempts"] = sorted({s.state["attempt"] for s in live if s.state})
        if go.get("t_click"):
            stats["first_item_ms"] = [
                (s.first_item_at - go["t_click"]) * 1000 for s in live if s.first_item_at
            ]
        if args.storm_at is not None:
            stats["resume_ms"] = [s.resume_ms for s in live if s.resume_ms is not None]
            stats["counts"]["not_resumed"] = sum(s.resume_ms is None for s in live)
        if args.hold:
            await asyncio.sleep(args.hold)
        await asyncio.gather(*(s.sio.disconnect() for s in live), return_exceptions=True)
        await asyncio.gather(*(s.http.close() for s in seats), return_exceptions=True)
    finally:
        await asyncio.gather(*(c.close() for c in connectors.values()), return_exceptions=True)
    stats["counts"] = dict(stats["counts"])
    return stats


async def _later(delay, coro):
    await asyncio.sleep(delay)
    await coro


class Control:
    """The child's side of the pipe: send ready-stats, receive go."""

    def __init__(self, conn):
        self.conn = conn

    def exchange(self, stats):
        self.conn.send({"ready": True, "connected": stats["counts"].get("connected", 0)})
        return self.conn.recv()


def _child(rows, args, conn):
    try:
        stats = asyncio.run(run_seats(rows, args, Control(conn)))
    except BaseException as error:  # report, so the parent never waits forever
        conn.send({"ready": True, "connected": 0, "failed": repr(error)})
        conn.send({"failed": repr(error)})
        raise
    conn.send(stats)


# --- the parent: start, verify, report ---------------------------------------


def staff_cookie(url, credentials, cafile=None):
    """Log in through the staff form as ``USER:PASSWORD``; the session's Cookie header."""
    import requests

    user, _, password = credentials.partition(":")
    http = requests.Session()
    # per request: requests lets $REQUESTS_CA_BUNDLE override a session's own verify
    verify = cafile or True
    page = http.get(f"{url}/login", timeout=10, verify=verify).text
    token = CSRF.search(page)
    response = http.post(
        f"{url}/login",
        allow_redirects=False,
        timeout=10,
        headers={"Referer": f"{url}/login", "Origin": url},
        verify=verify,
        data={
            "username": user,
            "password": password,
            **({"csrf_token": token.group(1)} if token else {}),
        },
    )
    if response.status_code != 302:
        raise SystemExit(f"proctor login {user}: HTTP {response.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def proctor_start(args):
    """Log in as the proctor and press start over /proctor; return the click's wall clock."""
    import requests
    import socketio

    cookie = staff_cookie(args.url, args.proctor, args.cafile)
    http = requests.Session()
    http.verify = args.cafile or True
    sio = socketio.Client(reconnection=False, http_session=http)
    sio.connect(
        args.url, namespaces=["/proctor"], headers={"Cookie": cookie}, transports=["websocket"]
    )
    watch = sio.call("watch", {"sitting": args.sitting}, namespace="/proctor", timeout=30)
    t_click = time.time()
    reply = sio.call(
        "start_sitting",
        {"sitting": args.sitting, "reason": "load test"},
        namespace="/proctor",
        timeout=60,
    )
    sio.disconnect()
    if not reply.get("ok"):
        raise SystemExit(f"start_sitting: {reply}")
    return t_click, watch.get("counts")


def verify(database_url, acked, attempts):
    """(acked_lost, duplicates, stored) for ``acked`` = [(attempt, seq, choice), ...]."""
    import sqlalchemy as sa

    if database_url.startswith(("postgresql://", "postgres://")):
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    engine = sa.create_engine(database_url)
    stored = {}
    duplicates = 0
    with engine.connect() as conn:
        for start in range(0, len(attempts), 500):
            chunk = attempts[start : start + 500]
            rows = (
                conn.execute(
                    sa.text(
                        "SELECT attempt_id, seq, choice FROM response WHERE attempt_id IN "
                        f"({','.join(str(int(a)) for a in chunk)})"
                    )
                ).all()
                if chunk
                else []
            )
            for attempt_id, seq, choice in rows:
                if (attempt_id, seq) in stored:
                    duplicates += 1
                stored[(attempt_id, seq)] = choice
    engine.dispose()
    lost = sum(stored.get((a, s)) != c for a, s, c in acked)
    return lost, duplicates, len(stored)


def merge(parts):
    total = new_stats()
    total["counts"] = Counter()
    for key in ("first_item_ms", "resume_ms", "acked", "attempts"):
        total[key] = []
    for part in parts:
        for key in (
            "login_ms",
            "connect_ms",
            "rtt_ms",
            "rtt_at",
            "wire_ms",
            "first_item_ms",
            "resume_ms",
            "acked",
            "attempts",
            "ack_times",
        ):
            total[key].extend(part.get(key, []))
        total["counts"].update(part.get("counts", {}))
    total["connect_all_s"] = max((p.get("connect_all_s", 0) for p in parts), default=0)
    return total


def latency_over_time(rtt_ms, rtt_at, t_go, window_s=10.0):
    """p99 per 10 s of the run, and p99 after the first 10 s.

    Every seat gets its first item at the same instant at a mass start, so the
    first answers arrive in waves until the think-time jitter spreads them:
    the steady figure leaves that first window out (the report keeps both).
    """
    windows: dict[int, list] = {}
    for ms, at in zip(rtt_ms, rtt_at, strict=True):
        windows.setdefault(int((at - t_go) // window_s), []).append(ms)
    steady = [ms for ms, at in zip(rtt_ms, rtt_at, strict=True) if at >= t_go + window_s]
    return {
        "p99_ms_per_10s": [percentile(windows[k], 99) for k in sorted(windows) if k >= 0],
        "steady_p99_ms": percentile(steady, 99),
    }


def run(args):
    rows = read_candidates(args.candidates, args.seats)
    for k, row in enumerate(rows):  # --subnets: a lab's addresses, 127.0.1.10, 127.0.2.10, ...
        if args.subnets:
            row["_address"] = f"127.0.{1 + k % args.subnets}.{10 + k // args.subnets}"
    ctx = mp.get_context("spawn")
    procs, conns = [], []
    n = max(1, min(args.procs, len(rows)))
    for i in range(n):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_child, args=(rows[i::n], args, child), daemon=True)
        p.start()
        procs.append(p)
        conns.append(parent)
    t_begin = time.time()
    ready = [c.recv() for c in conns]  # every seat logged in and connected (or failed)
    failed = [r["failed"] for r in ready if "failed" in r]
    t_ready = time.time()
    t_click, counts_before = None, None
    if args.proctor and not failed:
        t_click, counts_before = proctor_start(args)
    t_go = time.time()
    for c in conns:
        c.send({"t_go": t_go, "t_end": t_go + args.duration, "t_click": t_click})
    parts = [c.recv() for c in conns]
    for p in procs:
        p.join(timeout=30)
    failed += [p["failed"] for p in parts if "failed" in p]
    if failed:
        raise SystemExit(f"a client process failed: {failed}")
    total = merge(parts)
    t_done = time.time()
    counts = total["counts"]
    answers = len(total["acked"])
    report = {
        "answers": answers,
        "answers_per_s": round(answers / args.duration, 1),
        "errors": counts.get("errors", 0),
        "p50_ms": percentile(total["rtt_ms"], 50),
        "p95_ms": percentile(total["rtt_ms"], 95),
        "p99_ms": percentile(total["rtt_ms"], 99),
        "acked_lost": None,
        "duplicates": None,
        "connect_p99_ms": percentile(total["connect_ms"], 99),
        # beyond the stable keys
        "seats": args.seats,
        "connected": counts.get("connected", 0),
        "connect_all_s": total["connect_all_s"],
        "login_phase_s": round(t_ready - t_begin, 1),
        "login_p99_ms": percentile(total["login_ms"], 99),
        "max_ms": round(max(total["rtt_ms"]), 2) if total["rtt_ms"] else None,
        # frame written to ack frame read: the round trip less this simulator's own loop
        "wire_p50_ms": percentile(total["wire_ms"], 50),
        "wire_p99_ms": percentile(total["wire_ms"], 99),
        "wire_n": len(total["wire_ms"]),
        "think_time_s": args.think_time,
        "duration_s": args.duration,
        "procs": n,
        "counts": dict(sorted(counts.items())),
        "t_go": round(t_go, 3),  # wall clock of the answering window, for server CPU figures
        "t_end": round(t_go + args.duration, 3),
        # the last ack: answers sent before t_end are acknowledged after it
        "t_last_ack": round(max(total["rtt_at"]), 3) if total["rtt_at"] else None,
        **latency_over_time(total["rtt_ms"], total["rtt_at"], t_go),
    }
    if os.environ.get("CAT_LOAD_RTT_DUMP"):  # every round trip, for a latency-over-time plot
        with open(os.environ["CAT_LOAD_RTT_DUMP"], "w") as out:
            json.dump({"t_go": t_go, "rtt_ms": total["rtt_ms"], "rtt_at": total["rtt_at"]}, out)
    if t_click is not None:
        first = total["first_item_ms"]
        report.update(
            start_seats=len(first),
            first_item_p50_ms=percentile(first, 50),
            first_item_max_ms=round(max(first), 1) if first else None,
            waiting_before_start=(counts_before or {}).get("waiting"),
        )
    if args.storm_at is not None:
        resume = total["resume_ms"]
        report.update(
            storm_resumed=len(resume),
            storm_not_resumed=counts.get("not_resumed", 0),
            storm_resume_p50_ms=percentile(resume, 50),
            storm_resume_max_ms=round(max(resume), 1) if resume else None,
        )
    if args.ack_times:  # [registration_no, answered, wall clock of the ack] per answer
        Path(args.ack_times).write_text(json.dumps(total["ack_times"]))
    if not args.no_verify:
        database = args.database or os.environ.get("CAT_DATABASE_URL")
        if not database:
            raise SystemExit(
                "--database (or CAT_DATABASE_URL) is needed to verify; or pass --no-verify"
            )
        lost, duplicates, stored = verify(database, total["acked"], total["attempts"])
        report.update(acked_lost=lost, duplicates=duplicates, stored_rows=stored)
    report["wall_s"] = round(t_done - t_begin, 1)
    return report


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m loadtests.workstations", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:5000")
    p.add_argument("--sitting", type=int, required=True)
    p.add_argument("--seats", type=int, required=True)
    p.add_argument(
        "--think-time",
        type=float,
        required=True,
        help="mean seconds between an item's arrival and its answer (0: at once)",
    )
    p.add_argument(
        "--duration", type=float, required=True, help="seconds of answering after the start"
    )
    p.add_argument("--report", required=True, help="write the JSON report here")
    p.add_argument(
        "--candidates",
        default=None,
        help="CSV with registration_no,pin (default: loadtests/candidates-<sitting>.csv)",
    )
    p.add_argument(
        "--think-jitter",
        type=float,
        default=0.5,
        help="think time is uniform in think_time*[1-j, 1+j] (default 0.5)",
    )
    p.add_argument(
        "--database",
        default=None,
        help="database URL for the final check (default $CAT_DATABASE_URL)",
    )
    p.add_argument("--no-verify", action="store_true", help="skip the database check")
    p.add_argument(
        "--proctor",
        default=None,
        metavar="USER:PASSWORD",
        help="after every seat is connected, log in as this proctor and start the "
        "sitting (mass start; reports first_item_max_ms)",
    )
    p.add_argument(
        "--storm-at",
        type=float,
        default=None,
        metavar="SECONDS",
        help="at this many seconds after the start every seat loses its connection",
    )
    p.add_argument(
        "--storm-spread",
        type=float,
        default=1.0,
        help="the drops are spread uniformly over this many seconds",
    )
    p.add_argument(
        "--reconnect-delay",
        type=float,
        default=1.0,
        help="the client's first reconnection delay (randomized +-50%%)",
    )
    p.add_argument(
        "--ack-timeout",
        type=float,
        default=10.0,
        help="seconds without an ack before the same seq is sent again",
    )
    p.add_argument("--procs", type=int, default=1, help="client processes (seats split evenly)")
    p.add_argument(
        "--subnets",
        type=int,
        default=0,
        help="send each seat from its own loopback address, over this many /24s "
        "(127.0.1.10, 127.0.2.10, ...), as a lab behind nginx's hash $remote_addr",
    )
    p.add_argument(
        "--cafile",
        default=None,
        help="trust this certificate (the centre's CA or self-signed) for https:// URLs",
    )
    p.add_argument(
        "--login-concurrency", type=int, default=8, help="logins in flight per client process"
    )
    p.add_argument(
        "--connect-concurrency",
        type=int,
        default=100,
        help="socket connects in flight per client process",
    )
    p.add_argument(
        "--ack-times",
        default=None,
        metavar="PATH",
        help="write [registration_no, answered, wall clock] of every acknowledged "
        "answer here (the proctors scenario times the fan-out from them)",
    )
    p.add_argument(
        "--hold",
        type=float,
        default=0.0,
        help="keep the sockets open this many seconds after answering (memory probes)",
    )
    args = p.parse_args(argv)
    if args.candidates is None:
        args.candidates = str(Path(__file__).parent / f"candidates-{args.sitting}.csv")
    args.url = args.url.rstrip("/")
    return args


def main(argv=None):
    args = parse_args(argv)
    report = run(args)
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    bad = report["errors"] or report["acked_lost"] or report["duplicates"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
