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


@pytest.mark.slow
def test_a_split_claim_gives_the_same_evidence_on_the_pool(monkeypatch):
    """Claim 7 runs in this process and sends its trainings to the pool (claims.SPLIT): the same
    evidence as with the builtin map, and the pool really ran them (a map that drops a training fails)."""
    assert 7 in claims.SPLIT
    monkeypatch.setitem(claims.PRESETS, "small", dict(gd_inits=2, gd_steps=60, gd_bits=(1, 2), sgd_samples=400,
                                                      sgd_epochs=1))
    here = claims.run_claims("small", seed=5, only=[7])
    there = claims.run_claims("small", seed=5, only=[7], workers=2)
    assert _evidence(there) == _evidence(here), "claim 7 gave other evidence with its trainings on the pool"
    assert len(here[0].details["runs"]) == 3 * 2 + 1 * 2   # per bits: 3 STEs at init 0, clipped ReLU at init 1
    # negative control: a map that loses the last population run changes the evidence
    dropped = claims.claim_7("small", 5, map_fn=lambda fn, tasks: [fn(t) for t in list(tasks) if t.get("bits") != 2
                                                                   or t.get("kind") != "population"])
    assert _evidence([dropped]) != _evidence(here)
