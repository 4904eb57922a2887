"""``cat-server package``: build and release codes (the issuer's side); import, list and release here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..errors import ExamError
from ..extensions import db
from ..localtime import format_local
from ..models import Sitting
from ..sealed import keys
from ..sealed.fetch import fetch_release
from ..sealed.package import PackageRefused, read_package
from ..sealed.release import release, release_code
from .packages import build_package, import_package, package_summary, packages

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _issuer_key(path: Path):
    try:
        return keys.read_private_key(path)
    except keys.KeyProblem as problem:
        click.echo(f"{problem}.", err=True)
        sys.exit(2)


@click.group("package")
def package_group():
    """Sealed exam packages (docs/packages.md)."""


@package_group.command("build")
@click.option("--exam", "exam_file", type=FILE, required=True, help="The exam file (JSON).")
@click.option("--bank", "bank_file", type=FILE, required=True, help="The bank (CSV/JSON/XLSX/QTI).")
@click.option("--issuer-key", type=FILE, required=True, help="The issuer's private key (PEM).")
@click.option(
    "--slot",
    "slots",
    multiple=True,
    required=True,
    help="A sitting slot and its start: ID=2026-12-07T08:00+07:00 (repeat).",
)
@click.option("--id", "package_id", help="The package id (default: a random PKG-...).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def build_command(exam_file, bank_file, issuer_key, slots, package_id, out):
    """Seal an exam and its bank for the centres: every item encrypted, the whole signed."""
    key = _issuer_key(issuer_key)
    try:
        doc = json.loads(exam_file.read_text(encoding="utf-8-sig"))
        package_id, data = build_package(doc, bank_file, key, list(slots), package_id)
    except (ValueError, PackageRefused) as problem:
        click.echo(f"No package built: {problem}", err=True)
        sys.exit(2)
    out.write_bytes(data)
    click.echo(
        f"Package {package_id} written to {out} ({len(data)} bytes), slots {', '.join(slots)}."
    )
    click.echo(
        f"Issuer {keys.fingerprint(key.public_key())}; release codes: cat-server package release-code"
    )


@package_group.command("release-code")
@click.option("--package", "package_file", type=FILE, required=True)
@click.option("--issuer-key", type=FILE, required=True)
@click.option("--sitting", "slot", required=True, help="The slot, as named in the package.")
def release_code_command(package_file, issuer_key, slot):
    """The code that releases one slot of a package: read it to the centre by phone."""
    key = _issuer_key(issuer_key)
    try:
        package = read_package(package_file.read_bytes(), key.public_key(), str(package_file))
    except PackageRefused as problem:
        click.echo(f"{problem}.", err=True)
        sys.exit(2)
    if slot not in package.slots:
        click.echo(
            f"Package {package.package_id} has slots {', '.join(package.slots)}, not {slot}.",
            err=True,
        )
        sys.exit(2)
    click.echo(release_code(key, package.package_id, slot))


@package_group.command("import")
@click.argument("path", type=FILE)
@with_appcontext
def import_command(path):
    """Verify a package against the imported issuer key, then store it (items stay encrypted)."""
    try:
        row = import_package(path.read_bytes(), path.name, "cli")
    except PackageRefused as problem:
        click.echo(f"Not imported, nothing stored: {problem}.", err=True)
        sys.exit(2)
    _print(package_summary(row))


def _print(summary: dict) -> None:
    click.echo(
        f"Package {summary['package_id']} (issuer {summary['issuer']}): exam {summary['exam_id']} "
        f"{summary['exam_name']!r}, {summary['n_items']} items, {summary['minutes']} minutes, "
        f"slots {', '.join(f'{s} ({format_local(w)})' for s, w in summary['slot_starts'].items())}"
    )
    for section in summary["sections"]:
        click.echo(f"  {section['code']}: {section['name']} ({section['navigation']})")


@package_group.command("list")
@with_appcontext
def list_command():
    """The imported packages: what a centre may see of them."""
    for row in packages():
        _print(package_summary(row))


@package_group.command("release")
@click.option("--sitting", "sitting_id", type=int, required=True, help="The sitting's id.")
@click.option("--code", help="The code the issuer read out (asked for when neither is given).")
@click.option("--fetch", is_flag=True, help="Fetch the code from the issuer (CAT_ISSUER_URL).")
@with_appcontext
def release_command(sitting_id, code, fetch):
    """Release a sitting's sealed package with the issuer's code, typed or fetched (audited)."""
    if fetch and code:
        click.echo("Give --code or --fetch, not both.", err=True)
        sys.exit(2)
    if not fetch and code is None:
        code = click.prompt("Release code")
    try:
        row = fetch_release(sitting_id, "cli") if fetch else release(sitting_id, code, "cli")
    except ExamError as error:
        click.echo(f"Not released: {error.message_en}", err=True)
        sys.exit(2)
    sitting = db.session.get(Sitting, sitting_id)
    click.echo(
        f"Sitting {sitting.id} ({sitting.name}, slot {row.slot}) released at "
        f"{format_local(row.released_at)}{' (fetched from the issuer)' if fetch else ''}."
    )
