"""The per-client token bucket, alone and as one of several server processes."""

from __future__ import annotations

import pytest

from datahub.api.deps import RateLimiter
from datahub.errors import RateLimited


def _burst(limiter: RateLimiter, limit: int) -> int:
    allowed = 0
    for _ in range(limit * 3):
        try:
            limiter.take("client", limit)
        except RateLimited:
            return allowed
        allowed += 1
    return allowed


@pytest.mark.parametrize(("processes", "allowed"), [(1, 10), (2, 5), (4, 2), (20, 1)])
def test_each_process_allows_its_share_of_the_limit(processes: int, allowed: int) -> None:
    assert _burst(RateLimiter(processes), 10) == allowed


def test_the_answer_says_when_to_retry() -> None:
    limiter = RateLimiter(2)
    for _ in range(5):
        limiter.take("client", 10)
    with pytest.raises(RateLimited) as refused:
        limiter.take("client", 10)
    # 5 tokens a second in this process: the next one is at most 0.2 s away.
    assert 0 < refused.value.retry_after <= 0.2
