"""``cat-server keys``: the centre's signing key pair and the issuer's public key."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from . import keys
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
@click.option("--replace", is_flag=True, help="Replace an issuer key trusted already.")
@with_appcontext
def import_issuer(path, replace):
    """Trust PATH (a PEM Ed25519 public key) as the national issuer's key.

    Compare the fingerprint printed here with the one the issuer gave you by phone or letter.
    """
    try:
        key = keys.import_issuer_key(path, replace=replace)
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
