"""``cat-server keys``: the centre's signing key pair and the issuer's public key."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from . import forward, keys, national, results
from .keys import KeyProblem


@click.group("keys")
def keys_group():
    """The centre's Ed25519 signing key and the national issuer's public key (docs/packages.md)."""


@keys_group.command("create")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the new private key here instead (an issuer's key, for cat-server package build).",
)
@with_appcontext
def create(out):
    """Make a key pair; the private key goes to a 0600 file and is never printed."""
    path = out or keys.centre_key_path()
    try:
        key = keys.write_private_key(path)
    except KeyProblem as problem:
        click.echo(f"No key made: {problem}.", err=True)
        sys.exit(2)
    click.echo(f"Private key written to {path} (mode 600). Keep it off backups and USB sticks.")
    click.echo(f"Public key, fingerprint {keys.fingerprint(key.public_key())}:")
    click.echo(keys.public_pem(key.public_key()).decode(), nl=False)


@keys_group.command("show")
@with_appcontext
def show():
    """The centre's public key and fingerprint, and the imported issuer's fingerprint."""
    try:
        public = keys.centre_public_key()
    except KeyProblem as problem:
        click.echo(f"Centre: {problem}.", err=True)
        public = None
    if public is not None:
        click.echo(f"Centre key {keys.fingerprint(public)}:")
        click.echo(keys.public_pem(public).decode(), nl=False)
    try:
        click.echo(f"Issuer key {keys.fingerprint(keys.issuer_public_key())}")
    except KeyProblem as problem:
        click.echo(f"Issuer: {problem}.", err=True)
    if public is None:
        sys.exit(2)


@keys_group.command("import-issuer")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_issuer(path):
    """Trust PATH (a PEM Ed25519 public key) as the national issuer's key.

    Compare the fingerprint printed here with the one the issuer gave you by phone or letter.
    """
    try:
        key = keys.import_issuer_key(path)
    except KeyProblem as problem:
        click.echo(f"Not imported: {problem}.", err=True)
        sys.exit(2)
    click.echo(f"Issuer key {keys.fingerprint(key)} imported to {keys.issuer_key_path()}.")


@keys_group.command("export-public")
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Another private key file (an issuer's) instead of the centre's.",
)
@with_appcontext
def export_public(key_file):
    """Print a public key (PEM) for the other side to import."""
    try:
        key = keys.read_private_key(key_file) if key_file else keys.centre_private_key()
    except KeyProblem as problem:
        click.echo(f"{problem}.", err=True)
        sys.exit(2)
    click.echo(keys.public_pem(key.public_key()).decode(), nl=False)


@keys_group.command("trust-centre")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def trust_centre(name, path):
    """National office: trust PATH (a centre's PEM public key) as centre NAME's.

    Bundles signed by it are imported with NAME on every row. Compare the
    fingerprint printed here with the one the centre read out by phone or letter.
    """
    try:
        key = national.trust_centre(name, path)
    except KeyProblem as problem:
        click.echo(f"Not trusted: {problem}.", err=True)
        sys.exit(2)
    click.echo(f"Centre {name} trusted with key {keys.fingerprint(key)}.")


@click.group("results")
def results_group():
    """Signed result bundles: export at the centre, verify anywhere, import nationally."""


@results_group.command("export")
@click.option("--sitting", "sitting_id", type=int, required=True, help="The ended sitting's id.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write (e.g. on a USB stick).",
)
@with_appcontext
def results_export(sitting_id, out):
    """Write the sitting's signed bundle (the same file store-and-forward sends)."""
    try:
        delivery = forward.export(sitting_id, "cli")
    except results.BundleProblem as problem:
        click.echo(f"No bundle: {problem}.", err=True)
        sys.exit(2)
    out.write_bytes(delivery.bundle)
    n = len(results.parse(delivery.bundle, str(out))["body"]["attempts"])
    click.echo(f"Wrote {out}: sitting {sitting_id}, {n} attempts, SHA-256 {delivery.sha256}.")


@results_group.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--centre-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The centre's public key (PEM) the bundle must be signed with.",
)
def results_verify(path, centre_key):
    """Check a bundle offline: signature, every attempt's chain, scores against responses."""
    try:
        trusted = keys.read_public_key(centre_key) if centre_key else None
        checked = results.verify(path.read_bytes(), str(path), trusted=trusted)
    except (KeyProblem, results.BundleProblem) as problem:
        click.echo(f"FAILED: {problem}", err=True)
        sys.exit(1)
    body = checked.body
    if not checked.ok:
        click.echo(f"FAILED: {path}: {len(checked.problems)} problems", err=True)
        for problem in checked.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    click.echo(
        f"OK: {path}: centre {body['centre']['id']}, sitting {body['sitting']['id']} "
        f"({body['sitting']['name']}), {len(body['attempts'])} attempts, "
        f"signed by {checked.fingerprint}"
    )
    if trusted is None:
        click.echo("The signer was not compared with a known key: add --centre-key PUB.pem.")


@results_group.command("import")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@with_appcontext
def results_import(paths):
    """National office: merge centres' bundles into the score table (each whole or not at all)."""
    failed = 0
    for path in paths:
        try:
            outcome = national.import_bundle(path.read_bytes(), str(path))
        except national.Refused as refused:
            failed += 1
            click.echo(f"REFUSED {refused}", err=True)
            continue
        if outcome.status == "already":
            click.echo(
                f"{path}: already imported (centre {outcome.centre}, sitting "
                f"{outcome.sitting_ref}): nothing changed."
            )
        else:
            click.echo(
                f"{path}: imported {outcome.n_rows} rows of centre {outcome.centre}, "
                f"sitting {outcome.sitting_ref}."
            )
    if failed:
        sys.exit(1)


@results_group.command("table")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="scores.csv or scores.xlsx",
)
@with_appcontext
def results_table(out):
    """Write the merged national score table (one attempt a row, its centre named)."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        click.echo(f"{out}: name a .csv or .xlsx file.", err=True)
        sys.exit(2)
    out.write_bytes(national.table_bytes(fmt))
    click.echo(f"Wrote {out}: {len(national.table()[1])} rows.")
