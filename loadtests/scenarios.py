"""The load scenarios of issue 8, each bounded in time, each writing a JSON report.

    python -m loadtests.scenarios peak --db sqlite --seats 300 --duration 60
    python -m loadtests.scenarios peak --db postgresql --seats 300 --duration 60
    python -m loadtests.scenarios sustained --seats 300 --duration 30   # + the echo ceiling
    python -m loadtests.scenarios mass-start --seats 300
    python -m loadtests.scenarios storm --seats 300
    python -m loadtests.scenarios connected --seats 3000 --duration 20 # memory per seat
    python -m loadtests.scenarios realistic --seats 300 --duration 300
    python -m loadtests.scenarios soak --seats 300 --duration 3600
    python -m loadtests.scenarios two-procs --seats 300 --duration 60  # Redis + PostgreSQL
    python -m loadtests.scenarios proctors --seats 300 --duration 60   # 5 proctors watching
    python -m loadtests.scenarios nginx --seats 600 --servers 2        # docs/deploy/nginx.conf

Each run makes a fresh database (a SQLite file under --workdir, or a new
PostgreSQL database on ``$CAT_LOAD_PG_URL``, default
postgresql://postgres@127.0.0.1:5432/postgres), seeds a sitting with
``cat-server load-seed``, starts gunicorn with one gevent worker on
127.0.0.1, drives it with ``loadtests.workstations`` and stops every process it
started. The report adds the server worker's memory (RSS) and the scenario.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from loadtests import metrics_check

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PROCTOR = "loadtest:loadtest-123"
LOAD_SECRET_KEY = secrets.token_hex(32)  # one per run, shared by its processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn(app="cat_server.wsgi:app", port=None, workers=1):
    return [
        PY,
        "-m",
        "gunicorn",
        "--worker-class",
        "gevent",
        "--workers",
        str(workers),
        "--worker-connections",
        "10000",
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
        app,
    ]


class Server:
    """One gunicorn master + gevent worker; RSS of the worker sampled on demand."""

    def __init__(self, workdir, name, env, app="cat_server.wsgi:app"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        self.proc = subprocess.Popen(
            gunicorn(app, self.port),
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            self.stop()
            raise SystemExit(f"server did not start: {self.log.read_text()[-2000:]}")

    def worker_pid(self):
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return int(children[0])

    def cpu_s(self):
        """CPU seconds (user + system, every thread) the worker has used so far."""
        fields = Path(f"/proc/{self.worker_pid()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kb(self):
        for line in Path(f"/proc/{self.worker_pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class RssSampler(threading.Thread):
    """The worker's RSS and CPU time every ``every`` seconds."""

    def __init__(self, server, every=1.0):
        super().__init__(daemon=True)
        self.server, self.every, self.samples, self.stop_flag = server, every, [], threading.Event()
        self.cpu = []  # (wall clock, worker CPU seconds)

    def run(self):
        while not self.stop_flag.wait(self.every):
            try:
                self.samples.append(self.server.rss_kb())
                self.cpu.append((time.time(), self.server.cpu_s()))
            except (OSError, IndexError):
                pass

    def cpu_figures(self, report):
        """Server CPU over the answering window: per answer, and as a share of one core.

        CPU time does not depend on what else runs on the box, so this figure
        compares across runs better than rates and latencies do.
        """
        inside = [(t, c) for t, c in self.cpu if report["t_go"] + 1 <= t <= report["t_end"] - 1]
        if len(inside) < 2 or not report.get("answers"):
            return {}
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        answers = report["answers"] * (t1 - t0) / report["duration_s"]  # answers in the window
        return {
            "server_cpu_ms_per_answer": round((c1 - c0) * 1000 / max(answers, 1), 3),
            "server_cpu_share": round((c1 - c0) / (t1 - t0), 2),
        }


def make_database(kind, workdir, base=None, prefix="cat_load"):
    """A new SQLite file under ``workdir``, or a new PostgreSQL database beside ``base``
    (default ``$CAT_LOAD_PG_URL``); returns (its URL, a function that drops it)."""
    if kind == "sqlite":
        path = workdir / f"load-{secrets.token_hex(3)}.db"
        return f"sqlite:///{path}", lambda: None
    import psycopg

    base = base or os.environ.get(
        "CAT_LOAD_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    plain = base.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    from sqlalchemy.engine import make_url

    # keeps ?host=/var/run/postgresql (a Unix socket) and any other query part
    url = make_url(plain).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False), drop


def seed(db_url, seats, workdir, pin=None):
    """Schema + a load sitting; return (sitting id, candidates CSV)."""
    env = {**os.environ, "CAT_DATABASE_URL": db_url}
    subprocess.run(
        [
            PY,
            "-c",
            "from cat_server import create_app\n"
            "from cat_server.extensions import db\n"
            "app = create_app(command_line=True)\n"
            "with app.app_context(): db.create_all()",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    out = workdir / f"candidates-{secrets.token_hex(3)}.csv"
    cmd = [
        PY,
        "-c",
        "import sys; from cat_server.cli import main; sys.exit(main())",
        "load-seed",
        "--seats",
        str(seats),
        "--csv",
        str(out),
    ]
    if pin:
        cmd += ["--pin", pin]
    result = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return int(result.stdout.strip().splitlines()[-1]), out


def simulate(
    url,
    sitting,
    csv_path,
    db_url,
    report,
    seats,
    think,
    duration,
    *extra,
    verify=True,
    timeout=None,
):
    cmd = [
        PY,
        "-m",
        "loadtests.workstations",
        "--url",
        url,
        "--sitting",
        str(sitting),
        "--seats",
        str(seats),
        "--think-time",
        str(think),
        "--duration",
        str(duration),
        "--report",
        str(report),
        "--candidates",
        str(csv_path),
        *extra,
    ]
    cmd += ["--database", db_url] if verify else ["--no-verify"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=ROOT, timeout=timeout or duration + 600, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = json.loads(Path(report).read_text())
    # the simulator shares the box's 2 cores with the server: how much it took of them
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    figures["client_cpu_s"] = round(cpu, 1)
    return figures


def scenario(args, think, *extra, start=True, pin=None, watch=None):
    """Fresh database + server, one simulator run; the report with memory figures.

    ``watch(url, sitting)``, when given, runs once the server is up and returns
    a function that takes the report and returns figures to add to it.
    """
    workdir = Path(args.workdir)
    db_url, drop = make_database(args.db, workdir)
    server = None
    try:
        sitting, csv_path = seed(db_url, args.seats, workdir, pin)
        env = {
            "CAT_DATABASE_URL": db_url,
            "CAT_SECRET_KEY": LOAD_SECRET_KEY,
            "CAT_RATELIMIT_ENABLED": "false",
            "CAT_MAX_SOCKETS_PER_ADDRESS": "0",
        }  # 300 seats share 127.0.0.1
        server = Server(workdir, f"{args.name}-server", env)
        rss0 = server.rss_kb()
        sampler = RssSampler(server)
        sampler.start()
        finish = watch(server.url, sitting) if watch else None
        extra = list(extra) + (["--proctor", PROCTOR] if start else [])
        report = simulate(
            server.url,
            sitting,
            csv_path,
            db_url,
            args.report,
            args.seats,
            think,
            args.duration,
            *extra,
            "--procs",
            str(args.procs),
        )
        sampler.stop_flag.set()
        peak = max([s for s in sampler.samples if s] or [rss0])
        report.update(
            scenario=args.name,
            db=args.db,
            server_rss_idle_kb=rss0,
            loadavg_1min_at_end=round(os.getloadavg()[0], 2),
            server_rss_peak_kb=peak,
            kb_per_seat=round((peak - rss0) / max(1, report["connected"]), 1),
            **sampler.cpu_figures(report),
        )
        if finish:
            report.update(finish(report))
        return report
    finally:
        if server:
            server.stop()
        drop()


def sustained(args):
    """Closed loop (think 0) against cat_server, then against the echo server, same seats."""
    ours = scenario(args, 0, "--think-jitter", "0")
    workdir = Path(args.workdir)
    echo = Server(workdir, "echo-server", {}, app="loadtests.echo:app")
    sampler = RssSampler(echo)
    sampler.start()
    try:
        rows = "\n".join(f"E{i:06d},000000" for i in range(args.seats))
        csv_path = workdir / "echo-candidates.csv"
        csv_path.write_text("registration_no,pin\n" + rows + "\n")
        bare = simulate(
            echo.url,
            1,
            csv_path,
            "",
            workdir / "echo-report.json",
            args.seats,
            0,
            args.duration,
            "--think-jitter",
            "0",
            "--procs",
            str(args.procs),
            verify=False,
        )
        sampler.stop_flag.set()
    finally:
        echo.stop()
    ours["echo"] = {k: bare[k] for k in ("answers_per_s", "p50_ms", "p95_ms", "p99_ms", "errors")}
    ours["echo"].update(sampler.cpu_figures(bare))
    ours["ratio_to_echo"] = round(ours["answers_per_s"] / max(bare["answers_per_s"], 1e-9), 3)
    return ours


class ProctorScreen:
    """One proctor's browser, as python-socketio: logs in, watches, notes when each message came."""

    def __init__(self, url, sitting, credentials):
        import socketio

        from loadtests.workstations import staff_cookie

        self.received = []  # wall clock of every message on /proctor
        self.seen = {}  # (registration_no, answered) -> wall clock it first arrived
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._on_any, namespace="/proctor")
        self.sio.connect(
            url,
            namespaces=["/proctor"],
            transports=["websocket"],
            headers={"Cookie": staff_cookie(url, credentials)},
        )
        watch = self.sio.call("watch", {"sitting": sitting}, namespace="/proctor", timeout=30)
        if not watch.get("ok"):
            raise SystemExit(f"watch: {watch}")

    def _on_any(self, event, data=None):
        now = time.time()
        self.received.append(now)
        for seat in (data or {}).get("seats", ()) if isinstance(data, dict) else ():
            self.seen.setdefault((seat["registration_no"], seat["answered"]), now)

    def close(self):
        self.sio.disconnect()


def max_per_second(times):
    """(most messages in one calendar second, most in any sliding 1 s window)."""
    times = sorted(times)
    per_second = Counter(int(t) for t in times)
    sliding, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 1.0:
            lo += 1
        sliding = max(sliding, hi - lo + 1)
    return max(per_second.values(), default=0), sliding


def fan_out_figures(screens, ack_times, t_from, t_to):
    """Per proctor: the message rate; per answer: ack at the seat -> seen by every proctor."""
    from loadtests.workstations import percentile

    rates = [max_per_second([t for t in s.received if t_from <= t <= t_to]) for s in screens]
    index = [{} for _ in screens]  # per screen: registration_no -> [(answered, time)]
    for i, screen in enumerate(screens):
        for (reg, n), t in screen.seen.items():
            index[i].setdefault(reg, []).append((n, t))
    latencies, missed = [], 0
    for reg, answered, t_ack in ack_times:
        arrivals = [
            min((t for n, t in idx.get(reg, ()) if n >= answered), default=None) for idx in index
        ]
        if None in arrivals:
            missed += 1
            continue
        # negative: a proctor saw the change before the ack reached the seat
        latencies.append((max(arrivals) - t_ack) * 1000)
    return {
        "proctors": len(screens),
        "proctor_max_msgs_per_s": [r[0] for r in rates],
        "proctor_max_msgs_in_1s_window": [r[1] for r in rates],
        "proctor_messages": [len(s.received) for s in screens],
        "fanout_answers": len(latencies),
        "fanout_missed": missed,
        "fanout_p50_ms": percentile(latencies, 50),
        "fanout_p95_ms": percentile(latencies, 95),
        "fanout_p99_ms": percentile(latencies, 99),
        "fanout_max_ms": round(max(latencies), 1) if latencies else None,
    }


def proctors(args):
    """Seats answering every 2 s while N proctors watch the sitting over /proctor."""
    ack_path = Path(args.workdir) / f"ack-times-{secrets.token_hex(3)}.json"

    def watch(url, sitting):
        screens = [ProctorScreen(url, sitting, PROCTOR) for _ in range(args.proctors)]
        t_from = time.time()

        def finish(report):
            time.sleep(1.0)  # the last coalesced flush
            t_to = time.time()
            for screen in screens:
                screen.close()
            ack_times = json.loads(ack_path.read_text())
            ack_path.unlink()
            return fan_out_figures(screens, ack_times, t_from, t_to)

        return finish

    return scenario(
        args,
        args.think_time or 2.0,
        "--think-jitter",
        "0.25",
        "--ack-times",
        str(ack_path),
        watch=watch,
    )


def two_procs(args):
    """Two gunicorn processes joined by Redis on PostgreSQL; a proctor watches on the other one."""
    import socketio

    workdir = Path(args.workdir)
    args.db = "postgresql"
    db_url, drop = make_database("postgresql", workdir)
    servers = []
    try:
        sitting, csv_path = seed(db_url, args.seats, workdir)
        env = {
            "CAT_DATABASE_URL": db_url,
            "CAT_SECRET_KEY": LOAD_SECRET_KEY,
            "CAT_REDIS_URL": os.environ.get("CAT_LOAD_REDIS_URL", "redis://127.0.0.1:6379/0"),
            "CAT_SOCKETIO_CHANNEL": f"cat-load-{secrets.token_hex(3)}",
            "CAT_MAX_SOCKETS_PER_ADDRESS": "0",  # 300 seats share 127.0.0.1
        }
        servers = [Server(workdir, f"two-procs-{i}", env) for i in (0, 1)]
        from loadtests.workstations import staff_cookie

        seen = {"messages": 0, "answered": {}}
        proctor = socketio.Client(reconnection=False)

        def on_seats(message):
            seen["messages"] += 1
            for seat in message["seats"]:
                seen["answered"][seat["candidate"]] = seat["answered"]

        proctor.on("seats", on_seats, namespace="/proctor")
        proctor.connect(
            servers[1].url,
            namespaces=["/proctor"],
            transports=["websocket"],
            headers={"Cookie": staff_cookie(servers[1].url, PROCTOR)},
        )
        proctor.call("watch", {"sitting": sitting}, namespace="/proctor")
        # the seats and the start click go to process 0; the proctor screen is on process 1
        report = simulate(
            servers[0].url,
            sitting,
            csv_path,
            db_url,
            args.report,
            args.seats,
            args.think_time or 2.0,
            args.duration,
            "--proctor",
            PROCTOR,
            "--procs",
            str(args.procs),
        )
        time.sleep(1.0)  # the last coalesced flush
        proctor.disconnect()
        report.update(
            scenario="two-procs",
            db="postgresql",
            proctor_messages=seen["messages"],
            proctor_seen_answers=sum(seen["answered"].values()),
        )
        return report
    finally:
        for server in servers:
            server.stop()
        drop()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m loadtests.scenarios", description=__doc__)
    p.add_argument(
        "name",
        choices=[
            "realistic",
            "peak",
            "sustained",
            "mass-start",
            "storm",
            "connected",
            "soak",
            "two-procs",
            "proctors",
            "nginx",
        ],
    )
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--seats", type=int, default=300)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--think-time", type=float, default=None)
    p.add_argument("--procs", type=int, default=2, help="simulator processes")
    p.add_argument("--servers", type=int, default=2, help="server processes (nginx)")
    p.add_argument("--proctors", type=int, default=5, help="proctor screens (proctors)")
    p.add_argument("--workdir", default="/tmp/cat-load")
    p.add_argument("--report", default=None)
    args = p.parse_args(argv)
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    if args.name == "nginx":
        args.db = "postgresql"  # several processes: PostgreSQL only
    args.report = args.report or str(Path(args.workdir) / f"{args.name}-{args.db}.json")
    t = args.think_time
    if args.name == "peak":  # every 1-2 s (the acceptance figure uses 2 s)
        report = scenario(args, t or 2.0, "--think-jitter", "0.25", watch=metrics_check.watch)
    elif args.name in ("realistic", "soak"):
        report = scenario(args, t or 30.0, "--think-jitter", "0.5")
    elif args.name == "sustained":
        report = sustained(args)
    elif args.name == "mass-start":
        args.duration = min(args.duration, 15)
        report = scenario(args, t or 30.0)
    elif args.name == "storm":  # every seat drops 10 s in, spread over 1 s, and returns
        report = scenario(
            args, t or 2.0, "--storm-at", "10", "--storm-spread", "1", "--reconnect-delay", "1"
        )
    elif args.name == "connected":  # sockets open, nobody answering: memory per seat
        report = scenario(
            args,
            t or 10_000.0,
            "--connect-concurrency",
            "200",
            "--login-concurrency",
            "16",
            pin="123456",
        )
    elif args.name == "proctors":
        report = proctors(args)
    elif args.name == "nginx":
        from loadtests import nginx_scenario  # it builds on this module's pieces

        report = nginx_scenario.run(args)
    else:
        report = two_procs(args)
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
