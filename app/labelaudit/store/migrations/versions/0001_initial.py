"""initial schema: datasets, audits, audit_rows

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("parent_id", sa.String(40), sa.ForeignKey("datasets.id", ondelete="SET NULL"), nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("classes", sa.Integer, nullable=False),
        sa.Column("class_names", sa.JSON, nullable=False),
        sa.Column("modality", sa.String(20), nullable=False),
        sa.Column("feature_shape", sa.JSON, nullable=True),
        sa.Column("format", sa.String(20), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("artifact", sa.String(64), nullable=False),
        sa.Column("has_true_labels", sa.Boolean, nullable=False),
        sa.Column("noise", sa.JSON, nullable=True),
        sa.Column("meta", sa.JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "audits",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("dataset_id", sa.String(40), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("progress", sa.JSON, nullable=True),
        sa.Column("timings", sa.JSON, nullable=True),
        sa.Column("summary", sa.JSON, nullable=True),
        sa.Column("evaluation", sa.JSON, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("pred_probs_artifact", sa.String(64), nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("worker_id", sa.String(100), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_audits_dataset_id", "audits", ["dataset_id"])
    op.create_index("ix_audits_status_created", "audits", ["status", "created_at"])
    op.create_table(
        "audit_rows",
        sa.Column("audit_id", sa.String(40), sa.ForeignKey("audits.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("rank", sa.Integer, primary_key=True),
        sa.Column("index", sa.Integer, nullable=False),
        sa.Column("given_label", sa.Integer, nullable=False),
        sa.Column("suggested_label", sa.Integer, nullable=False),
        sa.Column("quality_score", sa.Float, nullable=False),
        sa.Column("is_issue", sa.Boolean, nullable=False),
        sa.Column("true_label", sa.Integer, nullable=True),
        sa.Column("example_id", sa.Text, nullable=True),
    )
    op.create_index("ix_audit_rows_label_rank", "audit_rows", ["audit_id", "given_label", "rank"])
    op.create_index("ix_audit_rows_issue_rank", "audit_rows", ["audit_id", "is_issue", "rank"])


def downgrade() -> None:
    op.drop_table("audit_rows")
    op.drop_table("audits")
    op.drop_table("datasets")
