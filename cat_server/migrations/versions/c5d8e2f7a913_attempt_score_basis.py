"""attempt.score_basis: the signed item parameters each adaptive section was scored with

Revision ID: c5d8e2f7a913
Revises: b8e1f4a9c237
Create Date: 2026-12-06 22:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5d8e2f7a913'
down_revision = 'b8e1f4a9c237'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score_basis', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.drop_column('score_basis')
