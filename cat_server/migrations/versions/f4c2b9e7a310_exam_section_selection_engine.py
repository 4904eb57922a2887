"""exam builder: exam_section.selection, .engine, .shuffle_options; exam.result_view and .late_login

Revision ID: f4c2b9e7a310
Revises: f3b9d2c4e1a0
Create Date: 2026-12-06 16:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f4c2b9e7a310'
down_revision = 'f3b9d2c4e1a0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.add_column(sa.Column('result_view', sa.String(length=10), server_default='sections', nullable=False))
        batch_op.add_column(sa.Column('late_login', sa.String(length=10), server_default='full', nullable=False))

    with op.batch_alter_table('exam_section', schema=None) as batch_op:
        batch_op.add_column(sa.Column('selection', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('engine', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('shuffle_options', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('exam_section', schema=None) as batch_op:
        batch_op.drop_column('shuffle_options')
        batch_op.drop_column('engine')
        batch_op.drop_column('selection')

    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.drop_column('late_login')
        batch_op.drop_column('result_view')
