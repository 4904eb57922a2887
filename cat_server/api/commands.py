"""``cat-server api-token``: make, list and revoke the JSON API's tokens (docs/api.md)."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..localtime import format_local
from .tokens import TokenProblem, create_token, list_tokens, revoke_token


@click.group("api-token")
def api_token():
    """Bearer tokens for the JSON API (/api/v1); each acts as an active administrator."""


@api_token.command("create")
@click.option("--user", "username", required=True, help="An active administrator's username.")
@click.option("--name", required=True, help="What will use it, e.g. 'SIMPEG sync'.")
@with_appcontext
def create(username, name):
    """Make a token and print it once (it is stored only as a hash)."""
    try:
        token, secret = create_token(username, name, actor="cli")
    except TokenProblem as problem:
        click.echo(f"No token made: {problem}.", err=True)
        sys.exit(2)
    click.echo(
        f"Token {token.id} for {token.user.username} ({token.name}); shown only now:", err=True
    )
    click.echo(secret)


@api_token.command("list")
@with_appcontext
def list_command():
    """Every token: id, user, name, made, last used, revoked (times in the centre's zone)."""
    for t in list_tokens():
        click.echo(
            f"{t.id}\t{t.user.username}\t{t.name}\tmade {format_local(t.created_at)}"
            f"\tlast used {format_local(t.last_used_at) or '-'}"
            + (f"\tREVOKED {format_local(t.revoked_at)}" if t.revoked_at else "")
        )


@api_token.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def revoke(token_id):
    """Stop a token at once."""
    try:
        token = revoke_token(token_id, actor="cli")
    except TokenProblem as problem:
        click.echo(f"Nothing revoked: {problem}.", err=True)
        sys.exit(2)
    click.echo(f"Token {token.id} ({token.name}) revoked.")
