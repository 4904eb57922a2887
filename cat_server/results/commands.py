"""``cat-server results`` (export, verify, import, table) and ``keys trust-centre``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..sealed import keys
from ..sealed.commands import keys_group
from ..sealed.keys import KeyProblem
from . import bundle, forward, national


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
    except bundle.BundleProblem as problem:
        click.echo(f"No bundle: {problem}.", err=True)
        sys.exit(2)
    out.write_bytes(delivery.bundle)
    n = len(bundle.parse(delivery.bundle, str(out))["body"]["attempts"])
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
        checked = bundle.verify(path.read_bytes(), str(path), trusted=trusted)
    except (KeyProblem, bundle.BundleProblem) as problem:
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
