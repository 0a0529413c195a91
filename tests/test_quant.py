"""The staircase sigma: levels, thresholds, monotonicity, kinks, bad input."""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from coarsegrad import levels, n_levels, sigma, thresholds
from reference import sigma_loop
from strategies import alphas, float_dtypes, inputs_near_thresholds, seeds, staircases


@given(data=st.data(), stair=staircases(), dtype=float_dtypes)
@example(data=None, stair=(1, 1.0), dtype=np.float64).via("binary step at the default resolution")
def test_sigma_equals_definition_loop(data, stair, dtype):
    """sigma(z) = alpha * #{k : z > k*alpha}, checked element by element against a loop."""
    bits, alpha = stair
    if data is None:
        z = np.array([-1.0, 0.0, np.nextafter(0.0, 1.0), 0.5, 1.0, 7.0], dtype=dtype)
    else:
        z = data.draw(inputs_near_thresholds(bits, alpha, dtype))
    got = sigma(z, bits, alpha)
    want = sigma_loop(z, bits, alpha)
    assert got.dtype == np.dtype(dtype)
    bad = got != want
    assert not bad.any(), (f"sigma vs loop (bits={bits}, alpha={alpha!r}, {np.dtype(dtype)}): "
                           f"z={z[bad][:5]!r} got={got[bad][:5]!r} want={want[bad][:5]!r}")


@given(data=st.data(), stair=staircases(), dtype=float_dtypes)
def test_sigma_values_are_levels_and_monotone(data, stair, dtype):
    bits, alpha = stair
    z = np.sort(data.draw(inputs_near_thresholds(bits, alpha, dtype)))
    s = sigma(z, bits, alpha)
    assert np.isin(s, levels(bits, alpha, dtype)).all(), "sigma takes a value outside {0, alpha, ..., L alpha}"
    assert (np.diff(s) >= 0).all(), f"sigma not non-decreasing at z={z[np.flatnonzero(np.diff(s) < 0)][:3]}"


@given(stair=staircases(), dtype=float_dtypes)
def test_sigma_jumps_exactly_at_thresholds(stair, dtype):
    """At t_k = k*alpha: sigma(t_k) = k alpha (the lower level), sigma(next float above) = (k+1) alpha."""
    bits, alpha = stair
    t = thresholds(bits, alpha, dtype)
    lv = levels(bits, alpha, dtype)
    above = np.nextafter(t, np.dtype(dtype).type(np.inf))
    np.testing.assert_array_equal(sigma(t, bits, alpha), lv[:-1], err_msg="sigma at thresholds")
    np.testing.assert_array_equal(sigma(above, bits, alpha), lv[1:], err_msg="sigma just above thresholds")
    # Between thresholds sigma is constant: the midpoints map to the upper level.
    mid = t + np.dtype(dtype).type(alpha) / 2
    np.testing.assert_array_equal(sigma(mid, bits, alpha), lv[1:], err_msg="sigma at midpoints")


@given(alpha=alphas, seed=seeds)
def test_one_bit_is_binary_step(alpha, seed):
    z = np.random.default_rng(seed).standard_normal(100) * 3
    z[:3] = [0.0, -0.0, 5e-324]
    np.testing.assert_array_equal(sigma(z, 1, alpha), alpha * (z > 0))


@given(stair=staircases())
def test_saturates_at_top_and_zero_below(stair):
    bits, alpha = stair
    L = n_levels(bits)
    big = np.array([L * alpha * 1.01 + 1, 1e300, np.finfo(float).max])
    np.testing.assert_array_equal(sigma(big, bits, alpha), L * alpha)
    np.testing.assert_array_equal(sigma(-big, bits, alpha), 0.0)


def test_small_table_by_hand():
    # bits=2, alpha=0.5: thresholds 0, 0.5, 1.0; levels 0, 0.5, 1.0, 1.5.
    z = np.array([-2.0, 0.0, 0.1, 0.5, 0.50001, 1.0, 1.2, 9.0])
    np.testing.assert_array_equal(sigma(z, 2, 0.5), [0, 0, 0.5, 0.5, 1.0, 1.0, 1.5, 1.5])
    assert n_levels(1) == 1 and n_levels(2) == 3 and n_levels(4) == 15
    np.testing.assert_array_equal(thresholds(2, 0.5), [0.0, 0.5, 1.0])


def test_awkward_resolution_is_exact_at_rounded_thresholds():
    # 3 * 0.1 rounds to 0.30000000000000004 and 0.30000000000000004 / 0.1 rounds up to 3.0000000000000004:
    # a plain ceil(z / alpha) would answer 0.4 here.
    t3 = thresholds(3, 0.1)[3]
    assert sigma(np.array([t3]), 3, 0.1)[0] == levels(3, 0.1)[3]


def test_shapes_and_scalars():
    assert sigma(0.7, 2, 0.5).shape == ()
    assert sigma(np.zeros((2, 3, 4)), 2, 0.5).shape == (2, 3, 4)
    assert sigma(np.zeros(0), 2, 0.5).shape == (0,)
    assert sigma(np.array([1, 2]), 1, 1.0).dtype == np.float64


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
        sigma(np.zeros(3), bits, 1.0)


@pytest.mark.parametrize("alpha, exc", [(0.0, ValueError), (-1.0, ValueError), (np.nan, ValueError),
                                        (np.inf, ValueError), ("1", TypeError), (None, TypeError)])
def test_bad_alpha(alpha, exc):
    with pytest.raises(exc, match="alpha"):
        sigma(np.zeros(3), 2, alpha)


@pytest.mark.parametrize("z, exc, match", [
    (np.array([0.0, np.nan]), ValueError, r"z contains 1 non-finite value.*index \(1,\)"),
    (np.array([np.inf]), ValueError, "z contains 1 non-finite"),
    ("abc", TypeError, "z must be a numeric array"),
    (np.array([1 + 1j]), TypeError, "z must be real"),
    (np.array(["a"]), TypeError, "z must be a numeric array"),
])
def test_bad_z(z, exc, match):
    with pytest.raises(exc, match=match):
        sigma(z, 2, 1.0)
