"""What ``pip install .`` ships: a wheel that serves the pages' JavaScript and CSS (issue 23)."""

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (path,) = out.glob("cat_server-*.whl")
    return path


def test_the_wheel_carries_every_static_file_and_template(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    static = {
        "cat_server/static/" + p.relative_to(ROOT / "static").as_posix()
        for p in (ROOT / "static").rglob("*")
        if p.is_file()
    }
    templates = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "cat_server/templates").rglob("*.html")
    }
    assert "cat_server/static/js/exam.js" in static
    assert static - names == set(), "static files missing from the wheel"
    assert templates - names == set(), "templates missing from the wheel"


def test_an_installed_package_serves_its_static_files(wheel, tmp_path):
    """Unpacked away from the checkout, the app still answers /static/js/exam.js."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = textwrap.dedent(
        f"""
        import cat_server
        SITE = {str(site)!r}
        from cat_server.factory import create_app
        assert cat_server.__file__.startswith(SITE), cat_server.__file__
        app = create_app({{"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite:///t.db"}})
        reply = app.test_client().get("/static/js/exam.js")
        assert reply.status_code == 200, reply.status_code
        assert b"use strict" in reply.data
        print("ok")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.stdout.strip().endswith("ok"), run.stdout + run.stderr


def test_every_module_the_server_imports_is_a_dependency_not_an_extra():
    """``pip install .`` installs ``dependencies`` only: a module the server or its CLI
    imports from a test extra (``requests`` did, in results/forward.py and sealed/fetch.py)
    made every ``cat-server`` command fail on a production install."""
    import ast
    import re
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {
        re.split(r"[\[=<>!~ ;]", spec, maxsplit=1)[0].lower().replace("_", "-")
        for spec in project["dependencies"]
    }
    stdlib = set(sys.stdlib_module_names)
    owners = packages_distributions()
    missing = {}
    for path in sorted((ROOT / "cat_server").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in stdlib or top in ("cat_server", "__future__"):
                    continue
                dists = {d.lower().replace("_", "-") for d in owners.get(top, [top])}
                if not dists & base:
                    missing.setdefault(top, path.relative_to(ROOT).as_posix())
    assert missing == {}, f"imported by the server, not in [project] dependencies: {missing}"
