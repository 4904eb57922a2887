"""usernames unique ignoring case: a unique index on lower(username)

Revision ID: e7a2c9d41b53
Revises: b1c4e6d2a907
Create Date: 2026-11-23 15:00:00.000000

Login matches usernames ignoring case, so two accounts differing only in case
would be ambiguous. Nothing is renamed or deleted: if such a pair exists the
upgrade stops and names it, and an administrator renames one account first.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7a2c9d41b53'
down_revision = 'b1c4e6d2a907'
branch_labels = None
depends_on = None


def upgrade():
    user = sa.table('user', sa.column('username'))
    lowered = sa.func.lower(user.c.username)
    clashes = op.get_bind().execute(
        sa.select(lowered).group_by(lowered).having(sa.func.count() > 1)
    ).scalars().all()
    if clashes:
        raise RuntimeError(
            "usernames that differ only in case: " + ", ".join(sorted(clashes))
            + ". Rename one account of each pair (UPDATE \"user\" SET username = ...), "
            "then run the upgrade again.")
    op.create_index('uq_user_lower_username', 'user', [sa.text('lower(username)')], unique=True)


def downgrade():
    op.drop_index('uq_user_lower_username', table_name='user')
