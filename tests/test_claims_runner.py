"""``run_claims`` on several processes: the same evidence as in one process (SPEC section 11: the worker
count changes the time, not the numbers), returned by claim number, with progress as claims finish."""
from __future__ import annotations

import json

import pytest

from coarsegrad import claims

ONLY = [1, 2, 10, 13]          # cheap claims of three models (about 3 s at the quick preset)


def _evidence(results):
    """Everything a claim reports except its timing, as comparable text."""
    return [json.dumps({k: v for k, v in r.as_dict().items() if k != "seconds"}, sort_keys=True, default=str)
            for r in results]


@pytest.mark.slow
def test_workers_change_the_time_not_the_numbers():
    seen = []
    here = claims.run_claims("quick", seed=3, only=ONLY)
    there = claims.run_claims("quick", seed=3, only=ONLY, workers=2,
                              progress=lambda r, done, total: seen.append((r.number, done, total)))
    assert [r.number for r in there] == ONLY
    assert _evidence(there) == _evidence(here), "run_claims gave other evidence on 2 processes than in one"
    assert sorted(n for n, _, _ in seen) == ONLY and [d for _, d, _ in seen] == [1, 2, 3, 4]
    assert {t for _, _, t in seen} == {len(ONLY)}
    # negative control: the comparison notices another seed
    assert _evidence(claims.run_claims("quick", seed=4, only=[10])) != _evidence(here[2:3])


def test_run_claims_rejects_bad_workers():
    with pytest.raises(ValueError, match="workers"):
        claims.run_claims("quick", only=[1], workers=0)
