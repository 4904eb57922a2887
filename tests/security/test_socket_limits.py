"""One LAN machine opening websocket sessions in a loop cannot take the server (issue 16).

A real gunicorn + gevent server; raw engine.io handshakes over HTTP polling
(what a script would send), all from 127.0.0.1.
"""

import time

import pytest
import requests

from tests.live import LiveServer

pytestmark = pytest.mark.slow


def handshake(url):
    return requests.get(f"{url}/socket.io/?EIO=4&transport=polling", timeout=5)


@pytest.fixture
def server(app, tmp_path, db_url):  # ``app`` makes the schema
    live = LiveServer(
        db_url, tmp_path / "server.log", MAX_SOCKETS_PER_ADDRESS=5, ANON_SOCKET_GRACE=2
    ).start()
    yield live
    live.stop()


def test_sockets_per_address_are_bounded_and_anonymous_ones_end(server):
    opened = [handshake(server.url) for _ in range(5)]
    assert all(r.status_code == 200 for r in opened)
    refused = handshake(server.url)
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_sockets"
    assert requests.get(f"{server.url}/healthz", timeout=5).ok  # the rest of the server answers
    # none of them joined a namespace: ended after the grace, and the address may connect again
    deadline = time.monotonic() + 15
    while handshake(server.url).status_code != 200:
        assert time.monotonic() < deadline, "anonymous sessions were never ended"
        time.sleep(0.5)
    sid = opened[0].text.split('"sid":"')[1].split('"')[0]
    gone = requests.get(f"{server.url}/socket.io/?EIO=4&transport=polling&sid={sid}", timeout=5)
    assert gone.status_code == 400  # the engine.io session is closed
