"""per-section time limits: exam_section.time_limit_min, attempt.section_deadline_at

Revision ID: d5e1a7c30f42
Revises: 8768c9da6514
Create Date: 2026-11-23 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import cat_server.models  # noqa: F401  (UTCDateTime in the column)


# revision identifiers, used by Alembic.
revision = 'd5e1a7c30f42'
down_revision = '8768c9da6514'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exam_section', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_limit_min', sa.Integer(), nullable=True))

    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('section_deadline_at', cat_server.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_attempt_section_deadline_at'), ['section_deadline_at'], unique=False)


def downgrade():
    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attempt_section_deadline_at'))
        batch_op.drop_column('section_deadline_at')

    with op.batch_alter_table('exam_section', schema=None) as batch_op:
        batch_op.drop_column('time_limit_min')
