"""server-side sessions: attempt.session_token, user.session_token, user.last_seen_at

Revision ID: a1344ed74b8c
Revises: e7a2c9d41b53
Create Date: 2026-11-24 09:00:00.000000

Every session cookie now carries its attempt's or user's token and is refused
once the token changed (logout, PIN reset, seat move, account changes, idle
time-out). Existing rows get a random token each, so the cookies issued before
the upgrade stop working: candidates and staff log in again after it.

Plain ADD/DROP COLUMN (SQLite >= 3.35 has both), no batch copy of the tables: a
copied ``user`` or ``attempt`` table on SQLite would lose the lower(username)
index and the CHECK constraints, which reflection does not see. The empty
server default only serves the ADD COLUMN of a NOT NULL column; an empty token
matches no cookie.
"""
import secrets

from alembic import op
import sqlalchemy as sa

import cat_server.models  # noqa: F401  (UTCDateTime in the column)


# revision identifiers, used by Alembic.
revision = 'a1344ed74b8c'
down_revision = 'e7a2c9d41b53'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('user', 'attempt'):
        op.add_column(
            table, sa.Column('session_token', sa.String(length=32), nullable=False, server_default='')
        )
    op.add_column(
        'user', sa.Column('last_seen_at', cat_server.models.UTCDateTime(timezone=True), nullable=True)
    )
    bind = op.get_bind()
    for name in ('user', 'attempt'):
        table = sa.table(name, sa.column('id', sa.Integer), sa.column('session_token', sa.String))
        ids = bind.execute(sa.select(table.c.id)).scalars().all()
        if ids:
            bind.execute(
                table.update()
                .where(table.c.id == sa.bindparam('row_id'))
                .values(session_token=sa.bindparam('token')),
                [{'row_id': i, 'token': secrets.token_urlsafe(16)} for i in ids],
            )


def downgrade():
    op.drop_column('user', 'last_seen_at')
    for table in ('attempt', 'user'):
        op.drop_column(table, 'session_token')
