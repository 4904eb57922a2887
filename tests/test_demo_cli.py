"""`cat-server demo --json`: the demo's logins, sittings and PINs for scripts (issue 17)."""

import json
import subprocess
import sys

import pytest

from tests.live import ROOT

pytestmark = pytest.mark.slow


def test_demo_json_lists_logins_sittings_and_working_pins(tmp_path):
    db = tmp_path / "demo.db"
    run = [sys.executable, "-c", "import sys; from cat_server.cli import main; sys.exit(main())"]
    done = subprocess.run(
        [*run, "demo", "--no-serve", "--json", "--database", f"sqlite:///{db}", "--port", "5999"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    demo = json.loads(done.stdout)  # stdout is the JSON alone
    assert {s["username"] for s in demo["staff"]} == {"admin", "pengawas"}
    first = demo["sittings"][0]
    assert first["workstation"] == f"http://127.0.0.1:5999/exam/{first['id']}/"
    assert len(first["candidates"]) == 40 and len(demo["sittings"][1]["candidates"]) == 10

    from cat_server import create_app, security
    from cat_server.models import Candidate

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": "x" * 32})
    with app.app_context():
        for sitting in demo["sittings"]:
            row = sitting["candidates"][0]
            stored = Candidate.query.filter_by(registration_no=row["registration_no"]).one()
            assert security.verify(stored.pin_hash, row["pin"])
