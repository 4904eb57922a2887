"""issuer: issuer_request, the nonces of centres' release requests (fetched release codes)

Revision ID: b8e1f4a9c237
Revises: a7d5e3c1b920
Create Date: 2026-12-06 20:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

import cat_server.models  # noqa: F401  (UTCDateTime)


# revision identifiers, used by Alembic.
revision = 'b8e1f4a9c237'
down_revision = 'a7d5e3c1b920'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'issuer_request',
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('centre', sa.String(length=80), nullable=False),
        sa.Column('package_id', sa.String(length=200), nullable=False),
        sa.Column('slot', sa.String(length=200), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('at', cat_server.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('nonce'),
    )


def downgrade():
    op.drop_table('issuer_request')
