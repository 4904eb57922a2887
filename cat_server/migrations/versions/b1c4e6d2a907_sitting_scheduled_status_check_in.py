"""sitting: 'scheduled' status before check-in opens

Revision ID: b1c4e6d2a907
Revises: d5e1a7c30f42
Create Date: 2026-11-23 12:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b1c4e6d2a907'
down_revision = 'd5e1a7c30f42'
branch_labels = None
depends_on = None


def upgrade():
    # SQLite cannot alter a CHECK constraint in place: batch mode copies the table.
    # Existing sittings keep their status (they were open to logins already).
    with op.batch_alter_table('sitting', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sitting_status'), type_='check')
        batch_op.create_check_constraint(
            'status', "status IN ('scheduled', 'open', 'started', 'ended')")


def downgrade():
    op.execute("UPDATE sitting SET status = 'open' WHERE status = 'scheduled'")
    with op.batch_alter_table('sitting', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sitting_status'), type_='check')
        batch_op.create_check_constraint('status', "status IN ('open', 'started', 'ended')")
