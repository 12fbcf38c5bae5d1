"""Flagged items reach the queue with highlight spans even when the API caller did not ask for explanations."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from service.app import create_app
from service.review import install_review
from service.review.models import ReviewItem
from service.review.settings import ReviewSettings
from service.settings import Settings


def test_queue_items_get_spans_from_the_model_that_scored_them(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    review = ReviewSettings(database_url=url, review_spill_path=tmp_path / "spill.jsonl")
    app = create_app(Settings(), review_installer=lambda a: install_review(a, review))
    text = "You are a complete idiot and a moron"
    with TestClient(app) as client:
        response = client.post("/v1/moderate", json={"items": [{"id": "c1", "text": text}]})
        assert response.status_code == 200
        result = response.json()["results"][0]
        assert result["decision"] in ("review", "block") and "spans" not in result
        engine = create_engine(url)
        deadline = time.monotonic() + 20
        item = None
        while time.monotonic() < deadline:
            with Session(engine) as session:
                item = session.scalars(select(ReviewItem).where(ReviewItem.item_id == "c1")).first()
            if item is not None:
                break
            time.sleep(0.1)
    assert item is not None, "the flagged item never reached the queue"
    assert item.spans, "queued item has no spans"
    assert {span["label"] for span in item.spans} <= set(result["triggered"])
    highlighted = {text[span["begin"] : span["end"]] for span in item.spans}
    assert highlighted & {"idiot", "moron"}
