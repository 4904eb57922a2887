"""``cat-server backup`` and ``restore``: a consistent, verified copy taken while serving.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the file in
one step, one read transaction: under WAL the writers go on meanwhile, and the
copy is the database as of that transaction's start. PostgreSQL: ``pg_dump``
(custom format) reads one snapshot likewise. Either way the copy is then
verified before it counts as a backup: opened, its rows counted, and
``cat-server verify`` run over it (PostgreSQL: in a scratch database restored
from the dump, dropped afterwards). Only then is it renamed to its final name
and older generations beyond ``--keep`` removed. A copy that fails any step is
deleted: nothing half-written is ever left under a backup's name.

Neither the chain key (CAT_CHAIN_KEY or instance/chain_key) nor the secret key
is in the copy, by design: keep /etc/cat-server/env (or the instance folder)
with the backups, apart from them (docs/RELIABILITY.md, "Backup and restore").
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from . import localtime

NAME = re.compile(r"^cat-backup-\d{8}-\d{6}-[A-Za-z0-9+:-]+\.(sqlite3|pgdump)$")


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says what to do."""


@dataclass
class Report:
    path: Path
    seconds: float = 0.0
    size: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    verify: str = ""


def backup(dest: Path, keep: int) -> Report:
    """Copy the app's database into ``dest``, verify the copy, keep ``keep`` generations."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    dest.mkdir(parents=True, exist_ok=True)
    now = localtime.to_local(datetime.now().astimezone())
    stamp = f"{now:%Y%m%d-%H%M%S}-{localtime.zone_label(now)}"
    suffix = "sqlite3" if url.startswith("sqlite") else "pgdump"
    final = dest / f"cat-backup-{stamp}.{suffix}"
    partial = final.with_name(final.name + ".partial")
    report = Report(final)
    started = time.perf_counter()
    # every candidate's PIN hash and answers and every item: the owner's alone, whatever
    # the umask (SQLite's journal and pg_dump's rewrite keep the file's mode)
    partial.unlink(missing_ok=True)
    partial.touch(mode=0o600)
    try:
        if suffix == "sqlite3":
            _sqlite_copy(_sqlite_path(url), partial)
            report.seconds = time.perf_counter() - started
            report.rows = _sqlite_check(partial)
            report.verify = run_verify(f"sqlite:///{partial}")
            with sqlite3.connect(partial) as con:  # verify's server settings made it WAL
                con.execute("PRAGMA journal_mode=DELETE")
        else:
            _pg_dump(url, partial)
            report.seconds = time.perf_counter() - started
            report.rows, report.verify = _pg_check(url, partial)
        report.size = partial.stat().st_size
        partial.rename(final)
    finally:
        partial.unlink(missing_ok=True)
    prune(dest, keep)
    return report


def restore(src: Path, force: bool) -> Report:
    """Load a backup into the app's (empty) database, then verify what was loaded."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    report = Report(src)
    if url.startswith("sqlite"):
        if not src.name.endswith(".sqlite3"):
            raise BackupError(f"{src}: a SQLite database restores from a .sqlite3 backup.")
        _sqlite_check(src)  # a damaged copy stops here, before the target is touched
        target = _sqlite_path(url)
        if not force and _sqlite_has_data(target):
            raise BackupError(
                f"{target} already holds data: stop the server and pass --force to replace it."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in (target.with_name(target.name + s) for s in ("-wal", "-shm")):
            stale.unlink(missing_ok=True)
        _sqlite_copy(src, target)
    else:
        if not src.name.endswith(".pgdump"):
            raise BackupError(f"{src}: a PostgreSQL database restores from a .pgdump backup.")
        if not force and _pg_has_tables(url):
            raise BackupError(
                f"{_safe(url)} already has tables: stop the servers and pass --force to "
                "replace them."
            )
        _pg_restore(url, src, clean=force)
    report.rows = _count_rows(url)
    report.verify = run_verify(url)
    return report


def prune(dest: Path, keep: int) -> list[Path]:
    """Delete this command's backups in ``dest`` beyond the newest ``keep`` (by time written)."""
    ours = sorted(
        (p for p in dest.iterdir() if NAME.match(p.name)), key=lambda p: p.stat().st_mtime
    )
    gone = ours[:-keep] if keep > 0 else []
    for path in gone:
        path.unlink()
    return gone


def run_verify(url: str) -> str:
    """``cat-server verify`` over another database, with this process's environment and key."""
    env = {**os.environ, "CAT_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", "from cat_server.cli import main; main()", "verify"],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"verify failed on {_safe(url)}:\n{done.stdout}{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


# -- SQLite


def _sqlite_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise BackupError(f"{url}: only a SQLite file can be backed up.")
    return Path(path)


def _sqlite_copy(src: Path, dst: Path) -> None:
    # pages=-1: one step, one read transaction, so the copy is one instant of the
    # database; under WAL the server's writes go on meanwhile.
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(dst)
    try:
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        target.close()
        source.close()


def _sqlite_check(path: Path) -> dict[str, int]:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = con.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise BackupError(f"{path}: SQLite integrity check failed: {result}")
            tables = [
                r[0]
                for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            if "attempt" not in tables:
                raise BackupError(f"{path}: not a cat_server database (no attempts table).")
            return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        finally:
            con.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path}: not a readable SQLite database ({error}).") from error


def _sqlite_has_data(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return any(con.execute(f'SELECT 1 FROM "{n}" LIMIT 1').fetchone() for n in names)
    finally:
        con.close()


# -- PostgreSQL


def _pg_env(url: str, database: str | None = None) -> dict:
    """libpq's environment for a URL: the password never appears on a command line."""
    u = make_url(url)
    env = {**os.environ, "PGDATABASE": database or u.database or ""}
    for key, value in (("PGHOST", u.host), ("PGPORT", u.port), ("PGUSER", u.username)):
        if value:
            env[key] = str(value)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed: apt-get install postgresql-client "
            "(the same major version as the server, or newer)."
        )
    return path


def _pg_run(argv: list[str], env: dict) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed:\n{done.stderr.strip()}")


def _pg_dump(url: str, out: Path) -> None:
    # custom format: compressed, and pg_restore can list and load it selectively
    _pg_run(
        [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(out)], _pg_env(url)
    )


def _pg_restore(url: str, src: Path, clean: bool = False, database: str | None = None) -> None:
    argv = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
    if clean:
        argv += ["--clean", "--if-exists"]
    env = _pg_env(url, database)
    _pg_run([*argv, "--single-transaction", "--dbname", env["PGDATABASE"], str(src)], env)


def _pg_check(url: str, dump: Path) -> tuple[dict[str, int], str]:
    """Restore the dump into a scratch database, count its rows, verify it, drop it."""
    import psycopg

    scratch = f"{make_url(url).database}_verify_{os.getpid()}"
    admin = psycopg.connect(**_psycopg_args(url), autocommit=True)
    try:
        try:
            admin.execute(f'CREATE DATABASE "{scratch}"')
        except psycopg.Error as error:
            raise BackupError(
                f"could not make the scratch database {scratch} to verify the dump ({error}); "
                "the backup's role needs CREATEDB (docs/RELIABILITY.md)."
            ) from error
        try:
            _pg_restore(url, dump, database=scratch)
            scratch_url = make_url(url).set(database=scratch).render_as_string(hide_password=False)
            return _count_rows(scratch_url), run_verify(scratch_url)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    finally:
        admin.close()


def _psycopg_args(url: str) -> dict:
    u = make_url(url)
    args = {"dbname": u.database, "host": u.host, "port": u.port, "user": u.username}
    if u.password:
        args["password"] = u.password
    return {k: v for k, v in args.items() if v is not None}


def _pg_has_tables(url: str) -> bool:
    return bool(_count_rows(url, tables_only=True))


def _count_rows(url: str, tables_only: bool = False) -> dict[str, int]:
    if url.startswith("sqlite"):
        return _sqlite_check(_sqlite_path(url))
    import psycopg

    with psycopg.connect(**_psycopg_args(url)) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        if tables_only:
            return dict.fromkeys(tables, 0)
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# -- the commands


def _echo_report(report: Report, what: str) -> None:
    main = {t: report.rows.get(t, 0) for t in ("sitting", "attempt", "response", "audit_event")}
    counts = ", ".join(f"{n} {t} rows" for t, n in main.items())
    click.echo(f"{what} {report.path}: {counts}.")
    click.echo(report.verify)


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--keep",
    type=click.IntRange(1),
    default=14,
    show_default=True,
    help="Generations kept in DEST; older cat-backup-* files there are removed.",
)
@with_appcontext
def backup_command(dest, keep):
    """Copy the database into DEST while serving, verify the copy, keep KEEP generations.

    Exit code 1 if the copy cannot be made or does not verify (nothing is left then).
    """
    try:
        report = backup(dest, keep)
    except BackupError as error:
        click.echo(f"Backup failed: {error}", err=True)
        sys.exit(1)
    _echo_report(report, f"Backup ({report.size / 1e6:.1f} MB, {report.seconds:.1f} s)")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@with_appcontext
def restore_command(src, force):
    """Load a backup made by cat-server backup into CAT_DATABASE_URL, then verify it.

    Run it with the servers stopped and the same CAT_CHAIN_KEY as the backed-up
    server; then ``cat-server db upgrade`` and start the servers.
    """
    try:
        report = restore(src, force)
    except BackupError as error:
        click.echo(f"Restore failed: {error}", err=True)
        sys.exit(1)
    _echo_report(report, "Restored")
