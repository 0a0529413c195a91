"""STEs: formulas and kink values, the registry, and the admissibility check M1-M4."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import coarsegrad as cg
from coarsegrad import Staircase
from coarsegrad.ste import ADMISSIBLE_STES, BUILTIN_STES, CONDITIONS, evaluate
from strategies import float_dtypes, inputs_near_thresholds, staircases

BUILTIN = ["identity", "relu", "clipped_relu", "log_tailed_relu"]


def _reference_mu_prime(name, z, L, alpha):
    """The SPEC §2 formulas, one value at a time (kinks as documented)."""
    top = L * alpha
    if name == "identity":
        return 1.0
    if name == "relu":
        return 1.0 if z > 0 else 0.0
    if name == "clipped_relu":
        return 1.0 if 0 < z <= top else 0.0
    if name == "log_tailed_relu":
        if z <= 0:
            return 0.0
        return 1.0 if z <= top else 1.0 / (z - top + 1.0)
    raise AssertionError(name)


def _reference_mu(name, z, L, alpha):
    top = L * alpha
    if name == "identity":
        return z
    if name == "relu":
        return max(z, 0.0)
    if name == "clipped_relu":
        return min(max(z, 0.0), top)
    if name == "log_tailed_relu":
        if z <= 0:
            return 0.0
        # math.log1p: log(z - top + 1) computed as log(1 + x) loses digits of x when x is small (found by
        # hypothesis 6.70: 10 ulps at alpha = 2^-5); the formula is the same, evaluated accurately
        return z if z <= top else top + math.log1p(z - top)
    raise AssertionError(name)


@pytest.mark.parametrize("name", BUILTIN)
@given(data=st.data(), stair=staircases(conventions=("ceil", "round")))
def test_builtin_formulas_including_kinks(name, data, stair):
    L, alpha = stair.L, stair.alpha
    z = data.draw(inputs_near_thresholds(stair))
    d = evaluate(name, z, stair, derivative=True)
    m = evaluate(name, z, stair)
    want_d = np.array([_reference_mu_prime(name, float(t), L, alpha) for t in z])
    want_m = np.array([_reference_mu(name, float(t), L, alpha) for t in z])
    np.testing.assert_allclose(d, want_d, rtol=1e-15, atol=0, err_msg=f"mu' of {name}, {stair}")
    np.testing.assert_allclose(m, want_m, rtol=1e-15, atol=1e-300, err_msg=f"mu of {name}, {stair}")


@pytest.mark.parametrize("name", BUILTIN)
def test_kink_values_are_the_documented_ones(name):
    stair = Staircase(2, 0.5)
    top = 1.5
    at = evaluate(name, np.array([0.0, top]), stair, derivative=True)
    expected = {"identity": [1, 1], "relu": [0, 1], "clipped_relu": [0, 1], "log_tailed_relu": [0, 1]}[name]
    np.testing.assert_array_equal(at, expected)


@pytest.mark.parametrize("name", BUILTIN)
@given(stair=staircases(), dtype=float_dtypes)
def test_mu_prime_is_derivative_of_mu_away_from_kinks(name, stair, dtype):
    """mu' is the derivative of mu: one-sided differences at points away from 0 and L*alpha."""
    top = stair.top
    z = np.array([-1.7, 0.31, 0.77, 1.9, 3.4]) * top
    z = z[(np.abs(z) > 1e-3 * top) & (np.abs(z - top) > 1e-3 * top)]
    h = 1e-7 * top
    fd = (evaluate(name, z + h, stair) - evaluate(name, z - h, stair)) / (2 * h)
    np.testing.assert_allclose(fd, evaluate(name, z, stair, derivative=True), rtol=1e-5, atol=1e-6,
                               err_msg=f"mu' vs central difference of mu, {name}")
    assert evaluate(name, z.astype(dtype), stair, derivative=True).dtype == np.dtype(dtype)


@pytest.mark.parametrize("name, violated", [
    ("identity", ("M2",)), ("relu", ()), ("clipped_relu", ()), ("log_tailed_relu", ()),
])
@given(stair=staircases(conventions=("ceil", "round")))
def test_admissibility_table(name, violated, stair):
    report = cg.check_admissible(name, stair)
    assert report.violated == violated, f"{name} at {stair}: {report}"
    assert report.admissible == (not violated)
    assert [k for k, _ in report.witnesses] == list(violated)
    assert report.ste == name and report.staircase == stair
    assert report.passed == {k: k not in violated for k in CONDITIONS}


def test_admissibility_witness_for_identity_is_a_negative_point():
    report = cg.check_admissible("identity", Staircase(2, 1.0))
    z = report.witness("M2")
    assert report.witnesses == (("M2", z),)
    assert z < 0 and evaluate("identity", np.array([z]), Staircase(2, 1.0), derivative=True)[0] != 0
    with pytest.raises(KeyError):
        report.witness("M1")                      # M1 holds: no witness
    assert report == cg.check_admissible("identity") and hash(report) == hash(cg.check_admissible("identity"))


@pytest.mark.parametrize("mu_prime, violated", [
    (lambda z, s: -np.ones_like(z), ("M1", "M2", "M3")),                          # decreasing mu
    (lambda z, s: (z > s.alpha).astype(float), ("M3", "M4")),                      # dead on (0, alpha], then rises
    (lambda z, s: np.where(z > 0, np.minimum(z, 1.0), 0.0), ("M4",)),             # rising on (0, 1)
    (lambda z, s: np.where(z > 0, 1 / (1 + np.abs(z)), 0.0), ()),                  # decaying: admissible
    (lambda z, s: 0.5 * (1 + np.tanh(z / 2)), ("M2", "M4")),                       # logistic (sigmoid-like) proxy
])
def test_admissibility_reports_each_condition(mu_prime, violated):
    report = cg.check_admissible((lambda z, s: z, mu_prime), Staircase(2, 1.0))
    assert report.violated == violated, report
    assert set(CONDITIONS) == set(report.passed)


def test_register_and_use_custom_ste_end_to_end():
    name = "test_tanh_window"
    ste = cg.register_ste(name, lambda z, s: np.tanh(np.maximum(z, 0)),
                          lambda z, s: np.where(z > 0, 1 - np.tanh(z) ** 2, 0.0),
                          kinks="mu'(0) = 0")
    try:
        assert name in cg.available_stes()
        assert cg.get_ste(name) is ste
        assert cg.check_admissible(name, Staircase(2, 1.0)).admissible
        rng = np.random.default_rng(0)
        Z, v, W = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal((5, 2))
        fwd = cg.ts_forward(Z, v, W, Staircase(2, 1.0))
        _, e = cg.ts_loss(fwd.y, np.zeros((4, 2)))
        g_v, g_W = cg.ts_coarse_grad(Z, v, fwd, e, name, Staircase(2, 1.0))
        assert g_W.shape == (5, 2) and np.isfinite(g_W).all()
        with pytest.raises(ValueError, match="already registered"):
            cg.register_ste(name, ste.mu, ste.mu_prime)
        cg.register_ste(name, ste.mu, ste.mu_prime, overwrite=True)
    finally:
        cg.unregister_ste(name)
    assert name not in cg.available_stes()


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown STE 'nope'; registered STEs are: identity, relu"):
        cg.get_ste("nope")
    with pytest.raises(TypeError, match="ste must be a registered name"):
        cg.get_ste(3)
    with pytest.raises(TypeError, match="ste must be a registered name"):
        cg.get_ste((np.tanh,))
    with pytest.raises(ValueError, match="built-in"):
        cg.register_ste("relu", np.tanh, np.tanh)
    with pytest.raises(ValueError, match="built-in"):
        cg.unregister_ste("relu")
    with pytest.raises(KeyError, match="no STE named"):
        cg.unregister_ste("never-registered")
    with pytest.raises(TypeError, match="mu_prime must be a callable"):
        cg.STE("x", np.tanh, 3)
    with pytest.raises(TypeError, match="non-empty string"):
        cg.STE("", np.tanh, np.tanh)


def test_get_ste_accepts_name_instance_and_pair():
    relu = cg.get_ste("relu")
    assert cg.get_ste(relu) is relu
    pair = cg.get_ste((relu.mu, relu.mu_prime))
    assert pair.name == "custom:_relu_mu_prime" and pair.mu_prime is relu.mu_prime
    triple = cg.get_ste(("my_relu", relu.mu, relu.mu_prime))
    assert triple.name == "my_relu" and triple.mu is relu.mu and triple.mu_prime is relu.mu_prime


def test_builtin_and_admissible_name_lists():
    assert BUILTIN_STES == tuple(BUILTIN) == cg.available_stes()[:4]
    assert ADMISSIBLE_STES == tuple(n for n in BUILTIN if cg.check_admissible(n).admissible)


def test_non_elementwise_mu_prime_is_rejected():
    with pytest.raises(ValueError, match="must be vectorized"):
        evaluate((lambda z, s: z, lambda z, s: np.sum(z)), np.ones(3), Staircase(2, 1.0), derivative=True)


def _decaying(z, s):
    return np.where(z > 0, 1 / (1 + np.abs(z)), 0.0)


@pytest.mark.parametrize("mu, mu_prime, exc, match", [
    (lambda z, s: z, lambda z, s: np.sum(z), ValueError, "mu_prime returned shape .* must be vectorized"),
    (lambda z, s: z[:1], _decaying, ValueError, "mu returned shape .* must be vectorized"),
    (lambda z, s: z, lambda z, s: np.where(z > 0, 1 / np.maximum(z, 0), 0.0), ValueError,
     r"mu_prime\(.*\) = .*inf.*; it must be finite for every finite z"),
    (lambda z, s: np.log(np.maximum(z, 0) + 1), lambda z, s: np.where(np.abs(z) < 1e5, 0.5, np.nan), ValueError,
     r"mu_prime\(.*\) = .*nan.*; it must be finite"),
    (lambda z, s: z.astype(complex), _decaying, TypeError, "mu returned dtype complex128; it must return real"),
    (lambda z, s: z.astype(str), _decaying, TypeError, "mu returned dtype <U"),
    (lambda z, b, a: z, _decaying, TypeError, r"mu\(z, staircase\) raised TypeError"),
    (lambda z, s: z, lambda z, s: z * s.bits_and_alpha, TypeError, r"mu_prime\(z, staircase\) raised AttributeError"),
])
def test_ste_is_probed_when_it_enters(mu, mu_prime, exc, match):
    """A broken mu or mu_prime is rejected where the STE is made, whichever way it is made."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for make in (lambda: cg.get_ste((mu, mu_prime)), lambda: cg.get_ste(("broken", mu, mu_prime)),
                     lambda: cg.STE("broken", mu, mu_prime), lambda: cg.register_ste("test_broken", mu, mu_prime)):
            with pytest.raises(exc, match=match):
                make()
    assert "test_broken" not in cg.available_stes()


def test_pieces_must_agree_with_mu_prime():
    relu = cg.get_ste("relu")
    cg.STE("relu_pieces", relu.mu, relu.mu_prime, pieces=lambda s: ((0.0, np.inf, 1.0),))       # agrees
    # mu'(0) = 0 for relu, but pieces (-tiny, inf] would say 1 there: (lo, hi] is open on the left
    with pytest.raises(ValueError, match=r"pieces and mu_prime disagree at z = .*0\.0.*mu_prime gives .*0\.0.*"
                                         r"pieces give .*1\.0"):
        cg.STE("relu_pieces", relu.mu, relu.mu_prime, pieces=lambda s: ((np.nextafter(0.0, -1), np.inf, 1.0),))
    with pytest.raises(ValueError, match="pieces and mu_prime disagree"):
        cg.register_ste("test_bad_pieces", relu.mu, relu.mu_prime, pieces=lambda s: ((0.0, s.top, 1.0),))
    with pytest.raises(ValueError, match="lo < hi"):
        cg.STE("relu_pieces", relu.mu, relu.mu_prime, pieces=lambda s: ((1.0, 0.0, 1.0),))
    with pytest.raises(TypeError, match="pieces must be a callable"):
        cg.STE("relu_pieces", relu.mu, relu.mu_prime, pieces=((0.0, np.inf, 1.0),))
    assert "test_bad_pieces" not in cg.available_stes()


def test_evaluate_needs_a_staircase():
    with pytest.raises(TypeError, match="staircase must be a coarsegrad.Staircase"):
        evaluate("relu", np.ones(3), 2)
    with pytest.raises(TypeError, match="staircase must be a coarsegrad.Staircase"):
        cg.check_admissible("relu", (2, 1.0))


# ---------------------------------------------------------------------------- the entry probe (issue 17)

@settings(max_examples=40)
@given(log_lo=st.floats(-299, 299), width=st.floats(np.log10(1.5), 3.0), sign=st.sampled_from([1.0, -1.0]),
       bits=st.integers(1, 16), what=st.sampled_from(["band", "bits", "pieces"]))
def test_probe_catches_stes_that_misbehave_only_in_a_band_or_at_one_bit_width(log_lo, width, sign, bits, what):
    """Negative controls for the probe: an STE whose mu' is NaN only on a band a < |z| < 1.5 a (anywhere from
    1e-299 to 1e302), or only at one bit-width, or whose pieces disagree with mu' only at one bit-width, is
    rejected where it enters. (The probe had points up to 4 top and at 1e6 top only, and bits 1-3.)"""
    lo, hi = 10.0**log_lo, 10.0 ** (log_lo + width)
    relu = cg.get_ste("relu")
    if what == "band":
        mu_prime = lambda z, s: np.where((sign * z > lo) & (sign * z < hi), np.nan, (z > 0).astype(np.float64))
        make = lambda: cg.STE("band", relu.mu, mu_prime)
    elif what == "bits":
        mu_prime = lambda z, s: np.full(z.shape, np.nan) if s.bits == bits else (z > 0).astype(np.float64)
        make = lambda: cg.STE("one_bits", relu.mu, mu_prime)
    else:
        pieces = lambda s: ((0.0, np.inf, 1.0),) if s.bits != bits else ((0.0, np.inf, 2.0),)
        make = lambda: cg.STE("pieces_one_bits", relu.mu, relu.mu_prime, pieces=pieces)
    with pytest.raises(ValueError, match=r"must be finite for every finite z|pieces and mu_prime disagree"):
        with np.errstate(invalid="ignore"):
            make()


def test_probe_accepts_growing_proxies_and_is_cheap():
    """mu may overflow far out (mu = z^2 beyond 1e154) but mu' must stay finite up to |z| = 1e300; the probe of a
    built-in STE takes a few milliseconds (20 staircases, ~10^4 points each; measured 30-70 ms on a loaded
    2-core machine)."""
    import time
    cg.STE("square", lambda z, s: np.where(z > 0, z * z, 0.0), lambda z, s: np.where(z > 0, 2 * z, 0.0))
    with pytest.raises(ValueError, match=r"mu\(.*\) = nan"):
        cg.STE("nan_mu", lambda z, s: np.where(z > 1e10, np.nan, z), lambda z, s: (z > 0).astype(np.float64))
    start = time.perf_counter()
    clipped = cg.get_ste("clipped_relu")
    cg.STE("clipped_again", clipped.mu, clipped.mu_prime, pieces=clipped.pieces)
    assert time.perf_counter() - start < 2.0
