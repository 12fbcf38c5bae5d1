"""Queue storage on SQLite and on a real PostgreSQL server: schema, idempotent writes, queue queries, thread
context, decisions with their audit trail, reviewer statistics and the label export."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from review_data import COMMENTS, flagged_comments
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from service.review.accounts import create_user
from service.review.actions import ActionError, apply_action, parse_request
from service.review.db import VERSION_TABLE, current_revision, head_revision, migrate
from service.review.export import LABEL_COLUMNS, export_labels, labels_for
from service.review.models import (
    Action,
    AuditEntry,
    Base,
    ItemLabel,
    ReasonCode,
    ReviewItem,
    User,
)
from service.review.passwords import ScryptCost
from service.review.queries import QueueFilter, list_queue, neighbour, reviewer_stats, thread_context
from service.review.store import write_items

#: cheap scrypt for users created here (the CLI and login tests use the real cost)
TEST_COST = ScryptCost(log2_n=12)


def _by_item_id(db: Session) -> dict[str, ReviewItem]:
    return {item.item_id: item for item in db.scalars(select(ReviewItem)).unique()}


def _users(db: Session) -> tuple[User, User, User]:
    alice = create_user(db, "alice", "alice-password-1", "reviewer", cost=TEST_COST)
    bob = create_user(db, "bob", "bob-password-22", "reviewer", cost=TEST_COST)
    root = create_user(db, "root", "root-password-333", "admin", cost=TEST_COST)
    db.commit()
    return alice, bob, root


# -- schema ------------------------------------------------------------------------------------------------


def test_migrations_build_exactly_the_model_schema(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrating_twice_is_a_no_op(engine: Engine) -> None:
    migrate(engine)
    assert current_revision(engine) == head_revision()


# -- writing -----------------------------------------------------------------------------------------------


def test_written_items_keep_every_field(engine: Engine, sessions: sessionmaker[Session]) -> None:
    items = flagged_comments()
    assert write_items(engine, items) == len(items)
    with sessions() as db:
        stored = _by_item_id(db)
        assert set(stored) == {item.item_id for item in items}
        for item in items:
            row = stored[item.item_id]
            assert row.text == item.text
            assert (row.thread_id, row.parent_id, row.author_id) == (item.thread_id, item.parent_id, item.author_id)
            assert row.scores == pytest.approx(item.scores)
            assert row.decision == item.decision
            assert row.triggered == list(item.triggered)
            assert (row.model_name, row.model_version, row.source_client) == (
                item.model_name, item.model_version, item.source_client,
            )
            assert row.created_at == item.created_at
            assert row.created_at.tzinfo is not None
            assert row.enqueued_at >= item.created_at
            assert row.status == "pending"
            assert row.max_score == pytest.approx(max(item.scores.values()))
            assert row.spans == [dict(span) for span in item.spans]
            labels = {label.label: label for label in row.labels}
            assert set(labels) == set(item.scores)
            assert {name for name, label in labels.items() if label.triggered} == set(item.triggered)


def test_writes_are_idempotent(engine: Engine, sessions: sessionmaker[Session]) -> None:
    items = flagged_comments()
    assert write_items(engine, items + items[:3]) == len(items)
    assert write_items(engine, items) == 0  # a replay of something already stored
    edited = replace(items[0], text=items[0].text + " (edited)")
    assert write_items(engine, [edited]) == 1  # same comment id, new text: a new queue entry
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(ReviewItem)) == len(items) + 1
        assert db.scalar(select(func.count()).select_from(ItemLabel)) == (len(items) + 1) * len(items[0].scores)


# -- queue queries -----------------------------------------------------------------------------------------


@pytest.fixture
def queued(engine: Engine, sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    items = flagged_comments()
    items[-1] = replace(items[-1], source_client="perspective")
    write_items(engine, items)
    return sessions


def _ids(page_items: list[ReviewItem]) -> list[str]:
    return [item.item_id for item in page_items]


def test_queue_sorts_by_score_and_age(queued: sessionmaker[Session]) -> None:
    with queued() as db:
        by_score = list_queue(db, QueueFilter(sort="score", order="desc")).items
        scores = [item.max_score for item in by_score]
        assert scores == sorted(scores, reverse=True) and len(set(scores)) > 3
        assert _ids(list_queue(db, QueueFilter(sort="score", order="asc")).items) == list(reversed(_ids(by_score)))
        oldest_first = _ids(list_queue(db, QueueFilter(sort="age", order="desc")).items)
        flagged_order = [item.item_id for item in flagged_comments()]
        assert oldest_first == flagged_order
        assert _ids(list_queue(db, QueueFilter(sort="age", order="asc")).items) == flagged_order[::-1]


def test_queue_filters_by_label_decision_status_and_source(queued: sessionmaker[Session]) -> None:
    with queued() as db:
        insults = list_queue(db, QueueFilter(label="insult")).items
        assert set(_ids(insults)) == {"c103", "c203", "c205"}
        insult_scores = [item.scores["insult"] for item in insults]
        assert insult_scores == sorted(insult_scores, reverse=True)  # sorted by the filtered label's score
        assert set(_ids(list_queue(db, QueueFilter(decision="review")).items)) == {
            "c103", "c105", "c108", "c204", "c205",
        }
        assert _ids(list_queue(db, QueueFilter(source="perspective")).items) == ["c205"]
        assert list_queue(db, QueueFilter(status="removed")).total == 0
        page = list_queue(db, QueueFilter(status=None), page=2, page_size=3)
        assert (page.total, page.pages, len(page.items)) == (10, 4, 3)


def test_neighbours_follow_the_queue_order_even_after_a_decision(queued: sessionmaker[Session]) -> None:
    with queued() as db:
        flt = QueueFilter(label="toxicity", sort="score", order="desc")
        order = [item.id for item in list_queue(db, flt).items]
        items = {item.id: item for item in db.scalars(select(ReviewItem)).unique()}
        assert neighbour(db, flt, items[order[0]], "prev") is None
        assert [neighbour(db, flt, items[pk], "next") for pk in order] == [*order[1:], None]
        assert [neighbour(db, flt, items[pk], "prev") for pk in order[1:]] == order[:-1]
        items[order[1]].status = "approved"  # decided items leave the pending view, the cursor still moves on
        db.flush()
        assert neighbour(db, flt, items[order[1]], "next") == order[2]
        assert neighbour(db, flt, items[order[1]], "prev") == order[0]


def test_thread_context_shows_parent_chain_siblings_and_replies(queued: sessionmaker[Session]) -> None:
    with queued() as db:
        items = _by_item_id(db)
        reply = thread_context(db, items["c205"])  # c205 -> c203 -> c202 -> c201 (c201 was not flagged)
        assert _ids(reply.ancestors) == ["c202", "c203"]
        assert reply.missing_parent == "c201"
        assert reply.siblings == []
        root_reply = thread_context(db, items["c202"])
        assert _ids(root_reply.siblings) == ["c204"]  # both answer c201
        assert _ids(root_reply.replies) == ["c203"]
        top_level = thread_context(db, items["c106"])
        assert top_level.ancestors == [] and top_level.missing_parent is None and top_level.siblings == []


# -- decisions and audit -----------------------------------------------------------------------------------


def test_decisions_are_audited_and_reviewers_cannot_overrule(queued: sessionmaker[Session]) -> None:
    with queued() as db:
        alice, bob, root = _users(db)
        items = _by_item_id(db)
        target = items["c103"].id
        result = apply_action(db, alice, [target], Action.REMOVE, ReasonCode.INSULT, "name-calling")
        db.commit()
        assert result.updated == [target] and result.skipped == {}
        again = apply_action(db, bob, [target], Action.APPROVE, None, None)
        assert again.updated == [] and again.skipped == {target: "already removed"}
        override = apply_action(db, root, [target], Action.APPROVE, None, "context: quoting the other side")
        db.commit()
        assert override.updated == [target]
        entries = list(db.scalars(select(AuditEntry).where(AuditEntry.item_pk == target).order_by(AuditEntry.id)))
        assert [(e.actor_name, e.action) for e in entries] == [("alice", "remove"), ("root", "approve")]
        assert entries[0].before is not None and entries[0].before["status"] == "pending"
        assert entries[0].after == {
            "status": "removed", "reason_code": "insult", "note": "name-calling", "reviewed_by": "alice",
            "reviewed_at": entries[0].after["reviewed_at"] if entries[0].after else None,
        }
        assert entries[1].before == entries[0].after
        assert entries[1].after is not None and entries[1].after["status"] == "approved"
        assert entries[1].after["reviewed_by"] == "root"


def test_bulk_action_shares_one_bulk_id_and_skips_decided_items(queued: sessionmaker[Session]) -> None:
    with queued() as db:
        alice, bob, _ = _users(db)
        items = _by_item_id(db)
        apply_action(db, bob, [items["c108"].id], Action.ESCALATE, ReasonCode.MISINFORMATION, None)
        ids = [items[name].id for name in ("c105", "c108", "c204")] + [999_999]
        result = apply_action(db, alice, ids, Action.APPROVE, None, None, bulk=True)
        db.commit()
        assert result.updated == [items["c105"].id, items["c204"].id]
        assert result.skipped == {items["c108"].id: "already escalated", 999_999: "not found"}
        bulk_entries = list(db.scalars(select(AuditEntry).where(AuditEntry.bulk_id == result.bulk_id)))
        assert len(bulk_entries) == 2 and {e.actor_name for e in bulk_entries} == {"alice"}


def test_remove_and_escalate_need_a_reason() -> None:
    with pytest.raises(ActionError):
        parse_request("remove", "", None)
    with pytest.raises(ActionError):
        parse_request("escalate", None, "note only")
    with pytest.raises(ActionError):
        parse_request("remove", "rude", None)
    with pytest.raises(ActionError):
        parse_request("delete", "insult", None)
    assert parse_request("approve", "", "  fine  ") == (Action.APPROVE, None, "fine")


def test_reviewer_stats_count_actions_and_agreement(queued: sessionmaker[Session]) -> None:
    with queued() as db:
        alice, bob, _ = _users(db)
        items = _by_item_id(db)
        # alice: removes two block items, approves one review item -> agrees 2 of 3
        apply_action(db, alice, [items["c106"].id, items["c107"].id], Action.REMOVE, ReasonCode.THREAT, None, bulk=True)
        apply_action(db, alice, [items["c108"].id], Action.APPROVE, None, None)
        # bob: approves a block item, escalates one
        apply_action(db, bob, [items["c202"].id], Action.APPROVE, None, None)
        apply_action(db, bob, [items["c204"].id], Action.ESCALATE, ReasonCode.MISINFORMATION, None)
        db.commit()
        stats = {row.reviewer: row for row in reviewer_stats(db)}
        assert stats["alice"].counts == {"approve": 1, "remove": 2, "escalate": 0}
        assert stats["alice"].agreement == pytest.approx(2 / 3)
        assert stats["alice"].agreement_for("block") == 1.0
        assert stats["alice"].agreement_for("review") == 0.0
        assert stats["bob"].counts == {"approve": 1, "remove": 0, "escalate": 1}
        assert stats["bob"].agreement == 0.0
        assert stats["bob"].last_action_at is not None
        assert reviewer_stats(db, since=datetime.now(UTC) + timedelta(minutes=1)) == []


# -- export ------------------------------------------------------------------------------------------------


def test_export_turns_decisions_into_label_columns(queued: sessionmaker[Session], tmp_path: Path) -> None:
    with queued() as db:
        alice, _, _ = _users(db)
        items = _by_item_id(db)

        def act(name: str, action: Action, reason: ReasonCode | None = None, note: str | None = None) -> None:
            apply_action(db, alice, [items[name].id], action, reason, note)

        act("c103", Action.REMOVE, ReasonCode.INSULT)
        act("c107", Action.REMOVE, ReasonCode.HATE)
        act("c105", Action.APPROVE)  # profanity and toxicity were flagged: both 0
        act("c202", Action.REMOVE, ReasonCode.MISINFORMATION, "denies the theatre strike #atrocity_denial")
        act("c204", Action.REMOVE, ReasonCode.MISINFORMATION)  # no tag: nothing known -> not exported
        act("c108", Action.ESCALATE, ReasonCode.MISINFORMATION)  # escalations are not exported
        act("c106", Action.REMOVE, ReasonCode.SPAM)  # spam maps to no label column
        db.commit()
        out = tmp_path / "exports" / "review-labels.jsonl"
        summary = export_labels(db, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert (summary.rows, summary.skipped) == (4, 2)
    by_id = {row["source_item_id"]: row for row in rows}
    assert set(by_id) == {"c103", "c107", "c105", "c202"}
    for row in rows:
        assert set(row) == {"text", *LABEL_COLUMNS, "source_item_id", "reviewed_at"}
        assert all(row[label] in (0, 1, None) for label in LABEL_COLUMNS)
        assert datetime.fromisoformat(row["reviewed_at"]).tzinfo is not None

    def known(row: dict[str, object]) -> dict[str, object]:
        return {label: row[label] for label in LABEL_COLUMNS if row[label] is not None}

    assert known(by_id["c103"]) == {"insult": 1, "toxicity": 1}
    assert known(by_id["c107"]) == {"identity_attack": 1, "toxicity": 1}
    assert known(by_id["c105"]) == {"profanity": 0, "toxicity": 0}
    assert known(by_id["c202"]) == {"atrocity_denial": 1}
    assert by_id["c103"]["text"] == next(c.text for c in COMMENTS if c.item_id == "c103")


def test_labels_for_pending_items_is_none(queued: sessionmaker[Session]) -> None:
    with queued() as db:
        assert all(labels_for(item) is None for item in db.scalars(select(ReviewItem)).unique())


def test_the_trainers_jsonl_loader_reads_the_export(queued: sessionmaker[Session], tmp_path: Path) -> None:
    jsonl = pytest.importorskip("training.datasets.jsonl")
    config = pytest.importorskip("training.config")
    with queued() as db:
        alice, _, _ = _users(db)
        items = _by_item_id(db)
        apply_action(db, alice, [items["c103"].id], Action.REMOVE, ReasonCode.INSULT, None)
        apply_action(db, alice, [items["c105"].id], Action.APPROVE, None, None)
        db.commit()
        export_labels(db, tmp_path / "review" / "labels.jsonl")
    source = config.SourceConfig(
        name="review-corrections", loader="jsonl", files=["review/labels.jsonl"],
        options={"label_columns": list(LABEL_COLUMNS)},
    )
    frame = jsonl.load(source, tmp_path).set_index("source_item_id")
    assert list(frame.loc[["c103", "c105"], "text"]) == [
        next(c.text for c in COMMENTS if c.item_id == name) for name in ("c103", "c105")
    ]
    assert (frame.loc["c103", "insult"], frame.loc["c103", "toxicity"]) == (1.0, 1.0)
    assert (frame.loc["c105", "profanity"], frame.loc["c105", "toxicity"]) == (0.0, 0.0)
    assert frame.loc["c103", ["threat", "profanity", "conspiracy"]].isna().all()  # unknown stays unknown
