"""The buffered background writer and its spill file, against real databases that go away and come back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from prometheus_client import REGISTRY
from review_data import flagged_comments
from review_pg import PostgresServer, free_port
from sqlalchemy import Engine, select

from service.core.review_sink import FlaggedItem, ReviewSink
from service.review import build_writer
from service.review.db import current_revision, head_revision, make_engine, make_session_factory, migrate
from service.review.models import ReviewItem
from service.review.records import RecordError, from_record, to_record
from service.review.settings import ReviewSettings
from service.review.spill import SpillFile
from service.review.writer import ReviewQueueWriter


def many_items(count: int, prefix: str = "load") -> list[FlaggedItem]:
    template = flagged_comments()[0]
    return [replace(template, item_id=f"{prefix}-{i}", text=f"{template.text} #{i}") for i in range(count)]


def stored_ids(engine: Engine) -> list[str]:
    with make_session_factory(engine)() as db:
        return list(db.scalars(select(ReviewItem.item_id)))


def metric(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    return 0.0 if value is None else value


def writer_for(url: str, spill: Path, **overrides: object) -> ReviewQueueWriter:
    settings = ReviewSettings(
        database_url=url, review_spill_path=spill, review_buffer_size=50, review_batch_size=20,
        review_flush_interval_seconds=0.05, review_retry_max_seconds=0.5, review_shutdown_timeout_seconds=2.0,
    )
    return build_writer(settings.model_copy(update=overrides))


# -- records and spill file ------------------------------------------------------------------------------------


def test_records_round_trip_and_reject_garbage() -> None:
    for item in flagged_comments():
        assert from_record(orjson.loads(orjson.dumps(to_record(item)))) == item
    with pytest.raises(RecordError):
        from_record({"v": 1, "item_id": "x"})
    with pytest.raises(RecordError):
        from_record({**to_record(flagged_comments()[0]), "v": 99})


def test_spill_file_claims_every_line_once_under_concurrent_appends(tmp_path: Path) -> None:
    spill = SpillFile(tmp_path / "spill.jsonl")
    writers, per_writer = 4, 250
    items = many_items(writers * per_writer)

    def append(chunk: list[FlaggedItem]) -> None:
        for start in range(0, len(chunk), 10):
            spill.append([to_record(item) for item in chunk[start:start + 10]])

    threads = [threading.Thread(target=append, args=(items[i::writers],)) for i in range(writers)]
    for thread in threads:
        thread.start()
    replayed: list[str] = []
    while any(thread.is_alive() for thread in threads) or spill.pending:
        for claimed in spill.claim():
            lines = 0
            for batch in claimed.items(batch_size=64):
                replayed.extend(item.item_id for item in batch)
                lines += len(batch)
            assert lines == claimed.lines
            claimed.done()
            spill.replayed(claimed.lines)
        time.sleep(0.001)
    for thread in threads:
        thread.join()
    assert sorted(replayed) == sorted(item.item_id for item in items)  # nothing lost, nothing twice
    assert list(tmp_path.iterdir()) == []


def test_spill_file_adopts_orphans_and_quarantines_torn_lines(tmp_path: Path) -> None:
    path = tmp_path / "spill.jsonl"
    first, second = many_items(2)
    SpillFile(path).append([to_record(first)])
    with open(path, "ab") as handle:  # a writer that died mid-line
        handle.write(b'{"v": 1, "item_id": "torn')
    spill = SpillFile(path)  # a new process finds the file
    assert spill.pending == 1
    spill.append([to_record(second)])
    claimed = spill.claim()
    assert len(claimed) == 1
    claimed[0].release()  # the replay failed (database went away again): the claim becomes an orphan
    again = SpillFile(path).claim()
    assert [spill_file.path for spill_file in again] == [claimed[0].path]
    replayed = [item for batch in again[0].items(10) for item in batch]
    assert [item.item_id for item in replayed] == [first.item_id, second.item_id]
    again[0].done()
    assert (tmp_path / "spill.jsonl.rejected").read_bytes().startswith(b'{"v": 1, "item_id": "torn')


# -- the writer on a healthy database ------------------------------------------------------------------------


def test_writer_stores_only_configured_decisions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    writer = writer_for(url, tmp_path / "spill.jsonl", review_store_decisions=frozenset({"block"}))
    sink: ReviewSink = writer
    writer.start()
    try:
        assert writer.ready.wait(10)
        items = flagged_comments()
        sink.submit(items)
        assert writer.flush(10)
    finally:
        writer.stop()
    engine = make_engine(url)
    assert sorted(stored_ids(engine)) == sorted(item.item_id for item in items if item.decision == "block")
    engine.dispose()


def test_submit_never_raises_even_when_nothing_can_take_the_items(tmp_path: Path) -> None:
    spill_path = tmp_path / "spill-is-a-directory"
    spill_path.mkdir()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"  # nobody listens there
    writer = writer_for(url, spill_path, review_buffer_size=3)
    dropped_before = metric("threadguard_review_items_dropped_total")
    writer.submit(many_items(10))  # 3 fit in the buffer, 7 cannot be spilled
    assert metric("threadguard_review_items_dropped_total") - dropped_before == 7
    writer.submit([object()])  # type: ignore[list-item]  # even nonsense does not raise
    writer.stop()


# -- the writer while the database goes away -------------------------------------------------------------------


@pytest.fixture
def pg(own_pg_server: PostgresServer) -> Iterator[PostgresServer]:
    own_pg_server.ensure_running()
    yield own_pg_server
    own_pg_server.ensure_running()


def test_outage_buffers_spills_and_recovers_without_loss(pg: PostgresServer, tmp_path: Path) -> None:
    url = pg.create_database("writer_outage")
    spill_path = tmp_path / "spill.jsonl"
    writer = writer_for(url, spill_path)
    writer.start()
    engine = make_engine(url)
    try:
        assert writer.ready.wait(15)
        writer.submit(many_items(30, "before"))
        assert writer.flush(10)
        spilled_before = metric("threadguard_review_items_spilled_total")

        pg.stop()
        during = many_items(400, "during")
        slowest = 0.0
        for start in range(0, len(during), 8):  # steady traffic while the database is down
            began = time.perf_counter()
            writer.submit(during[start:start + 8])
            slowest = max(slowest, time.perf_counter() - began)
        assert slowest < 0.05, "submit must not wait for the database"
        time.sleep(0.5)
        assert not writer.database_up
        assert writer.backlog == len(during)
        assert metric("threadguard_review_backlog") >= len(during)
        assert metric("threadguard_review_database_up") == 0.0
        assert metric("threadguard_review_items_spilled_total") - spilled_before >= len(during) - 50 - 20
        assert spill_path.exists()

        pg.start()
        assert writer.flush(30), f"backlog stuck at {writer.backlog}"
        assert writer.database_up
        ids = stored_ids(engine)
        assert len(ids) == len(set(ids)) == 430
        assert set(ids) == {item.item_id for item in many_items(30, "before") + during}
        assert not list(tmp_path.glob("spill.jsonl*"))
    finally:
        writer.stop()
        engine.dispose()


def test_shutdown_during_outage_spills_and_the_next_process_replays(pg: PostgresServer, tmp_path: Path) -> None:
    url = pg.create_database("writer_restart")
    spill_path = tmp_path / "spill.jsonl"
    first = writer_for(url, spill_path)
    first.start()
    assert first.ready.wait(15)
    pg.stop()
    items = many_items(120, "restart")
    first.submit(items)
    first.stop()  # the database is still down: everything goes to the spill file
    assert spill_path.exists()
    assert spill_path.read_bytes().count(b"\n") >= len(items)

    pg.start()
    second = writer_for(url, spill_path)  # e.g. the service restarted
    assert second.backlog >= len(items)
    second.start()
    engine = make_engine(url)
    try:
        assert second.flush(30)
        assert sorted(stored_ids(engine)) == sorted(item.item_id for item in items)
    finally:
        second.stop()
        engine.dispose()


def test_writer_starts_while_database_is_down_and_migrates_when_it_appears(
    pg: PostgresServer, tmp_path: Path
) -> None:
    url = pg.create_database("writer_late")
    pg.stop()
    writer = writer_for(url, tmp_path / "spill.jsonl")
    writer.start()
    try:
        writer.submit(many_items(5, "early"))
        assert not writer.ready.wait(1.0)
        pg.start()
        assert writer.ready.wait(20)
        assert writer.flush(20)
        engine = make_engine(url)
        assert sorted(stored_ids(engine)) == sorted(item.item_id for item in many_items(5, "early"))
        engine.dispose()
    finally:
        writer.stop()


def test_migrations_are_safe_from_several_processes_at_once(database_url: str) -> None:
    url = database_url
    errors: list[BaseException] = []

    def run() -> None:
        engine = make_engine(url)
        try:
            migrate(engine)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_backlog_clears_when_another_worker_replays_the_shared_spill_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    spill_path = tmp_path / "spill.jsonl"
    worker_a = writer_for(url, spill_path, review_buffer_size=1)
    worker_a.submit(many_items(20, "a"))  # not started: 1 buffered, 19 spilled
    assert worker_a.backlog == 20
    worker_b = writer_for(url, spill_path)  # a second worker process sharing the spill path
    worker_b.start()
    worker_a.start()
    engine = make_engine(url)
    try:
        assert worker_b.flush(20) and worker_a.flush(20)
        assert sorted(stored_ids(engine)) == sorted(item.item_id for item in many_items(20, "a"))
    finally:
        worker_a.stop()
        worker_b.stop()
        engine.dispose()
