"""sealed exam packages: exam_package, sealed_item, package_release; sitting.package_slot

Revision ID: a7d5e3c1b920
Revises: 53e718eba801
Create Date: 2026-12-06 19:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import cat_server.models


# revision identifiers, used by Alembic.
revision = 'a7d5e3c1b920'
down_revision = '53e718eba801'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'exam_package',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('package_id', sa.String(length=40), nullable=False),
        sa.Column('issuer', sa.String(length=80), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('manifest', sa.Text(), nullable=False),
        sa.Column('signature', sa.LargeBinary(), nullable=False),
        sa.Column('bank_id', sa.Integer(), nullable=False),
        sa.Column('exam_id', sa.Integer(), nullable=False),
        sa.Column('imported_at', cat_server.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('imported_by', sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(['bank_id'], ['item_bank.id']),
        sa.ForeignKeyConstraint(['exam_id'], ['exam.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('bank_id'),
        sa.UniqueConstraint('exam_id'),
        sa.UniqueConstraint('package_id'),
    )
    op.create_table(
        'sealed_item',
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('package_id', sa.Integer(), nullable=False),
        sa.Column('blob', sa.LargeBinary(), nullable=False),
        sa.Column('media_blob', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['item_id'], ['item.id']),
        sa.ForeignKeyConstraint(['package_id'], ['exam_package.id']),
        sa.PrimaryKeyConstraint('item_id'),
    )
    with op.batch_alter_table('sealed_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sealed_item_package_id'), ['package_id'], unique=False)
    op.create_table(
        'package_release',
        sa.Column('sitting_id', sa.Integer(), nullable=False),
        sa.Column('package_id', sa.Integer(), nullable=False),
        sa.Column('slot', sa.String(length=40), nullable=False),
        sa.Column('sealed_key', sa.LargeBinary(), nullable=False),
        sa.Column('released_at', cat_server.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('released_by', sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(['package_id'], ['exam_package.id']),
        sa.ForeignKeyConstraint(['sitting_id'], ['sitting.id']),
        sa.PrimaryKeyConstraint('sitting_id'),
    )
    with op.batch_alter_table('package_release', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_package_release_package_id'), ['package_id'], unique=False)
    with op.batch_alter_table('sitting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('package_slot', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('sitting', schema=None) as batch_op:
        batch_op.drop_column('package_slot')
    with op.batch_alter_table('package_release', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_package_release_package_id'))
    op.drop_table('package_release')
    with op.batch_alter_table('sealed_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sealed_item_package_id'))
    op.drop_table('sealed_item')
    op.drop_table('exam_package')
