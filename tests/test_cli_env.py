"""``cat-server -e FILE``: CLI commands read the same environment file as the units (issue 23)."""

import os
import secrets
import sqlite3
import subprocess
import sys

from tests.live import ROOT


def run_cli(args, cwd, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CAT_", "FLASK_"))}
    return subprocess.run(
        [sys.executable, "-c", "from cat_server.cli import main; main()", *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_env_file_gives_a_cli_command_the_servers_database(tmp_path):
    database = tmp_path / "centre.db"
    env_file = tmp_path / "env"
    env_file.write_text(
        "# as /etc/cat-server/env (docs/deploy/)\n"
        f"CAT_SECRET_KEY={secrets.token_hex(32)}\n"
        f"CAT_DATABASE_URL=sqlite:///{database}\n"
        "CAT_SQLALCHEMY_ENGINE_OPTIONS='{\"pool_timeout\": 10}'\n"
    )
    # a stray .env where the command runs is not read: only the file named with -e
    (tmp_path / ".env").write_text(f"CAT_DATABASE_URL=sqlite:///{tmp_path / 'stray.db'}\n")
    done = run_cli(["-e", str(env_file), "db", "upgrade"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    tables = {row[0] for row in sqlite3.connect(database).execute("SELECT name FROM sqlite_master")}
    assert {"attempt", "response", "alembic_version"} <= tables
    assert not (tmp_path / "stray.db").exists()


def test_a_missing_env_file_is_named(tmp_path):
    done = run_cli(["-e", str(tmp_path / "nope"), "db", "upgrade"], cwd=tmp_path)
    assert done.returncode != 0
    assert "nope" in done.stderr


def test_instance_path_from_the_environment(tmp_path):
    """CAT_INSTANCE_PATH puts the instance folder (SQLite file, media) where the unit says."""
    state = tmp_path / "var-lib-cat-server"
    env_file = tmp_path / "env"
    env_file.write_text(f"CAT_INSTANCE_PATH={state}\nCAT_SECRET_KEY={secrets.token_hex(32)}\n")
    done = run_cli(["-e", str(env_file), "db", "upgrade"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (state / "cat_server.db").exists()
