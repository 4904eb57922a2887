"""presentation.pretest: which presentations were seeded pretest items (unscored)

Revision ID: a7d3e5f1c920
Revises: f4c2b9e7a310
Create Date: 2026-12-06 19:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7d3e5f1c920'
down_revision = 'f4c2b9e7a310'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('presentation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pretest', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('presentation', schema=None) as batch_op:
        batch_op.drop_column('pretest')
