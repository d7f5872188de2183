"""tenancy: every dataset, audit and API key belongs to a tenant; stored bytes for quotas

Rows from before tenancy belong to the local tenant; existing keys get a tenant
named after the key.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("tenant", sa.String(64), nullable=False, server_default="local"))
        batch.add_column(sa.Column("stored_bytes", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("audits") as batch:
        batch.add_column(sa.Column("tenant", sa.String(64), nullable=False, server_default="local"))
        batch.add_column(sa.Column("stored_bytes", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("tenant", sa.String(64), nullable=True))
    op.execute("UPDATE api_keys SET tenant = substr(name, 1, 64)")
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("tenant", existing_type=sa.String(64), nullable=False)
    op.create_index("ix_datasets_tenant_id", "datasets", ["tenant", "id"])
    op.create_index("ix_audits_tenant_id", "audits", ["tenant", "id"])
    op.create_index("ix_audits_tenant_status", "audits", ["tenant", "status"])


def downgrade() -> None:
    op.drop_index("ix_audits_tenant_status", table_name="audits")
    op.drop_index("ix_audits_tenant_id", table_name="audits")
    op.drop_index("ix_datasets_tenant_id", table_name="datasets")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("tenant")
    with op.batch_alter_table("audits") as batch:
        batch.drop_column("stored_bytes")
        batch.drop_column("tenant")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("stored_bytes")
        batch.drop_column("tenant")
