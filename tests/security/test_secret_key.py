"""Production refuses a secret key anyone could know; the demo keeps one of its own (issue 16).

With the key the session cookie is signed with, anyone can write a candidate's
cookie for any attempt id and answer for that candidate without a PIN.
"""

import os

import pytest
import requests

from cat_server import PUBLIC_SECRET_KEYS, InsecureSecretKey, create_app
from cat_server.cli import demo_secret_key
from tests.live import LiveServer

STRONG = "k" * 32


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
    assert "secrets.token_hex(32)" in str(refused.value)  # says how to make one


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
    assert "CAT_SECRET_KEY is not set" in text and "token_hex" in text
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
