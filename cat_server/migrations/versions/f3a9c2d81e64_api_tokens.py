"""api tokens for the JSON API (docs/api.md)

Revision ID: f3a9c2d81e64
Revises: a1344ed74b8c
Create Date: 2026-12-06 17:00:00.000000

A token is stored only as its SHA-256; the secret is shown once when made.
"""
from alembic import op
import sqlalchemy as sa

import cat_server.models  # noqa: F401  (UTCDateTime in the columns)


# revision identifiers, used by Alembic.
revision = 'f3a9c2d81e64'
down_revision = 'a1344ed74b8c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', cat_server.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', cat_server.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', cat_server.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_api_token_user_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash')),
    )


def downgrade():
    op.drop_table('api_token')
