"""Admissibility for the round convention (coarsegrad/ste.py): M1-M4 are restated for a general
staircase with M3 on (0, L alpha), which holds every positive threshold of both conventions, so
check_admissible must give the same verdict for ceil and round."""
import numpy as np
import pytest

import coarsegrad as cg
from coarsegrad import Staircase
from coarsegrad.ste import check_admissible

USER_STES = {
    # violates M3 for L > 1: no signal between alpha and L alpha
    "short_window": (lambda z, s: np.clip(z, 0, s.alpha), lambda z, s: ((z > 0) & (z <= s.alpha)).astype(z.dtype)),
    # violates M4: mu' rises on (0, inf)
    "rising": (lambda z, s: np.where(z > 0, z * z, 0.0), lambda z, s: np.where(z > 0, 2 * z, 0.0)),
    # violates M1 and M4
    "negative_tail": (lambda z, s: np.where(z > 0, z - z * z, 0.0), lambda z, s: np.where(z > 0, 1 - 2 * z, 0.0)),
}


@pytest.mark.parametrize("name", list(cg.ste.BUILTIN_STES) + list(USER_STES))
@pytest.mark.parametrize("bits, alpha", [(1, 1.0), (2, 0.3), (3, 0.7), (4, 2.0)])
def test_round_staircases_get_the_same_verdict(name, bits, alpha):
    ste = cg.get_ste(name) if name in cg.ste.BUILTIN_STES else cg.STE(name, *USER_STES[name])
    ceil = check_admissible(ste, Staircase(bits, alpha, "ceil"))
    rnd = check_admissible(ste, Staircase(bits, alpha, "round"))
    assert ceil.violated == rnd.violated, f"{name}, bits={bits}, alpha={alpha}: ceil {ceil.violated} vs round {rnd.violated}"
    if name in cg.ste.ADMISSIBLE_STES:
        assert rnd.admissible, f"{name} must be admissible for round too; violated {rnd.violated}"


def test_round_verdicts_detect_a_violation():
    """Negative control: the short window violates M3 for round staircases with L > 1 (and not for L = 1)."""
    ste = cg.STE("short_window", *USER_STES["short_window"])
    assert check_admissible(ste, Staircase(2, 0.5, "round")).violated == ("M3",)
    assert check_admissible(ste, Staircase(1, 0.5, "round")).admissible
