"""Two deployments on one Redis keep their Socket.IO messages apart (issue 23, defect 6)."""

import time

import redis

from cat_server.factory import socketio_channel
from tests.conftest import make_config


def with_db(url: str, number: int) -> str:
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{number}"


def channel_of(tmp_path, redis_url, **extra):
    # the factory's own rule, without an app: an app made here with a Redis URL would leave
    # the process-wide Socket.IO server on a message queue, and every later in-process test
    # client would refuse to run ("Test client cannot be used with a message queue")
    return socketio_channel(
        make_config(f"sqlite:///{tmp_path / 'c.db'}", REDIS_URL=redis_url, **extra)
    )


def test_deployments_on_two_redis_dbs_do_not_hear_each_other(tmp_path, redis_url):
    url_a, url_b = with_db(redis_url, 5), with_db(redis_url, 6)
    channel_a, channel_b = channel_of(tmp_path, url_a), channel_of(tmp_path, url_b)
    assert channel_a != channel_b
    # pub/sub ignores the db number: only the channel name keeps them apart
    listener = redis.Redis.from_url(url_b).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(channel_a, channel_b)
    time.sleep(0.1)
    redis.Redis.from_url(url_a).publish(channel_a, b"seat changed on A")
    heard = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not heard:
        message = listener.get_message(timeout=0.2)
        if message:
            heard.append(message["channel"].decode())
    listener.close()
    assert heard == [channel_a]  # B's channel stayed quiet


def test_a_named_channel_wins(tmp_path, redis_url):
    assert channel_of(tmp_path, with_db(redis_url, 5), SOCKETIO_CHANNEL="upt-jakarta") == (
        "upt-jakarta"
    )
    assert channel_of(tmp_path, with_db(redis_url, 0)) == "cat-server"


def test_two_deployments_on_one_redis_keep_their_login_counters_apart(tmp_path):
    """Rate-limit and lock-out keys carry the deployment's channel name, as its messages do."""
    from cat_server import create_app
    from tests.conftest import make_config

    def prefix(**extra):
        app = create_app(make_config(f"sqlite:///{tmp_path / 'p.db'}", **extra))
        return app.config["RATELIMIT_KEY_PREFIX"]

    assert prefix(SOCKETIO_CHANNEL="upt-live") == "upt-live"
    assert prefix(SOCKETIO_CHANNEL="upt-latihan") == "upt-latihan"
    assert prefix() == "cat-server"
