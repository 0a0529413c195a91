"""The staircase sigma: levels, thresholds, monotonicity, kinks, the alpha derivative, bad input."""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from coarsegrad import CONVENTIONS, Staircase
from reference import sigma_loop
from strategies import alphas, float_dtypes, inputs_near_thresholds, seeds, staircases

BOTH = tuple(CONVENTIONS)        # ("ceil", "round")


def _staircase(data, convention, **kwargs):
    return data.draw(staircases(conventions=(convention,), **kwargs), label="staircase")


@pytest.mark.parametrize("convention", BOTH)
@given(data=st.data(), dtype=float_dtypes)
@example(data=None, dtype=np.float64).via("binary step at the default resolution")
def test_sigma_equals_definition_loop(convention, data, dtype):
    """sigma(z) = alpha * #{k : z > t_k}, checked element by element against a loop."""
    if data is None:
        stair = Staircase(1, 1.0, convention)
        z = np.array([-1.0, 0.0, np.nextafter(0.0, 1.0), 0.5, np.nextafter(0.5, 1.0), 1.0, 7.0], dtype=dtype)
    else:
        stair = _staircase(data, convention)
        z = data.draw(inputs_near_thresholds(stair, dtype))
    got = stair(z)
    want = sigma_loop(z, stair)
    assert got.dtype == np.dtype(dtype)
    bad = got != want
    assert not bad.any(), (f"sigma vs loop ({stair}, {np.dtype(dtype)}): "
                           f"z={z[bad][:5]!r} got={got[bad][:5]!r} want={want[bad][:5]!r}")


@pytest.mark.parametrize("convention", BOTH)
@given(data=st.data(), dtype=float_dtypes)
def test_sigma_values_are_levels_and_monotone(convention, data, dtype):
    stair = _staircase(data, convention)
    z = np.sort(data.draw(inputs_near_thresholds(stair, dtype)))
    s = stair(z)
    assert np.isin(s, stair.levels_in(dtype)).all(), "sigma takes a value outside {0, alpha, ..., L alpha}"
    assert (np.diff(s) >= 0).all(), f"sigma not non-decreasing at z={z[np.flatnonzero(np.diff(s) < 0)][:3]}"


@pytest.mark.parametrize("convention", BOTH)
@given(data=st.data(), dtype=float_dtypes)
def test_sigma_jumps_exactly_at_thresholds(convention, data, dtype):
    """At t_k: sigma(t_k) = (k-1) alpha (the lower level), sigma(next float above) = k alpha."""
    stair = _staircase(data, convention)
    t = stair.thresholds_in(dtype)
    lv = stair.levels_in(dtype)
    above = np.nextafter(t, np.dtype(dtype).type(np.inf))
    np.testing.assert_array_equal(stair(t), lv[:-1], err_msg="sigma at thresholds")
    np.testing.assert_array_equal(stair(above), lv[1:], err_msg="sigma just above thresholds")
    # Between thresholds sigma is constant: the midpoints map to the upper level.
    mid = t + np.dtype(dtype).type(stair.alpha) / 2
    np.testing.assert_array_equal(stair(mid), lv[1:], err_msg="sigma at midpoints")


@pytest.mark.parametrize("convention", BOTH)
@given(alpha=alphas, seed=seeds)
def test_one_bit_is_binary_step(convention, alpha, seed):
    t1 = 0.5 * alpha if convention == "round" else 0.0      # the one threshold, exact in float64
    z = np.random.default_rng(seed).standard_normal(100) * 3 * alpha
    z[:5] = [0.0, -0.0, 5e-324, t1, np.nextafter(t1, np.inf)]
    np.testing.assert_array_equal(Staircase(1, alpha, convention)(z), alpha * (z > t1))


@pytest.mark.parametrize("convention", BOTH)
@given(data=st.data())
def test_saturates_at_top_and_zero_below(convention, data):
    stair = _staircase(data, convention)
    big = np.array([stair.L * stair.alpha * 1.01 + 1, 1e300, np.finfo(float).max])
    np.testing.assert_array_equal(stair(big), stair.L * stair.alpha)
    np.testing.assert_array_equal(stair(-big), 0.0)


def test_small_table_by_hand():
    # bits=2, alpha=0.5: thresholds 0, 0.5, 1.0; levels 0, 0.5, 1.0, 1.5.
    z = np.array([-2.0, 0.0, 0.1, 0.5, 0.50001, 1.0, 1.2, 9.0])
    np.testing.assert_array_equal(Staircase(2, 0.5)(z), [0, 0, 0.5, 0.5, 1.0, 1.0, 1.5, 1.5])
    assert Staircase(1).L == 1 and Staircase(2).L == 3 and Staircase(4).L == 15
    np.testing.assert_array_equal(Staircase(2, 0.5).thresholds, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(Staircase(2, 0.5).levels, [0.0, 0.5, 1.0, 1.5])
    assert Staircase(2, 0.5).top == 1.5 and Staircase(2, 0.5).shift == 0.0


def test_small_table_by_hand_round():
    # bits=2, alpha=0.5, round: thresholds 0.25, 0.75, 1.25 (each belongs to the step below); levels as for ceil.
    s = Staircase(2, 0.5, "round")
    z = np.array([-2.0, 0.0, 0.25, 0.26, 0.5, 0.74, 0.75, 0.76, 1.0, 1.25, 1.26, 9.0])
    np.testing.assert_array_equal(s(z), [0, 0, 0, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.5, 1.5])
    np.testing.assert_array_equal(s.thresholds, [0.25, 0.75, 1.25])
    np.testing.assert_array_equal(s.levels, [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(s.steps, [0.5, 0.5, 0.5])
    assert s.shift == 0.5 and s.top == 1.5


def test_staircase_is_a_value_object():
    s = Staircase(3, 0.25, "round")
    assert s == Staircase(3, 0.25, "round") and hash(s) == hash(Staircase(3, 0.25, "round"))
    assert s != Staircase(3, 0.25) and s != Staircase(2, 0.25, "round")
    assert s.with_alpha(0.5) == Staircase(3, 0.5, "round")
    assert Staircase() == Staircase(2, 1.0, "ceil")
    with pytest.raises(AttributeError):
        s.alpha = 1.0


def test_awkward_resolution_is_exact_at_rounded_thresholds():
    # 3 * 0.1 rounds to 0.30000000000000004 and 0.30000000000000004 / 0.1 rounds up to 3.0000000000000004:
    # a plain ceil(z / alpha) would answer 0.4 here.
    s = Staircase(3, 0.1)
    t3 = s.thresholds[3]
    assert s(np.array([t3]))[0] == s.levels[3]


def test_shapes_and_scalars():
    s = Staircase(2, 0.5)
    assert s(0.7).shape == ()
    assert s(np.zeros((2, 3, 4))).shape == (2, 3, 4)
    assert s(np.zeros(0)).shape == (0,)
    assert Staircase(1, 1.0)(np.array([1, 2])).dtype == np.float64
    assert s.d_alpha(np.zeros((2, 3))).shape == (2, 3)
    assert s.d_alpha(np.zeros(3, np.float32)).dtype == np.float32


# ---------------------------------------------------------------------------- the derivative in alpha

@pytest.mark.parametrize("convention", BOTH)
@given(data=st.data(), seed=seeds)
def test_d_alpha_is_the_derivative_of_sigma_in_alpha(convention, data, seed):
    """d sigma / d alpha = (sigma_{alpha+h} - sigma_{alpha-h}) / 2h at z away from the thresholds."""
    stair = _staircase(data, convention)
    alpha, L = stair.alpha, stair.L
    h = 1e-6 * alpha
    z = np.random.default_rng(seed).uniform(-0.5, 1.5, 200) * stair.top
    # alpha -> alpha +- h moves t_k by (k - 1 + shift) h <= L h: stay 10 L h away from every threshold.
    z = z[np.abs(z[:, None] - stair.thresholds[None, :]).min(axis=1) > 10 * L * h]
    assert z.size > 0
    fd = (stair.with_alpha(alpha + h)(z) - Staircase(stair.bits, alpha - h, convention)(z)) / (2 * h)
    d = stair.d_alpha(z)
    # d is an integer 0..L; the difference quotient carries rounding ~ eps * L alpha / h ~ 1e-9.
    np.testing.assert_allclose(fd, d, rtol=0, atol=1e-6, err_msg=f"d_alpha vs central difference in alpha, {stair}")
    assert np.all(d == np.round(d)) and d.min() >= 0 and d.max() <= L
    np.testing.assert_array_equal(d * alpha, stair(z), err_msg="sigma = alpha * d_alpha (sigma = alpha n(z/alpha))")


@pytest.mark.parametrize("convention", BOTH)
@given(data=st.data(), dtype=float_dtypes)
def test_d_alpha_counts_the_thresholds_exceeded(convention, data, dtype):
    stair = _staircase(data, convention)
    z = data.draw(inputs_near_thresholds(stair, dtype))
    want = (z[:, None] > stair.thresholds_in(dtype)[None, :]).sum(axis=1)
    d = stair.d_alpha(z)
    assert d.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(d, want)


# ---------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("bits, exc, match", [
    (0, ValueError, "bits must be an integer in"),
    (-1, ValueError, "bits must be an integer in"),
    (17, ValueError, "bits must be an integer in"),
    (2.0, TypeError, "bits must be an integer"),
    (True, TypeError, "bits must be an integer"),
    ("2", TypeError, "bits must be an integer"),
])
def test_bad_bits(bits, exc, match):
    with pytest.raises(exc, match=match):
        Staircase(bits, 1.0)(np.zeros(3))


@pytest.mark.parametrize("alpha, exc", [(0.0, ValueError), (-1.0, ValueError), (np.nan, ValueError),
                                        (np.inf, ValueError), ("1", TypeError), (None, TypeError)])
def test_bad_alpha(alpha, exc):
    with pytest.raises(exc, match="alpha"):
        Staircase(2, alpha)(np.zeros(3))


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(bits=0), ValueError, "bits"),
    (dict(bits=17), ValueError, "bits"),
    (dict(bits=True), TypeError, "bits"),
    (dict(bits=1.5), TypeError, "bits"),
    (dict(alpha=0), ValueError, "alpha"),
    (dict(alpha=-1), ValueError, "alpha"),
    (dict(alpha=float("nan")), ValueError, "alpha"),
    (dict(alpha=float("inf")), ValueError, "alpha"),
    (dict(alpha="x"), TypeError, "alpha"),
    (dict(convention="floor"), ValueError, "convention"),
])
def test_staircase_bad_arguments_name_the_argument(kwargs, exc, name):
    with pytest.raises(exc, match=rf"^{name} must\b"):
        Staircase(**kwargs)


@pytest.mark.parametrize("alpha", [1e39, 1e-46])
def test_alpha_not_representable_in_float32_is_an_error(alpha):
    s = Staircase(2, alpha)                      # fine in float64 ...
    assert np.isfinite(s(np.zeros(3))).all()
    with pytest.raises(ValueError, match="alpha"):     # ... but not in the dtype of a float32 input
        s(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="alpha"):
        s.thresholds_in(np.float32)


@pytest.mark.parametrize("z, exc, match", [
    (np.array([0.0, np.nan]), ValueError, r"z contains 1 non-finite value.*index \(1,\)"),
    (np.array([np.inf]), ValueError, "z contains 1 non-finite"),
    ("abc", TypeError, "z must be a numeric array"),
    (np.array([1 + 1j]), TypeError, "z must be real"),
    (np.array(["a"]), TypeError, "z must be a numeric array"),
])
def test_bad_z(z, exc, match):
    with pytest.raises(exc, match=match):
        Staircase(2, 1.0)(z)


def test_staircase_rejects_an_alpha_whose_top_level_or_thresholds_are_not_representable():
    """Issue 17: Staircase(2, 1e308) was accepted with top = inf (only alpha was checked). The top level L alpha
    must be finite, and a subnormal alpha that merges the round convention's thresholds is named."""
    with pytest.raises(ValueError, match=r"alpha = 1e\+308 with bits = 2: the top level L alpha = 3 \* alpha overflows"):
        Staircase(2, 1e308)
    with pytest.raises(ValueError, match=r"top level L alpha = 65535 \* alpha overflows .* choose alpha <= 2.74"):
        Staircase(16, 1e304)
    with pytest.raises(ValueError, match=r"alpha = 5e-324 is too small .* 'round'"):
        Staircase(1, 5e-324, "round")
    assert np.isfinite(Staircase(1, 1.7e308).top) and np.isfinite(Staircase(16, 2.7e303).top)
    assert Staircase(2, 5e-324).thresholds.tolist() == [0.0, 5e-324, 1e-323]      # ceil: exact multiples


def test_thresholds_and_levels_are_new_arrays_from_a_staircase_that_keeps_its_own():
    """The staircase computes them once per dtype: what a caller gets is a copy, so writing into it changes
    nothing the staircase compares with (handing out its own array fails here); equality, hash, repr
    and pickling ignore the computed values."""
    import copy
    import pickle
    s = Staircase(2, 0.5)
    z = np.array([0.0, 0.2, 0.5, 0.7, 1.2])
    before = s(z)
    for t in (s.thresholds, s.thresholds_in(np.float32), s.levels):
        t[:] = 99.0
    assert np.array_equal(s(z), before) and np.array_equal(s.thresholds, [0.0, 0.5, 1.0])
    assert np.array_equal(s.levels_in(np.float32), np.array([0.0, 0.5, 1.0, 1.5], dtype=np.float32))
    fresh = Staircase(2, 0.5)
    assert s == fresh and hash(s) == hash(fresh) and repr(s) == repr(fresh)
    assert len(pickle.dumps(s)) == len(pickle.dumps(fresh)), "the computed values travel with a pickle"
    for back in (pickle.loads(pickle.dumps(s)), copy.copy(s), copy.deepcopy(s)):
        assert "_memo" not in vars(back) and back == s and np.array_equal(back(z), before)
    with pytest.raises(ValueError, match="read-only"):
        s._computed("thresholds", np.float64)[0] = 1.0       # its own array: not writeable either
