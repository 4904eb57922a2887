"""Production refuses a secret key anyone could know; the demo keeps one of its own (issue 16).

With the key the session cookie is signed with, anyone can write a candidate's
cookie for any attempt id and answer for that candidate without a PIN.
"""

import os
import secrets
import string

import pytest
import requests
from flask import Flask

from cat_server import PUBLIC_SECRET_KEYS, InsecureSecretKey, create_app, keystrength
from cat_server.cli import demo_secret_key
from cat_server.exam import chain
from cat_server.exam.chain import ChainKeyError
from tests.live import LiveServer

STRONG = "_Go4ZJuq403G1jxfMFbtfpOPdsKFgmZ7hu3EO_T0myw-QCqRTdn7bbc441UshTvN"  # token_urlsafe(48)
MAKE_ONE = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def production_env(tmp_path, **env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k != "CAT_SECRET_KEY"}
    return {**clean, "CAT_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}", **env}


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("dev-only-change-me", "published example"),
        ("x" * 31, "shorter than 32 bytes"),
    ],
)
def test_the_app_refuses_a_missing_public_or_short_key(monkeypatch, tmp_path, key, says):
    monkeypatch.delenv("CAT_SECRET_KEY", raising=False)
    if key is not None:
        monkeypatch.setenv("CAT_SECRET_KEY", key)
    monkeypatch.setenv("CAT_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(InsecureSecretKey) as refused:
        create_app()
    assert says in str(refused.value)
    assert MAKE_ONE in str(refused.value)  # says how to make one


PATTERNED = [
    "a" * 32,
    "0123456789" * 4,
    "rahasia" * 5,  # a short word repeated
    "rahasia-ujian-" * 3,
    "abcdefghijklmnopqrstuvwxyzABCDEF",
    "Password1234567890Password123456",
    "e2e-" + "0123456789abcdef" * 4,  # this project's own end-to-end key, until it was refused
    "9876543210" * 4,
]


@pytest.mark.parametrize("key", PATTERNED)
def test_the_app_refuses_a_patterned_key_however_long(monkeypatch, tmp_path, key):
    """Issue 16, second attack: 'a' * 32 and '0123456789' * 4 passed the length rule."""
    monkeypatch.setenv("CAT_SECRET_KEY", key)
    monkeypatch.setenv("CAT_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(InsecureSecretKey) as refused:
        create_app()
    assert "CAT_SECRET_KEY is too easy to guess: it follows a pattern" in str(refused.value)
    assert MAKE_ONE in str(refused.value)
    monkeypatch.setenv("CAT_SECRET_KEY", STRONG)
    monkeypatch.setenv("CAT_CHAIN_KEY", key)
    with pytest.raises(ChainKeyError) as refused:
        create_app()
    assert "CAT_CHAIN_KEY is too easy to guess" in str(refused.value)
    assert MAKE_ONE in str(refused.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: secrets.token_hex(16),  # 32 hex digits: the shortest random key allowed
        lambda: secrets.token_hex(32),
        lambda: secrets.token_urlsafe(24),
        lambda: secrets.token_urlsafe(48),
        lambda: "".join(secrets.choice(string.ascii_lowercase) for _ in range(32)),
        lambda: "".join(secrets.choice(string.digits) for _ in range(40)),
    ],
    ids=["hex16", "hex32", "urlsafe24", "urlsafe48", "lower32", "digits40"],
)
def test_random_keys_are_never_refused(monkeypatch, tmp_path, make):
    refused = [key for key in (make() for _ in range(20_000)) if keystrength.weakness(key)]
    assert refused == []
    monkeypatch.setenv("CAT_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    for _ in range(3):  # and the app starts with them, as secret and as chain key
        secret, chain_key = make(), make()
        monkeypatch.setenv("CAT_SECRET_KEY", secret)
        monkeypatch.setenv("CAT_CHAIN_KEY", chain_key)
        app = create_app()
        assert app.config["SECRET_KEY"] == secret
        assert app.extensions["cat_chain_key"] == chain_key.encode()


def test_the_chain_key_may_not_be_the_secret_key(monkeypatch, tmp_path):
    """With one key, whoever may sign cookies could also forge answers that verify."""
    monkeypatch.setenv("CAT_SECRET_KEY", STRONG)
    monkeypatch.setenv("CAT_CHAIN_KEY", STRONG)
    monkeypatch.setenv("CAT_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(ChainKeyError) as refused:
        create_app()
    assert "The chain key (CAT_CHAIN_KEY) is the secret key" in str(refused.value)
    assert MAKE_ONE in str(refused.value)
    monkeypatch.delenv("CAT_CHAIN_KEY")  # the instance file's key: never the secret key either
    (tmp_path / "chain_key").write_text(STRONG + "\n")
    app = Flask("key-test", instance_path=str(tmp_path))
    app.config["SECRET_KEY"] = STRONG
    with pytest.raises(ChainKeyError, match=f"The chain key \\({tmp_path}/chain_key\\) is the"):
        chain.init_app(app)


def test_a_long_random_key_starts(monkeypatch, tmp_path):
    monkeypatch.setenv("CAT_SECRET_KEY", STRONG)
    monkeypatch.setenv("CAT_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    assert create_app().config["SECRET_KEY"] == STRONG


def test_a_command_without_a_key_gets_a_random_one_but_never_a_public_one(monkeypatch, tmp_path):
    monkeypatch.delenv("CAT_SECRET_KEY", raising=False)
    monkeypatch.setenv("CAT_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    first = create_app(command_line=True).config["SECRET_KEY"]
    assert len(first) >= 32 and first != create_app(command_line=True).config["SECRET_KEY"]
    monkeypatch.setenv("CAT_SECRET_KEY", "dev-only-change-me")
    with pytest.raises(InsecureSecretKey):
        create_app(command_line=True)


@pytest.mark.slow
def test_gunicorn_as_the_systemd_unit_runs_it_refuses_to_start_without_a_key(tmp_path):
    """The shipped unit's command line, no CAT_SECRET_KEY: it exits and says why."""
    log = tmp_path / "gunicorn.log"
    server = LiveServer(f"sqlite:///{tmp_path / 'prod.db'}", log)
    server.env = production_env(tmp_path)
    with pytest.raises(RuntimeError, match="server exited"):
        server.start(timeout=30)
    text = log.read_text()
    assert "CAT_SECRET_KEY is not set" in text and "token_urlsafe(48)" in text
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/healthz", timeout=1)


def test_the_demo_makes_its_own_key_once_and_keeps_it(tmp_path):
    """`cat-server demo` needs no key from the operator: one per instance, mode 600, kept."""
    instance = tmp_path / "instance"
    first = demo_secret_key(instance)
    assert len(first) >= 32 and first not in PUBLIC_SECRET_KEYS
    assert (instance / "secret_key").stat().st_mode & 0o077 == 0
    assert demo_secret_key(instance) == first  # a restarted demo keeps its sessions
    assert demo_secret_key(tmp_path / "other") != first  # no two demo centres share one
