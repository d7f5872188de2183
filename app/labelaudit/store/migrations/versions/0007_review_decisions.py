"""review decisions: the current decision per (tenant, example key) and every change in a history

Revision ID: 0007
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_decisions",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("example_key", sa.String(300), primary_key=True),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("label", sa.Text, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audit_id", sa.String(40), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "review_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("example_key", sa.String(300), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("label", sa.Text, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audit_id", sa.String(40), nullable=True),
    )
    op.create_index("ix_review_history_key", "review_history", ["tenant", "example_key", "version"])


def downgrade() -> None:
    op.drop_index("ix_review_history_key", table_name="review_history")
    op.drop_table("review_history")
    op.drop_table("review_decisions")
