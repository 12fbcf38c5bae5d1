"""Realistic moderation traffic for locust (FastHttpUser).

Each task picks one request type by weight and sends it with texts sampled from ``loadtests/data/``
(``comments.jsonl`` and ``threads.jsonl``, built from the TRAIN split by ``loadtests/build_corpus.py``):

=============  =================================  ========================================================
name           endpoint                           body
=============  =================================  ========================================================
single         ``POST /v1/moderate``              one comment (``Authorization: Bearer``)
batch          ``POST /v1/moderate``              ``--batch-min`` .. ``--batch-max`` comments (10-100)
thread         ``POST /v1/threads:moderate``      a whole synthetic reply tree (5-80 comments)
perspective    ``POST /v1alpha1/comments:analyze`` one comment, TOXICITY + INSULT, ``?key=`` as Perspective
openai         ``POST /v1/moderations``           a string or an array of 1-4 strings (``openai`` client)
=============  =================================  ========================================================

Every option is a locust command-line flag and an environment variable (flag wins)::

    --mix / LOADTEST_MIX                single=60,batch=10,thread=5,perspective=15,openai=10
    --target-rps / LOADTEST_TARGET_RPS  total requests/s over all users (0 = as fast as possible)
    --arrival / LOADTEST_ARRIVAL        constant (constant_throughput per user, phases spread) | poisson
    --api-key / LOADTEST_API_KEY        the key to send (empty: none)
    --batch-min, --batch-max            / LOADTEST_BATCH_MIN, LOADTEST_BATCH_MAX (10, 100)
    --corpus-dir / LOADTEST_CORPUS_DIR  directory with comments.jsonl and threads.jsonl
    --seed / LOADTEST_SEED              base seed for the texts each user picks

With ``--target-rps R`` and ``-u U`` users, each user runs R/U tasks per second (locust's
``constant_throughput``), so the offered load is R requests/s as long as responses are faster than U/R s.
Users start at random phases, so arrivals are spread evenly instead of in bursts of U.

Run it directly (``locust -f loadtests/locustfile.py --headless -u 30 -t 60s --host http://127.0.0.1:8000
--target-rps 300 --mix single=1``) or, with a server started for you, through ``loadtests/run.py``.
A response counts as a failure unless it is HTTP 200 with the response's key field present.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from locust import FastHttpUser, events, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # `locust -f .../locustfile.py` from any directory
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.traffic import DEFAULT_MIX, REQUEST_TYPES, error_code, parse_mix  # noqa: F401 (re-exported)

try:
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - orjson ships with the service; plain json works as well

    def dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")


HERE = Path(__file__).resolve().parent


@events.init_command_line_parser.add_listener
def _add_arguments(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("threadguard traffic")
    group.add_argument("--mix", env_var="LOADTEST_MIX", default=DEFAULT_MIX, help="request type weights")
    group.add_argument(
        "--target-rps", env_var="LOADTEST_TARGET_RPS", type=float, default=0.0, help="total requests/s (0: max)"
    )
    group.add_argument("--arrival", env_var="LOADTEST_ARRIVAL", choices=("constant", "poisson"), default="constant")
    group.add_argument("--api-key", env_var="LOADTEST_API_KEY", default="", help="API key to send")
    group.add_argument("--batch-min", env_var="LOADTEST_BATCH_MIN", type=int, default=10)
    group.add_argument("--batch-max", env_var="LOADTEST_BATCH_MAX", type=int, default=100)
    group.add_argument("--corpus-dir", env_var="LOADTEST_CORPUS_DIR", default=str(HERE / "data"))
    group.add_argument("--seed", env_var="LOADTEST_SEED", type=int, default=0)


class Corpus:
    """Texts and threads for the traffic, loaded once per locust process."""

    def __init__(self, directory: Path) -> None:
        comments = directory / "comments.jsonl"
        threads = directory / "threads.jsonl"
        if not comments.exists() or not threads.exists():
            raise FileNotFoundError(
                f"{directory} lacks comments.jsonl / threads.jsonl; run loadtests/build_corpus.py first"
            )
        with comments.open(encoding="utf-8") as handle:
            self.texts: list[str] = [json.loads(line)["text"] for line in handle if line.strip()]
        with threads.open(encoding="utf-8") as handle:
            self.threads: list[dict[str, Any]] = [json.loads(line) for line in handle if line.strip()]
        if not self.texts or not self.threads:
            raise ValueError(f"{directory}: empty corpus")


_corpus: Corpus | None = None
_user_counter = 0


@events.init.add_listener
def _load(environment: Environment, **_: Any) -> None:
    global _corpus
    options = environment.parsed_options
    if options is None:  # library use without command-line options
        return
    parse_mix(options.mix)  # fail fast on a typo
    _corpus = Corpus(Path(options.corpus_dir))


class ModerationUser(FastHttpUser):
    """One client platform posting comments; see the module docstring for the request types."""

    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        global _user_counter
        options = self.environment.parsed_options
        assert options is not None and _corpus is not None, "run through locust's command line"
        _user_counter += 1
        self.corpus = _corpus
        self.rng = random.Random(options.seed * 1_000_003 + _user_counter * 7_919 + os.getpid())
        mix = parse_mix(options.mix)
        self.kinds = list(mix)
        self.weights = list(mix.values())
        self.batch_range = (max(1, options.batch_min), max(options.batch_min, options.batch_max))
        self.api_key = options.api_key
        self.headers = {"Content-Type": "application/json"}
        if self.api_key:
            self.headers["Authorization"] = f"Bearer {self.api_key}"
        users = max(1, options.num_users or 1)
        self.rate = options.target_rps / users if options.target_rps > 0 else 0.0
        self.poisson = options.arrival == "poisson"
        self.sent = 0
        self.next_due = 0.0
        self.senders: dict[str, Callable[[], None]] = {
            "single": self.single,
            "batch": self.batch,
            "thread": self.thread,
            "perspective": self.perspective,
            "openai": self.openai,
        }
        if self.rate > 0:  # spread users over one period, so U users do not fire together
            self._sleep(self.rng.uniform(0, 1.0 / self.rate))

    def wait_time(self) -> float:
        if self.rate <= 0:
            return 0.0
        interval = self.rng.expovariate(self.rate) if self.poisson else 1.0 / self.rate
        now = self._now()
        if self.next_due <= 0.0:
            self.next_due = now
        self.next_due += interval
        if self.next_due < now:  # fell behind (slow responses): do not burst to catch up
            self.next_due = now
        return max(0.0, self.next_due - now)

    @task
    def moderate(self) -> None:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        self.senders[kind]()

    # --- request types ---------------------------------------------------------------------------------

    def _id(self) -> str:
        self.sent += 1
        return f"u{id(self) % 100_000}-{self.sent}"

    def single(self) -> None:
        body = {"items": [{"id": self._id(), "text": self.rng.choice(self.corpus.texts)}]}
        self._post("/v1/moderate", body, "single", b'"results"')

    def batch(self) -> None:
        n = self.rng.randint(*self.batch_range)
        prefix = self._id()
        items = [{"id": f"{prefix}-{i}", "text": text} for i, text in enumerate(self.rng.sample(self.corpus.texts, n))]
        self._post("/v1/moderate", {"items": items}, "batch", b'"results"')

    def thread(self) -> None:
        thread = self.rng.choice(self.corpus.threads)
        body = {"thread_id": f"{thread['thread_id']}-{self._id()}", "comments": thread["comments"]}
        self._post("/v1/threads:moderate", body, "thread", b'"summary"')

    def perspective(self) -> None:
        body = {
            "comment": {"text": self.rng.choice(self.corpus.texts)},
            "requestedAttributes": {"TOXICITY": {}, "INSULT": {}},
            "languages": ["en"],
            "doNotStore": self.rng.random() < 0.5,
        }
        path = "/v1alpha1/comments:analyze"
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            path += f"?key={self.api_key}"
        self._post(path, body, "perspective", b'"attributeScores"', headers=headers)

    def openai(self) -> None:
        n = self.rng.choice((1, 1, 1, 2, 4))
        texts = self.rng.sample(self.corpus.texts, n)
        body = {"input": texts[0] if n == 1 else texts, "model": "omni-moderation-latest"}
        self._post("/v1/moderations", body, "openai", b'"results"')

    def _post(
        self, path: str, body: dict[str, Any], name: str, expect: bytes, headers: dict[str, str] | None = None
    ) -> None:
        with self.client.post(
            path,
            data=dumps(body),  # type: ignore[arg-type]  # bytes are sent as they are
            headers=headers or self.headers,
            name=name,
            catch_response=True,
        ) as response:
            content = response.content or b""
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code} {error_code(content)}")
            elif expect not in content:
                response.failure(f"HTTP 200 without {expect.decode()}: {content[:160]!r}")
            else:
                response.success()

    # --- time helpers (gevent-friendly) -----------------------------------------------------------------

    @staticmethod
    def _now() -> float:
        import time

        return time.perf_counter()

    @staticmethod
    def _sleep(seconds: float) -> None:
        import gevent

        gevent.sleep(seconds)
