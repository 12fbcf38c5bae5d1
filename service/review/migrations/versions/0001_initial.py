"""Initial review schema: items, per-label scores, users, sessions, audit log.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_login_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_users"),
        sa.UniqueConstraint("username", name="uq_review_users_username"),
    )
    op.create_table(
        "review_items",
        sa.Column("id", BigIntPK, autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(255), nullable=False),
        sa.Column("thread_id", sa.String(255), nullable=True),
        sa.Column("parent_id", sa.String(255), nullable=True),
        sa.Column("author_id", sa.String(255), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("triggered", sa.JSON(), nullable=False),
        sa.Column("spans", sa.JSON(), nullable=False),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("source_client", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("enqueued_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["review_users.id"],
            name="fk_review_items_reviewed_by_id_review_users", ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
        sa.UniqueConstraint("dedupe_key", name="uq_review_items_dedupe_key"),
    )
    op.create_index("ix_review_items_item_id", "review_items", ["item_id"])
    op.create_index("ix_review_items_thread_id", "review_items", ["thread_id"])
    op.create_index("ix_review_items_max_score", "review_items", ["max_score"])
    op.create_index("ix_review_items_decision", "review_items", ["decision"])
    op.create_index("ix_review_items_source_client", "review_items", ["source_client"])
    op.create_index("ix_review_items_created_at", "review_items", ["created_at"])
    op.create_index("ix_review_items_status", "review_items", ["status"])
    op.create_index("ix_review_items_reviewed_at", "review_items", ["reviewed_at"])
    op.create_index("ix_review_items_thread_parent", "review_items", ["thread_id", "parent_id"])
    op.create_index("ix_review_items_status_max_score", "review_items", ["status", "max_score"])

    op.create_table(
        "review_item_labels",
        sa.Column("item_pk", BigIntPK, nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("triggered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_pk"], ["review_items.id"],
            name="fk_review_item_labels_item_pk_review_items", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_pk", "label", name="pk_review_item_labels"),
    )
    op.create_index(
        "ix_review_item_labels_label_score", "review_item_labels", ["label", "triggered", "score"]
    )

    op.create_table(
        "review_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["review_users.id"],
            name="fk_review_sessions_user_id_review_users", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_review_sessions"),
    )
    op.create_index("ix_review_sessions_user_id", "review_sessions", ["user_id"])
    op.create_index("ix_review_sessions_expires_at", "review_sessions", ["expires_at"])

    op.create_table(
        "review_audit_log",
        sa.Column("id", BigIntPK, autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("item_pk", BigIntPK, nullable=True),
        sa.Column("bulk_id", sa.String(32), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["review_users.id"],
            name="fk_review_audit_log_actor_id_review_users", ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["item_pk"], ["review_items.id"],
            name="fk_review_audit_log_item_pk_review_items", ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review_audit_log"),
    )
    op.create_index("ix_review_audit_log_at", "review_audit_log", ["at"])
    op.create_index("ix_review_audit_log_actor_id", "review_audit_log", ["actor_id"])
    op.create_index("ix_review_audit_log_action", "review_audit_log", ["action"])
    op.create_index("ix_review_audit_log_item_pk", "review_audit_log", ["item_pk"])
    op.create_index("ix_review_audit_log_bulk_id", "review_audit_log", ["bulk_id"])


def downgrade() -> None:
    op.drop_table("review_audit_log")
    op.drop_table("review_sessions")
    op.drop_table("review_item_labels")
    op.drop_table("review_items")
    op.drop_table("review_users")
