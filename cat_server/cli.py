"""The ``cat-server`` command: Flask's CLI with the centre's commands."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup, with_appcontext

from . import engine_cli
from .admin import banks
from .admin import commands as admin_commands
from .admin.package_commands import package_group
from .api import commands as api_commands
from .itembank.formats import BankFormatError
from .results import commands as results_commands
from .sealed import commands as sealed_commands


def _create_app():
    from .factory import create_app

    return create_app(command_line=True)


# -e FILE (python-dotenv) reads the units' EnvironmentFile, e.g.
#   sudo -u cat /opt/cat-server/.venv/bin/cat-server -e /etc/cat-server/env db upgrade
# Variables already set win over the file. No .env is picked up from the working
# directory by chance (load_dotenv=False): only a file named with -e is read.
@click.group(cls=FlaskGroup, create_app=_create_app, load_dotenv=False)
def main():
    """cat_server: adaptive testing for BKN UPT centres.

    Production commands read the server's environment with -e, e.g.
    cat-server -e /etc/cat-server/env db upgrade
    """


def init_app(app):
    """Commands that need the app are registered on it, so ``flask`` sees them too."""
    app.cli.add_command(demo_command)
    app.cli.add_command(load_bank_command)
    for command in admin_commands.COMMANDS:  # import-candidates, export-scores, verify
        app.cli.add_command(command)
    app.cli.add_command(load_seed_command)  # defined in loadseed.py, imported below
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(api_commands.api_token)
    app.cli.add_command(sealed_commands.keys_group)
    app.cli.add_command(results_commands.results_group)  # also adds keys trust-centre
    app.cli.add_command(package_group)


@click.command("load-bank")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="Bank name; a re-import becomes a new version.")
@with_appcontext
def load_bank_command(path, name):
    """Validate and import an item bank (CSV, JSON, XLSX, QTI, or a .zip with media): all or none.

    The same checks as the admin page's upload; problems name file, row and column (exit 2).
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        bank = banks.upload_bank(data, os.path.basename(path), name, actor="cli")
    except BankFormatError as error:
        click.echo(str(error), err=True)
        click.echo("Nothing was imported.", err=True)
        sys.exit(2)
    click.echo(f"Imported {len(bank.items)} items as {bank.name} v{bank.version}.")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--database", default=None, help="Database URL (default: SQLite in instance/).")
@click.option("--no-serve", is_flag=True, help="Create the demo data and exit.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the logins, sittings and candidates as one JSON object (for scripts).",
)
def demo_command(host, port, database, no_serve, as_json):
    """Create the demo centre (bank, exam, 40 seats) and serve it with gunicorn + gevent."""
    from flask_migrate import upgrade

    from .demo import seed_demo
    from .factory import create_app

    if database:
        os.environ["CAT_DATABASE_URL"] = database
    app = create_app(command_line=True)
    if not os.environ.get("CAT_SECRET_KEY"):  # one of its own, kept with the instance
        os.environ["CAT_SECRET_KEY"] = app.config["SECRET_KEY"] = demo_secret_key(
            Path(app.instance_path)
        )
    with app.app_context():
        upgrade()
        sittings = [(s.id, s.name, s.exam.name) for s in seed_demo()]
        url = app.config["SQLALCHEMY_DATABASE_URI"]
    base = f"http://{host}:{port}"
    if as_json:
        click.echo(json.dumps(demo_listing(base, url, sittings), indent=1))
    else:
        print_demo_listing(base, url, sittings)
    if no_serve:
        return
    click.echo(f"\nServing on {base} (Ctrl+C to stop)\n", err=True)
    sys.stdout.flush()
    os.environ["CAT_DATABASE_URL"] = url
    os.execvp(sys.executable, gunicorn_argv(host, port))


def demo_listing(base: str, database: str, sittings) -> dict:
    """The demo's logins, sittings and candidates with their PINs (``--json``)."""
    from .demo import BLUEPRINTS, STAFF, demo_candidates

    return {
        "url": base,
        "database": database,
        "staff": [
            {"role": role, "username": username, "password": password, "login": f"{base}/login"}
            for username, (role, _, password) in STAFF.items()
        ],
        "sittings": [
            {
                "id": sitting_id,
                "name": name,
                "exam": exam,
                "workstation": f"{base}/exam/{sitting_id}/",
                "proctor": f"{base}/proctor/sittings/{sitting_id}",
                "candidates": [
                    {k: row[k] for k in ("registration_no", "pin", "seat", "name")}
                    for row in demo_candidates(
                        BLUEPRINTS[name]["seats"], BLUEPRINTS[name]["prefix"]
                    )
                ],
            }
            for sitting_id, name, exam in sittings
        ],
    }


def print_demo_listing(base: str, url: str, sittings) -> None:
    from .demo import BLUEPRINTS, STAFF, demo_candidates

    click.echo(f"\nDatabase: {url}")
    for username, (role, _, password) in STAFF.items():
        click.echo(f"{role.title():9} login: {username} / {password}   ({base}/login)")
    for sitting_id, name, exam in sittings:
        click.echo(f"\n{name}: {exam}")
        click.echo(f"  Workstation (peserta): {base}/exam/{sitting_id}/")
        click.echo(f"  Proctor (pengawas):    {base}/proctor/sittings/{sitting_id}")
        click.echo(
            f"  Score board (papan skor): {base}/board/{sitting_id}"
            f"  (off: an admin turns it on at {base}/admin/exams)"
        )
        click.echo("  Candidates (registration no, PIN, seat, name):")
        blueprint = BLUEPRINTS[name]
        for row in demo_candidates(blueprint["seats"], blueprint["prefix"]):
            click.echo(f"    {row['registration_no']}  {row['pin']}  {row['seat']}  {row['name']}")


def demo_secret_key(instance: Path) -> str:
    """The demo's own key: made once per instance folder (``secret_key``, mode 600), then kept.

    Kept, so a restarted demo does not log out every candidate and proctor;
    its own, so no two demo centres share a key that anyone could read here.
    """
    path = instance / "secret_key"
    if path.exists():
        key = path.read_text().strip()
        if len(key) >= 32:
            return key
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key


def gunicorn_argv(host: str, port: int, workers: int = 1) -> list[str]:
    """One gevent worker holds thousands of websockets; more processes need Redis."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        "gevent",
        "--workers",
        str(workers),
        "--worker-connections",
        "10000",
        "--bind",
        f"{host}:{port}",
        "--graceful-timeout",
        "5",
        *ACCESS_LOG,
        "cat_server.wsgi:app",
    ]


# gunicorn's access log on stderr with the rest (journald under systemd): no time of
# its own, since the app's log format puts the centre's time and zone before it
# (logs.py); %(M)s is the milliseconds the answer took.
ACCESS_LOG = (
    "--access-logfile",
    "-",
    "--access-logformat",
    '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"',
)


main.add_command(demo_command)
main.add_command(load_bank_command)
engine_cli.register(main)
from .backup import backup_command, restore_command  # noqa: E402  (issue 23)
from .loadseed import load_seed_command  # noqa: E402  (load tests: issue 8)

main.add_command(load_seed_command)
main.add_command(backup_command)
main.add_command(restore_command)
for _command in admin_commands.COMMANDS:
    main.add_command(_command)
main.add_command(api_commands.api_token)
