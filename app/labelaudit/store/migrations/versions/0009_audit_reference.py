"""audit reference data: the trusted dataset an audit trains on beside the audited one

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # no foreign key: a finished audit keeps naming the reference it trained with after that dataset is deleted
    with op.batch_alter_table("audits") as batch:
        batch.add_column(sa.Column("reference_dataset_id", sa.String(40), nullable=True))
    op.create_index("ix_audits_reference_status", "audits", ["reference_dataset_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_audits_reference_status", table_name="audits")
    with op.batch_alter_table("audits") as batch:
        batch.drop_column("reference_dataset_id")
