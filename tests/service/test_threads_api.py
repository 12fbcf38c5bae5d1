"""Threads API over a real uvicorn process: summary, invalid trees and the size limit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from service.api.threads import ThreadResponse
from tests.service.server import ServerProcess


def post_thread(server: ServerProcess, body: Any) -> httpx.Response:
    return httpx.post(server.base_url + "/v1/threads:moderate", json=body, timeout=60.0)


def test_thread_summary(server: ServerProcess) -> None:
    comments = [
        {"id": "root", "text": "Sad news, thoughts with the families."},
        {"id": "r1", "text": "agreed, terrible loss", "parent_id": "root"},
        {"id": "r2", "text": "you are a stupid idiot", "parent_id": "root"},
        {"id": "r3", "text": "shut up you stupid moron idiot", "parent_id": "r2"},
    ]
    response = post_thread(server, {"thread_id": "t1", "comments": comments})
    assert response.status_code == 200, response.text
    body = TypeAdapter(ThreadResponse).validate_python(response.json())
    assert body.thread_id == "t1"
    assert [r.id for r in body.results] == ["root", "r1", "r2", "r3"]
    summary = body.summary
    assert summary.comments == 4 and summary.max_depth == 2
    assert sum(summary.counts.decisions.values()) == 4
    assert all(sum(per.values()) == 4 for per in summary.counts.labels.values())
    assert summary.most_heated_chain is not None
    assert summary.most_heated_chain.comment_ids == ["root", "r2", "r3"]
    assert summary.escalation.reply_pairs == 3
    assert summary.escalation.rising is True


def test_flat_thread_has_no_chain(server: ServerProcess) -> None:
    response = post_thread(server, {"comments": [{"id": "a", "text": "hello"}, {"id": "b", "text": "hi"}]})
    summary = response.json()["summary"]
    assert summary["most_heated_chain"] is None
    assert summary["escalation"] == {
        "rising": False,
        "reply_pairs": 0,
        "mean_delta": None,
        "depth_correlation": None,
        "threshold": 0.05,
    }


def test_a_chain_of_ten_thousand_comments_is_moderated(server: ServerProcess) -> None:
    n = 10_000  # the limit: one top-level comment and 9,999 nested replies
    comments = [{"id": f"c{i}", "text": f"reply number {i}", "parent_id": f"c{i - 1}" if i else None} for i in range(n)]
    response = post_thread(server, {"comments": comments})
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert len(body["results"]) == n
    assert body["summary"]["max_depth"] == n - 1
    assert body["summary"]["most_heated_chain"]["length"] == n


def test_ten_thousand_replies_plus_the_root_is_over_the_limit(server: ServerProcess) -> None:
    comments = [{"id": "root", "text": "the article"}] + [
        {"id": f"r{i}", "text": "me too", "parent_id": "root"} for i in range(10_000)
    ]
    response = post_thread(server, {"comments": comments})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "too_many_items" and "10000" in error["message"]


@pytest.mark.parametrize(
    ("comments", "code", "mentions"),
    [
        pytest.param(
            [{"id": "a", "text": "x"}, {"id": "b", "text": "y", "parent_id": "ghost"}],
            "unknown_parent",
            "ghost",
            id="unknown-parent",
        ),
        pytest.param([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], "duplicate_id", "a", id="duplicate"),
        pytest.param(
            [
                {"id": "root", "text": "x"},
                {"id": "p", "text": "y", "parent_id": "q"},
                {"id": "q", "text": "z", "parent_id": "p"},
            ],
            "cycle",
            "p",
            id="two-cycle",
        ),
        pytest.param([{"id": "me", "text": "x", "parent_id": "me"}], "cycle", "me", id="self-reply"),
        pytest.param([], "items_empty", "no items", id="empty"),
        pytest.param([{"id": "a", "text": ""}], "text_empty", "empty", id="empty-text"),
    ],
)
def test_invalid_threads_are_422_with_a_reason(
    server: ServerProcess, comments: list[dict[str, Any]], code: str, mentions: str
) -> None:
    response = post_thread(server, {"comments": comments})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code and mentions in error["message"]


def test_wrong_types_in_a_thread(server: ServerProcess) -> None:
    response = post_thread(server, {"comments": [{"id": "a", "text": "x", "parent_id": 3}]})
    assert response.status_code == 422
    assert "comments.0.parent_id" in response.json()["error"]["message"]
