"""stored fixed forms (attempt.form) and the catalog version (catalog_version)

Revision ID: f3b9d2c4e1a0
Revises: f3a9c2d81e64
Create Date: 2026-12-06 17:00:00.000000

A retired or recalibrated item takes effect at once in every process: each
process drops its item caches when ``catalog_version`` moves, and a running
attempt keeps the fixed form it drew (``attempt.form``). Attempts running at
the upgrade have no stored form and go on drawing it from the pool as before.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3b9d2c4e1a0'
down_revision = 'f3a9c2d81e64'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('attempt', sa.Column('form', sa.JSON(), nullable=True))
    table = op.create_table(
        'catalog_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_version')),
    )
    op.bulk_insert(table, [{'id': 1, 'version': 0}])


def downgrade():
    op.drop_table('catalog_version')
    op.drop_column('attempt', 'form')
