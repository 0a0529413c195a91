"""The teacher and the student plumbing (coarsegrad/population/teacher.py): argument errors,
batches of weight settings, the teacher as a value."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from coarsegrad import population as P
from coarsegrad import Staircase
from strategies import seeds, teacher_students

CONVENTIONS = ("ceil", "round")


# ---------------------------------------------------------------------------- validation

def test_teacher_and_argument_errors():
    with pytest.raises(ValueError, match="staircase.bits must be at most 8.*; got 9"):
        P.Teacher(np.ones(2), np.ones((3, 2)), Staircase(9, 1.0))
    with pytest.raises(ValueError, match="staircase.bits must be at most 8.*; got 9"):
        P.random_teacher(3, 2, 2, Staircase(9, 1.0), 0)
    with pytest.raises(ValueError, match="staircase.bits must be at most 8.*; got 9"):
        P.moment_m(np.ones((3, 2)), Staircase(9, 1.0))
    with pytest.raises(ValueError, match="W_star must be a 2-D array"):
        P.Teacher(np.ones(2), np.ones(3), Staircase(2, 1.0))
    with pytest.raises(TypeError, match="staircase must be a coarsegrad.Staircase"):
        P.Teacher(np.ones(2), np.ones((3, 2)), 2)
    with pytest.raises(TypeError, match="staircase must be a coarsegrad.Staircase"):
        P.moment_q(np.ones((3, 2)), (2, 1.0))
    teacher = P.random_teacher(3, 2, 2, Staircase(2, 1.0), 0)
    with pytest.raises(ValueError, match="W has shape \\(3, 1\\) but the teacher's W_star has shape \\(3, 2\\)"):
        P.population_loss(teacher, teacher.v_star, np.ones((3, 1)))
    with pytest.raises(ValueError, match="v has shape"):
        P.population_loss(teacher, np.ones(5), teacher.W_star)
    with pytest.raises(TypeError, match="teacher must be a coarsegrad.population.Teacher"):
        P.population_loss("teacher", teacher.v_star, teacher.W_star)
    with pytest.raises(ValueError, match="method must be one of"):
        P.expected_coarse_grad(teacher, teacher.v_star, teacher.W_star, "relu", method="mc")
    with pytest.raises(ValueError, match="has no piecewise-constant description"):
        P.expected_coarse_grad(teacher, teacher.v_star, teacher.W_star, "log_tailed_relu", method="closed")
    with pytest.raises(ValueError, match="W contains 2 non-finite"):
        P.population_loss(teacher, teacher.v_star, np.where(np.eye(3, 2) > 0, np.nan, 1.0))
    assert teacher.v_star.flags.writeable is False


# ---------------------------------------------------------------------------- many settings at once

@given(case=teacher_students(conventions=CONVENTIONS), S=st.integers(1, 4), seed=seeds)
def test_batched_weight_settings_equal_one_call_each(case, S, seed):
    teacher, v, W = case
    rng = np.random.default_rng(seed)
    Ws = np.stack([W] + [W + rng.standard_normal(W.shape) for _ in range(S - 1)])
    f = P.population_loss(teacher, v, Ws)
    assert f.shape == (S,)
    for s in range(S):
        assert f[s] == pytest.approx(P.population_loss(teacher, v, Ws[s]), rel=1e-13, abs=1e-15)
    for ste in ("clipped_relu", "log_tailed_relu"):
        Eg_v, Eg_W = P.expected_coarse_grad(teacher, v, Ws, ste)
        assert Eg_W.shape == Ws.shape and Eg_v.shape == (S, teacher.p)
        for s in range(S):
            one_v, one_W = P.expected_coarse_grad(teacher, v, Ws[s], ste)
            np.testing.assert_allclose(Eg_W[s], one_W, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(Eg_v[s], one_v, rtol=1e-12, atol=1e-14)
    A, B, C = P.coarse_vectors(teacher, Ws, "relu")
    np.testing.assert_allclose(C[-1], P.coarse_vectors(teacher, Ws[-1], "relu")[2], rtol=1e-12, atol=1e-14)
    if np.all(np.linalg.norm(Ws, axis=1) > 0):
        g_v, g_W = P.population_grad(teacher, v, Ws)
        np.testing.assert_allclose(g_W[-1], P.population_grad(teacher, v, Ws[-1])[1], rtol=1e-12, atol=1e-14)


def test_batched_zero_column_is_named_with_its_setting():
    teacher = P.random_teacher(3, 2, 2, Staircase(2, 1.0), 0)
    Ws = np.stack([teacher.W_star, teacher.W_star])
    Ws[1, :, 0] = 0
    with pytest.raises(ValueError, match=r"W\[1, :, 0\] = 0"):
        P.population_grad(teacher, teacher.v_star, Ws)
    with pytest.raises(ValueError, match=r"must match \(n, K\), or \(S, n, K\)"):
        P.population_loss(teacher, teacher.v_star, np.ones((2, 3, 5)))


# ---------------------------------------------------------------------------- the teacher as a value

def test_teachers_compare_and_hash_by_value():
    stair = Staircase(2, 0.5)
    rng = np.random.default_rng(0)
    v_star, W_star = rng.standard_normal(3), rng.standard_normal((4, 2))
    t1 = P.Teacher(v_star, W_star, stair)
    t2 = P.Teacher(v_star.copy(), W_star.copy(), Staircase(2, 0.5))
    assert t1 == t2 and not (t1 != t2)
    assert hash(t1) == hash(t2)
    assert len({t1, t2}) == 1 and {t1: "x"}[t2] == "x"
    W_other = W_star.copy()
    W_other[0, 0] += 1e-12
    for other in (P.Teacher(v_star, W_other, stair),                  # one entry of W* differs
                  P.Teacher(v_star + 1, W_star, stair),                # v* differs
                  P.Teacher(v_star, W_star, Staircase(2, 0.25)),       # the staircase differs
                  P.Teacher(v_star, W_star, Staircase(2, 0.5, "round")),
                  P.Teacher(v_star, W_star[:, :1], stair),             # shapes differ
                  P.Teacher(v_star, W_star.T.copy().reshape(4, 2), stair)):
        assert t1 != other and not (t1 == other)
    assert t1 != "teacher" and t1 != (v_star, W_star, stair)
    assert t1.staircase is stair and t1.staircase.bits == 2 and t1.staircase.alpha == 0.5
