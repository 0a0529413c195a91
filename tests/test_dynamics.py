"""The companion's weight-evolution quantities (coarsegrad/dynamics.py; issue 18 item 1).

Independent checks: angles against rotations by a known angle, window ratios against
trajectories with known rates, the per-class decoupling the module rests on (bitwise, on
coordinate subspaces), per-class loss against the run's loss, per-class ``t*`` against the
run's coverage records, and the sign test against synthetic class-runs with and without an
effect at ``t*`` (its negative controls: shuffled ``t*``, a random event)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from coarsegrad import Staircase
from coarsegrad import dynamics as D
from coarsegrad import subspaces as S
from strategies import seeds


def _run(seed=3, m=2, N=4, steps=400, loss="hinge", rotate=True, scale=1.0, every=1, points=None):
    data = S.orthogonal_subspaces(3, m, 30, seed=seed, rotate=rotate, points=points)
    p0 = S.subspace_init(3, N, data.x.shape[1], 100 + seed, scale=scale)
    run = S.subspace_descent(data, p0, "relu", Staircase(2, 1.0, "round"), lr=1.0, steps=steps, loss=loss,
                             coverage_every=every, keep_weights=range(steps + 1))
    return data, run


# ---------------------------------------------------------------------------- angles

@given(theta=st.floats(0.0, np.pi), scale_a=st.floats(1e-3, 1e3), scale_b=st.floats(1e-3, 1e3), seed=seeds,
       m=st.integers(2, 6))
def test_unit_angle_recovers_a_rotation(theta, scale_a, scale_b, seed, m):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((m, m)))[0]
    e1, e2 = Q[:, 0], Q[:, 1]
    a = scale_a * e1
    b = scale_b * (np.cos(theta) * e1 + np.sin(theta) * e2)
    got = D.unit_angle(a, b)
    assert abs(got - theta) <= 4e-15 * max(1.0, theta) + 1e-15, (got, theta)


def test_unit_angle_small_angles_where_arccos_fails():
    """Negative control: arccos of the dot product gives 0 for an angle of 1e-9 (half the digits lost)."""
    a, b = np.array([1.0, 0.0]), np.array([np.cos(1e-9), np.sin(1e-9)])
    assert abs(D.unit_angle(a, b) - 1e-9) < 1e-22
    assert np.arccos(np.clip(a @ b, -1, 1)) == 0.0          # what the naive formula answers


def test_unit_angle_zero_row_is_nan():
    assert np.isnan(D.unit_angle(np.zeros(3), np.ones(3)))


# ---------------------------------------------------------------------------- windows

@given(split=st.integers(-5, 60), horizon=st.integers(0, 60), fraction=st.floats(0.01, 1.0))
def test_equal_windows_fit_on_both_sides(split, horizon, fraction):
    w = D.equal_windows(split, horizon, fraction)
    assert w >= 0
    if w:
        assert split - w >= 0 and split + w <= horizon
        assert w <= fraction * min(split, horizon - split) < w + 1


def test_equal_windows_rejects_bad_fraction():
    with pytest.raises(ValueError, match="fraction"):
        D.equal_windows(5, 10, 0.0)


def _synthetic(t_star, end, a_before, a_after, rate_before, rate_after, converged=True):
    """A ClassDynamics with piecewise-constant angular speed and log-distance slopes."""
    t = np.arange(end + 1)
    logd = np.where(t < t_star, -rate_before * t, -rate_before * t_star - rate_after * (t - t_star))
    speed = np.where(np.arange(end) < t_star, a_before, a_after).astype(float)
    loss = np.exp(logd)
    return D.ClassDynamics(k=0, t_star=t_star, end=end, converged=converged, horizon=end - 1 if converged else end // 2,
                           loss=loss, distance=np.exp(logd), angular_speed=speed, angular_speed_whole=speed.copy(),
                           log_norm_change=np.zeros(end), rel_loss_decrease=-np.expm1(np.diff(np.log(loss))),
                           weight_speed=speed.copy())


@given(t_star=st.integers(2, 40), extra=st.integers(3, 40), a=st.floats(0.01, 1), b=st.floats(0.01, 1),
       r1=st.floats(0.01, 0.5), r2=st.floats(0.01, 0.5))
def test_window_ratios_recover_known_rates(t_star, extra, a, b, r1, r2):
    dyn = _synthetic(t_star, t_star + extra, a, b, r1, r2)
    out = D.window_ratios(dyn, t_star)
    assert out["window"] == min(t_star, extra - 1)
    assert out["angular_speed"] == pytest.approx(b / a, rel=1e-12)
    assert out["convergence_rate"] == pytest.approx(r2 / r1, rel=1e-9)
    assert out["rel_loss_decrease"] == pytest.approx(-np.expm1(-r2) / -np.expm1(-r1), rel=1e-9)


def test_window_ratios_no_window_gives_nan():
    dyn = _synthetic(5, 20, 1.0, 1.0, 0.1, 0.1)
    out = D.window_ratios(dyn, 0)
    assert out["window"] == 0 and all(np.isnan(out[k]) for k in D.RATIO_KEYS)


# ---------------------------------------------------------------------------- from a run

def test_weight_history_names_keep_weights():
    data = S.orthogonal_subspaces(3, 2, 10, seed=0)
    run = S.subspace_descent(data, S.subspace_init(3, 4, 6, 1), "relu", Staircase(2, 1.0, "round"), lr=1.0, steps=5,
                             keep_weights=(0, 1))
    with pytest.raises(ValueError, match="keep_weights=range"):
        D.weight_history(run)
    with pytest.raises(TypeError, match="SubspaceRun"):
        D.weight_history("run")


@pytest.mark.parametrize("loss", ["hinge", "cross_entropy", "squared"])
def test_class_losses_add_up_to_the_run_loss(loss):
    """The per-class losses (computed for all steps at once) against the run's own mlp_loss records."""
    data, run = _run(seed=4, steps=200, loss=loss)
    dyn = D.class_dynamics(run, data)
    n = np.bincount(data.labels)
    for t in range(0, run.steps + 1, 7):
        total = sum(d.loss[min(t, d.end)] * n[d.k] for d in dyn) / n.sum()   # a class's loss stays at 0 after its end
        assert total == pytest.approx(run.history["loss"][t], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed", [0, 3, 5, 11])
def test_class_t_star_matches_the_run_coverage_records(seed):
    """Per class, t* is the first step the run's own coverage record (every step) shows the class covered;
    the run's t* (every class covered) is the largest of them when coverage, once reached, persists."""
    data, run = _run(seed=seed, steps=300)
    dyn = D.class_dynamics(run, data)
    for d in dyn:
        rec = run.geometry[f"covered_{d.k}"][:d.end + 1]
        first = np.flatnonzero(rec == 1)
        assert d.t_star == (int(first[0]) if first.size else None)
    persistent = all(np.all(run.geometry[f"covered_{d.k}"][d.t_star:] == 1) for d in dyn if d.t_star is not None)
    if persistent and all(d.t_star is not None for d in dyn):
        assert run.t_star == max(d.t_star for d in dyn)


def test_classes_decouple_bitwise_on_coordinate_subspaces():
    """Class 1's block evolves from class 1's samples alone: changing class 0's points leaves it
    bit-for-bit unchanged (coordinate subspaces, so foreign dot products are exact zeros)."""
    rng = np.random.default_rng(0)
    pts = [rng.standard_normal((30, 2)) for _ in range(3)]
    pts = [p / np.linalg.norm(p, axis=1, keepdims=True) for p in pts]
    other = [-pts[0][::-1]] + pts[1:]
    (d1, r1), (d2, r2) = (_run(seed=7, rotate=False, points=p, steps=60, loss="cross_entropy") for p in (pts, other))
    a, b = D.class_dynamics(r1, d1), D.class_dynamics(r2, d2)
    np.testing.assert_array_equal(a[1].angular_speed, b[1].angular_speed)
    np.testing.assert_array_equal(a[1].loss, b[1].loss)
    assert not np.array_equal(a[0].loss, b[0].loss)           # the control: class 0 itself did change


def test_converged_class_windows_stay_finite():
    """The distance to the limit is 0 at a converged class's end: no window reaches it (no infinite rate)."""
    data, run = _run(seed=2, steps=600)
    for d in D.class_dynamics(run, data):
        assert d.converged and d.distance[d.end] == 0 and d.horizon == d.end - 1
        for s in range(1, d.horizon):
            r = D.window_ratios(d, s)
            assert np.isfinite(r["convergence_rate"]) or r["window"] == 0


def test_class_dynamics_checks_its_data():
    data, run = _run(seed=1, steps=20)
    with pytest.raises(ValueError, match="not the data of this run"):
        D.class_dynamics(run, S.orthogonal_subspaces(4, 2, 5, seed=0))


# ---------------------------------------------------------------------------- the sign test

def _population(rng, effect, n_events=30, n_controls=30):
    """Class-runs whose angular speed decays like exp(-t/40) (the trend); events have their
    speed multiplied by ``effect`` from t* on."""
    out = []
    for i in range(n_events + n_controls):
        end = int(rng.integers(60, 120))
        t = np.arange(end)
        speed = np.exp(-t / 40) * np.exp(0.05 * rng.standard_normal(end))
        ts = int(rng.integers(10, end - 20)) if i < n_events else 0
        if i < n_events:
            speed = np.where(t >= ts, effect * speed, speed)
        d = _synthetic(max(ts, 1), end, 1, 1, 0.1, 0.1)
        d.t_star, d.angular_speed = ts, speed
        out.append(d)
    return out


def test_event_statistics_sees_an_effect_at_t_star_and_not_elsewhere():
    rng = np.random.default_rng(1)
    classes = _population(rng, effect=2.0)
    assert D.event_statistics(classes, np.random.default_rng(2))["z"] > 4
    events = [c for c in classes if c.t_star > 0]
    shuffled = np.roll([c.t_star for c in events], 1)
    shuffled = [min(int(s), c.horizon - 1) for s, c in zip(shuffled, events)]
    assert abs(D.event_statistics(classes, np.random.default_rng(2), splits=shuffled)["z"]) < 3
    random_event = [int(rng.integers(1, c.horizon)) for c in events]
    assert abs(D.event_statistics(classes, np.random.default_rng(2), splits=random_event)["z"]) < 3


def test_event_statistics_no_effect_no_signal():
    """Negative control: with no change at t* the test does not reject."""
    classes = _population(np.random.default_rng(3), effect=1.0)
    assert abs(D.event_statistics(classes, np.random.default_rng(4))["z"]) < 3


def test_event_statistics_without_controls_is_nan():
    classes = [c for c in _population(np.random.default_rng(5), effect=2.0) if c.t_star > 0]
    st_ = D.event_statistics(classes, np.random.default_rng(0))
    assert st_["n"] == 0 and np.isnan(st_["z"])
