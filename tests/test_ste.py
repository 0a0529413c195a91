"""STEs: formulas and kink values, the registry, and the admissibility check M1-M4."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import coarsegrad as cg
from coarsegrad.ste import CONDITIONS, evaluate
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
        return z if z <= top else top + np.log(z - top + 1.0)
    raise AssertionError(name)


@pytest.mark.parametrize("name", BUILTIN)
@given(data=st.data(), stair=staircases())
def test_builtin_formulas_including_kinks(name, data, stair):
    bits, alpha = stair
    L = cg.n_levels(bits)
    z = data.draw(inputs_near_thresholds(bits, alpha))
    d = evaluate(name, z, bits, alpha, derivative=True)
    m = evaluate(name, z, bits, alpha)
    want_d = np.array([_reference_mu_prime(name, float(t), L, alpha) for t in z])
    want_m = np.array([_reference_mu(name, float(t), L, alpha) for t in z])
    np.testing.assert_allclose(d, want_d, rtol=1e-15, atol=0, err_msg=f"mu' of {name}, bits={bits}, alpha={alpha}")
    np.testing.assert_allclose(m, want_m, rtol=1e-15, atol=1e-300, err_msg=f"mu of {name}, bits={bits}, alpha={alpha}")


@pytest.mark.parametrize("name", BUILTIN)
def test_kink_values_are_the_documented_ones(name):
    bits, alpha = 2, 0.5
    top = 1.5
    at = evaluate(name, np.array([0.0, top]), bits, alpha, derivative=True)
    expected = {"identity": [1, 1], "relu": [0, 1], "clipped_relu": [0, 1], "log_tailed_relu": [0, 1]}[name]
    np.testing.assert_array_equal(at, expected)


@pytest.mark.parametrize("name", BUILTIN)
@given(stair=staircases(), dtype=float_dtypes)
def test_mu_prime_is_derivative_of_mu_away_from_kinks(name, stair, dtype):
    """mu' is the derivative of mu: one-sided differences at points away from 0 and L*alpha."""
    bits, alpha = stair
    top = cg.n_levels(bits) * alpha
    z = np.array([-1.7, 0.31, 0.77, 1.9, 3.4]) * top
    z = z[(np.abs(z) > 1e-3 * top) & (np.abs(z - top) > 1e-3 * top)]
    h = 1e-7 * top
    fd = (evaluate(name, z + h, bits, alpha) - evaluate(name, z - h, bits, alpha)) / (2 * h)
    np.testing.assert_allclose(fd, evaluate(name, z, bits, alpha, derivative=True), rtol=1e-5, atol=1e-6,
                               err_msg=f"mu' vs central difference of mu, {name}")
    assert evaluate(name, z.astype(dtype), bits, alpha, derivative=True).dtype == np.dtype(dtype)


@pytest.mark.parametrize("name, violated", [
    ("identity", ("M2",)), ("relu", ()), ("clipped_relu", ()), ("log_tailed_relu", ()),
])
@given(stair=staircases())
def test_admissibility_table(name, violated, stair):
    report = cg.check_admissible(name, *stair)
    assert report.violated == violated, f"{name} at bits, alpha = {stair}: {report}"
    assert report.admissible == (not violated)
    assert set(report.witnesses) == set(violated)


def test_admissibility_witness_for_identity_is_a_negative_point():
    report = cg.check_admissible("identity", 2, 1.0)
    z = report.witnesses["M2"]
    assert z < 0 and evaluate("identity", np.array([z]), 2, 1.0, derivative=True)[0] != 0


@pytest.mark.parametrize("mu_prime, violated", [
    (lambda z, b, a: -np.ones_like(z), ("M1", "M2", "M3")),                       # decreasing mu
    (lambda z, b, a: (z > a).astype(float), ("M3", "M4")),                         # dead on (0, alpha], then rises
    (lambda z, b, a: np.where(z > 0, np.minimum(z, 1.0), 0.0), ("M4",)),          # rising on (0, 1)
    (lambda z, b, a: np.where(z > 0, 1 / (1 + z), 0.0), ()),                        # decaying: admissible
    (lambda z, b, a: 0.5 * (1 + np.tanh(z / 2)), ("M2", "M4")),                    # logistic (sigmoid-like) proxy
])
def test_admissibility_reports_each_condition(mu_prime, violated):
    report = cg.check_admissible((lambda z, b, a: z, mu_prime), 2, 1.0)
    assert report.violated == violated, report
    assert set(CONDITIONS) == set(report.passed)


def test_register_and_use_custom_ste_end_to_end():
    name = "test_tanh_window"
    ste = cg.register_ste(name, lambda z, b, a: np.tanh(np.maximum(z, 0)),
                          lambda z, b, a: np.where(z > 0, 1 - np.tanh(z) ** 2, 0.0),
                          kinks="mu'(0) = 0")
    try:
        assert name in cg.available_stes()
        assert cg.get_ste(name) is ste
        assert cg.check_admissible(name, 2, 1.0).admissible
        rng = np.random.default_rng(0)
        Z, v, W = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal((5, 2))
        fwd = cg.ts_forward(Z, v, W, 2, 1.0)
        _, e = cg.ts_loss(fwd.y, np.zeros((4, 2)))
        g_v, g_W = cg.ts_coarse_grad(Z, v, fwd, e, name, 2, 1.0)
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
    assert pair.name == "custom" and pair.mu_prime is relu.mu_prime


def test_non_elementwise_mu_prime_is_rejected():
    with pytest.raises(ValueError, match="must be vectorized"):
        evaluate((np.sum, lambda z, b, a: np.sum(z)), np.ones(3), 2, 1.0, derivative=True)
