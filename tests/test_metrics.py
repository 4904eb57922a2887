"""``/metrics``: the centre's monitoring reads it, nobody else; the figures add up across processes."""

import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from cat_server.extensions import socketio
from tests.conftest import PIN, login_candidate, make_config, make_sitting, make_user
from tests.live import LiveServer, cookie_header, http_login, proctor_call
from tests.test_live_server import Workstation


def samples(text: str) -> dict:
    """{(name, sorted labels): value} of one scrape."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scrape: dict, name: str, **labels) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_for_the_centres_monitoring_only(app):
    client = app.test_client()
    local = client.get("/metrics")
    assert local.status_code == 200
    assert local.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "cat_answers_total" in local.text and "cat_database_up 1.0" in local.text

    workstation = {"REMOTE_ADDR": "10.20.30.41"}
    refused = client.get("/metrics", environ_base=workstation)
    assert refused.status_code == 403 and "monitoring only" in refused.text
    # nginx on the same box: a forwarded request is not local unless the proxy is trusted
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.20.30.41"}).status_code == 403

    app.config["METRICS_ALLOW"] = "127.0.0.1, 10.20.99.0/24"
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.99.7"}).status_code == 200
    assert client.get("/metrics", environ_base=workstation).status_code == 403

    app.config["METRICS_TOKEN"] = token = secrets.token_hex(16)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/metrics", environ_base=workstation, headers=bearer).status_code == 200
    wrong = {"Authorization": f"Bearer {token[:-1]}x"}
    assert client.get("/metrics", environ_base=workstation, headers=wrong).status_code == 403


def test_answers_latency_and_seats_are_counted_without_a_statement_more(app):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=2, n_items=5, proctor=make_user())
    client = app.test_client()
    before = samples(client.get("/metrics").text)
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    with app.app_context():
        from cat_server.exam import attempts

        attempts.start_sitting(sitting_id, "test")
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = [e for e in sock.get_received("/exam") if e["name"] == "state"][-1]["args"][0]
    connected = samples(app.test_client().get("/metrics").text)
    assert value(connected, "cat_seats", sitting=str(sitting_id), state="connected") == 1
    for _ in range(3):
        answer = {
            "attempt": state["attempt"],
            "seq": state["seq"],
            "item": state["item"]["id"],
            "choice": "A",
        }
        ack = sock.emit("answer", answer, namespace="/exam", callback=True)
        assert ack["ok"], ack
        state = ack["state"]
    sock.disconnect(namespace="/exam")
    after = samples(app.test_client().get("/metrics").text)
    assert value(after, "cat_answers_total") - value(before, "cat_answers_total") == 3
    count = "cat_answer_ack_seconds_count"
    assert value(after, count) - value(before, count) == 3
    assert value(after, "cat_seats", sitting=str(sitting_id), state="disconnected") == 1
    assert value(after, "cat_reaper_lag_seconds") == 0
    assert value(after, "cat_process_resident_memory_bytes") > 10e6


def test_ack_latency_is_timed_by_the_server_whatever_the_client_sends(app):
    """The read stamp travels in the payload: a client's own value for it is overwritten."""
    from cat_server import metrics

    with app.app_context():
        sitting_id = make_sitting(n_candidates=1, n_items=3, proctor=make_user())
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    with app.app_context():
        from cat_server.exam import attempts

        attempts.start_sitting(sitting_id, "test")
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = [e for e in sock.get_received("/exam") if e["name"] == "state"][-1]["args"][0]
    before = samples(app.test_client().get("/metrics").text)
    answer = {
        "attempt": state["attempt"],
        "seq": state["seq"],
        "item": state["item"]["id"],
        "choice": "A",
        metrics.READ_AT: 0.0,  # "read" at the epoch of perf_counter: hours of latency
    }
    ack = sock.emit("answer", answer, namespace="/exam", callback=True)
    assert ack["ok"] and ack["state"]["seq"] == state["seq"] + 1, ack
    sock.disconnect(namespace="/exam")
    after = samples(app.test_client().get("/metrics").text)
    assert (
        value(after, "cat_answer_ack_seconds_count") - value(before, "cat_answer_ack_seconds_count")
        == 1
    )
    took = value(after, "cat_answer_ack_seconds_sum") - value(before, "cat_answer_ack_seconds_sum")
    assert 0 < took < 5, took


def test_ack_latency_counts_the_wait_between_the_packets_read_and_its_handler():
    """What the client waits for starts when its packet is read, not when a greenlet runs it."""
    import time

    from cat_server import metrics

    read = metrics.StampedPacket(encoded_packet='2/exam,7["answer",{"seq":3,"choice":"A"}]')
    payload = read.data[1]
    time.sleep(0.2)  # the hand-off to the handler's greenlet, on a busy loop
    assert time.perf_counter() - metrics.read_at(payload) >= 0.2
    assert payload == {"seq": 3, "choice": "A"}  # the handler sees the payload as sent
    for other in ('2/exam,8["mark",{"seq":3}]', '2/proctor,9["answer",{"seq":3}]'):
        assert metrics.READ_AT not in metrics.StampedPacket(encoded_packet=other).data[1]


@pytest.mark.slow
def test_one_scrape_sums_every_process_of_the_box(pg_url, redis_url, tmp_path):
    from cat_server import create_app
    from cat_server.extensions import db

    app = create_app(make_config(pg_url))
    with app.app_context():
        db.drop_all()
        db.create_all()
        sitting_id = make_sitting(n_items=8, n_candidates=2, proctor=make_user())
    shared = tmp_path / "prometheus"
    shared.mkdir()
    channel = f"cat-test-{secrets.token_hex(4)}"
    servers = [
        LiveServer(pg_url, tmp_path / f"{n}.log", REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel)
        for n in "ab"
    ]
    for server in servers:
        server.env["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
        server.start()
    try:
        stations = []
        for i, server in enumerate(servers):  # one candidate on each process
            candidate = requests.Session()
            login = http_login(
                candidate,
                f"{server.url}/exam/{sitting_id}/",
                {"registration_no": f"2026{i + 1:04d}", "pin": PIN},
            )
            assert login.status_code == 302
            stations.append(Workstation(server.url, cookie_header(candidate)))
        assert proctor_call(servers[0].url, sitting_id, "start_sitting") == {"ok": True}
        answered = {0: 0, 1: 0}

        def answer(i, n):
            state = stations[i].wait_state(lambda s: s["status"] == "in_progress")
            for _ in range(n):
                ack = stations[i].answer(state)
                assert ack["ok"], ack
                state = ack["state"]
                answered[i] += 1

        threads = [threading.Thread(target=answer, args=(i, 3 + 2 * i)) for i in (0, 1)]
        [t.start() for t in threads], [t.join(30) for t in threads]
        assert answered == {0: 3, 1: 5}
        for server in servers:  # either process answers for the whole box
            scrape = samples(requests.get(f"{server.url}/metrics", timeout=10).text)
            assert value(scrape, "cat_answers_total") == 8
            assert value(scrape, "cat_answer_ack_seconds_count") == 8
            assert value(scrape, "cat_seats", sitting=str(sitting_id), state="connected") == 2
            memory = [k for k in scrape if k[0] == "cat_process_resident_memory_bytes"]
            assert len({dict(labels)["pid"] for _, labels in memory}) == 2, memory
            batches = value(scrape, "cat_writer_batch_size_sum", writer="postgresql")
            assert batches >= 1  # the answer lane's batches, of either process
        for station in stations:
            station.sio.disconnect()
    finally:
        for server in servers:
            server.stop()


def _worker_pid(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_TIMESTAMP is Linux's")
def test_ack_latency_counts_a_frame_that_waited_in_the_kernel_for_a_busy_server(
    app, db_url, tmp_path
):
    """A frame that arrives while the server's loop cannot run waits in the socket; the
    candidate waits with it, so the histogram must too (the kernel's receive time, not
    the moment the server got round to reading it). The worker is stopped for 0.6 s
    while an answer is in flight: the client's round trip and /metrics both see it."""
    with app.app_context():
        sitting_id = make_sitting(n_items=5, n_candidates=1, proctor=make_user())
    server = LiveServer(db_url, tmp_path / "server.log").start()
    try:
        candidate = requests.Session()
        login = http_login(
            candidate,
            f"{server.url}/exam/{sitting_id}/",
            {"registration_no": "20260001", "pin": PIN},
        )
        assert login.status_code == 302
        station = Workstation(server.url, cookie_header(candidate))
        assert proctor_call(server.url, sitting_id, "start_sitting") == {"ok": True}
        state = station.wait_state(lambda s: s["status"] == "in_progress")
        ack = station.answer(state)  # a quick one first
        assert ack["ok"], ack
        # observed once its ack is written, by a greenlet of its own: let it run first
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = requests.get(f"{server.url}/metrics", timeout=10).text
            if value(samples(text), "cat_answer_ack_seconds_count") == 1:
                break
            time.sleep(0.05)
        worker = _worker_pid(server.process.pid)
        acks = []
        os.kill(worker, signal.SIGSTOP)
        try:
            sent = time.monotonic()
            caller = threading.Thread(target=lambda: acks.append(station.answer(ack["state"])))
            caller.start()
            time.sleep(0.6)
        finally:
            os.kill(worker, signal.SIGCONT)
        caller.join(15)
        round_trip = time.monotonic() - sent
        assert acks and acks[0]["ok"], acks
        assert round_trip >= 0.6
        scrape = samples(requests.get(f"{server.url}/metrics", timeout=10).text)
        total = value(scrape, "cat_answer_ack_seconds_count")
        buckets = {
            float(dict(labels)["le"]): n
            for (name, labels), n in scrape.items()
            if name == "cat_answer_ack_seconds_bucket"
        }
        under = max(b for b in buckets if b <= 0.5)
        quick = buckets[under]
        assert total == 2
        assert quick == 1, f"the stopped answer was counted under {under} s"
        station.sio.disconnect()
    finally:
        server.stop()
