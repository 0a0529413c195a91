"""``loss_and_expected_coarse_grad``: the loss and ``E g`` of one descent step from one computation of the
moments must be the very numbers the two separate functions give (bit for bit), for every STE,
convention, bit-width and batch shape; a wrong STE or a shifted point must not match."""
from __future__ import annotations

import numpy as np
import pytest

from coarsegrad.population import (expected_coarse_grad, loss_and_expected_coarse_grad, population_loss,
                                   random_teacher)
from coarsegrad.quant import Staircase
from coarsegrad.ste import BUILTIN_STES


def _setting(seed, bits, convention, batched):
    rng = np.random.default_rng(seed)
    teacher = random_teacher(4, 3, 2, Staircase(bits, 0.7, convention), rng)
    shape = (3, 4, 2) if batched else (4, 2)
    return teacher, teacher.v_star + 0.2 * rng.standard_normal(3), rng.standard_normal(shape)


@pytest.mark.parametrize("ste", BUILTIN_STES)
@pytest.mark.parametrize("bits, convention", [(1, "ceil"), (2, "round"), (4, "ceil")])
@pytest.mark.parametrize("batched", [False, True])
def test_fused_step_is_the_two_functions_bit_for_bit(ste, bits, convention, batched):
    teacher, v, W = _setting(bits + 7 * batched, bits, convention, batched)
    f, Eg_v, Eg_W = loss_and_expected_coarse_grad(teacher, v, W, ste)
    want_v, want_W = expected_coarse_grad(teacher, v, W, ste)
    np.testing.assert_array_equal(f, population_loss(teacher, v, W), err_msg=f"f, {ste}, {bits}-bit {convention}")
    np.testing.assert_array_equal(Eg_v, want_v, err_msg=f"E g_v, {ste}, {bits}-bit {convention}")
    np.testing.assert_array_equal(Eg_W, want_W, err_msg=f"E g_W, {ste}, {bits}-bit {convention}")
    assert isinstance(f, np.ndarray) if batched else isinstance(f, float)


def test_fused_step_negative_controls():
    """The comparison above can fail: another STE or a moved point gives other numbers."""
    teacher, v, W = _setting(0, 2, "ceil", False)
    f, _, Eg_W = loss_and_expected_coarse_grad(teacher, v, W, "relu")
    assert not np.array_equal(Eg_W, expected_coarse_grad(teacher, v, W, "clipped_relu")[1])
    assert f != population_loss(teacher, v, W * (1 + 1e-9))


def test_teacher_moments_passed_in_change_nothing():
    """population_descent passes the teacher's (m*, q*) computed once: the step is the same, bit for bit."""
    from coarsegrad.population.moments import teacher_moments
    teacher, v, W = _setting(5, 3, "round", False)
    np.testing.assert_array_equal(
        np.concatenate([np.ravel(x) for x in loss_and_expected_coarse_grad(teacher, v, W, "relu",
                                                                            star=teacher_moments(teacher))]),
        np.concatenate([np.ravel(x) for x in loss_and_expected_coarse_grad(teacher, v, W, "relu")]))
    teacher, v, W = _setting(5, 3, "round", True)
    with pytest.raises(ValueError, match="star"):
        loss_and_expected_coarse_grad(teacher, v, W, "relu", star=teacher_moments(teacher))
