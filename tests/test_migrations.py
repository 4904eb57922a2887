"""The migrations build exactly the schema the models describe, on both databases.

An upgrade of a centre runs ``cat-server db upgrade``; a model changed without
its migration (or a migration that drifts from the model) would leave a
production database unlike the test suite's ``create_all``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from tests.live import ROOT


def cat_server(url, *args):
    env = {
        **os.environ,
        "CAT_DATABASE_URL": url,
        "CAT_SECRET_KEY": secrets.token_urlsafe(48),
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cat_server.cli import main; sys.exit(main())",
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_from_nothing_matches_the_models(backend, tmp_path, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'centre.db'}"
    else:
        url = request.getfixturevalue("new_pg_database")()
    upgrade = cat_server(url, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr[-3000:]
    check = cat_server(url, "db", "check")
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    heads = cat_server(url, "db", "heads")
    assert heads.returncode == 0 and len(heads.stdout.strip().splitlines()) == 1, heads.stdout
