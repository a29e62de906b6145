"""Per-client rate limits shared through the metadata database: alone, by several limiters (processes
or hosts) at once, and across the second's boundary."""

from __future__ import annotations

import multiprocessing
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from datahub.access.rate_limits import SharedRateLimiter
from datahub.errors import RateLimited
from datahub.metadata import MetadataStore

SECOND = 1_800_000_000.25  # a fixed clock: every take falls in one window


class Clock:
    def __init__(self, at: float = SECOND) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def _allowed(limiter: SharedRateLimiter, limit: int, tries: int, client: str = "client") -> int:
    allowed = 0
    for _ in range(tries):
        try:
            limiter.take(client, limit)
        except RateLimited:
            continue
        allowed += 1
    return allowed


@pytest.fixture
def store(tmp_path: Path) -> MetadataStore:
    store = MetadataStore(f"sqlite:///{tmp_path / 'metadata.db'}")
    yield store
    store.dispose()


@pytest.mark.parametrize("limit", [1, 10, 250])
def test_one_limiter_allows_the_limit_in_a_second_then_refuses(store: MetadataStore, limit: int) -> None:
    clock = Clock()
    limiter = SharedRateLimiter(store, clock=clock)
    assert _allowed(limiter, limit, limit * 3) == limit
    with pytest.raises(RateLimited) as refused:
        limiter.take("client", limit)
    assert refused.value.retry_after == pytest.approx(0.75)  # the next second starts then
    clock.at += 1  # the next second: a new allowance
    assert _allowed(limiter, limit, limit * 3) == limit
    assert _allowed(limiter, limit, 3, client="another") == min(3, limit)  # each client its own


def test_limiters_sharing_one_database_share_one_allowance(store: MetadataStore) -> None:
    """Three server processes (or hosts): together never more than the limit, and not much less."""
    clock = Clock()
    limiters = [SharedRateLimiter(MetadataStore(str(store.engine.url)), clock=clock) for _ in range(3)]
    allowed = 0
    for _ in range(400):  # the requests arrive at the three in turn
        for limiter in limiters:
            try:
                limiter.take("client", 200)
            except RateLimited:
                continue
            allowed += 1
    # Each leases 5% (10 requests) at a time; the others may hold an unspent slice when it runs out.
    assert 200 - 2 * 10 <= allowed <= 200
    for limiter in limiters:
        limiter.store.dispose()


def _take_many(url: str, start: Barrier, allowed: Synchronized) -> None:  # type: ignore[type-arg]
    limiter = SharedRateLimiter(MetadataStore(url), clock=Clock())
    start.wait()
    got = _allowed(limiter, 300, 600)
    with allowed.get_lock():
        allowed.value += got


def test_two_processes_at_once_never_exceed_the_limit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    MetadataStore(url).dispose()  # the tables, before the race
    context = multiprocessing.get_context("spawn")
    start, allowed = context.Barrier(2), context.Value("i", 0)
    workers = [context.Process(target=_take_many, args=(url, start, allowed)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    assert 300 - 15 <= allowed.value <= 300  # one slice (15) may be left unspent in the other process
