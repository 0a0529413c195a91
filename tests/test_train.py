"""Training drivers: reproducibility, histories, schedules, stopping, and bad input."""
import numpy as np
import pytest

import coarsegrad as cg
from coarsegrad import Staircase
from coarsegrad import population as P
from coarsegrad.train import SGD, History, default_population_lr, mlp_train, population_descent, ts_sgd


def _xor(seed=0, N=400, margin=0.0):
    """XOR quadrants; with a margin, no point lies closer than ``margin`` to either axis."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(N, 2))
    x = np.sign(x) * (margin + (1 - margin) * np.abs(x))
    return x, (x[:, 0] * x[:, 1] > 0).astype(int)


def test_learning_rate_schedules():
    assert SGD(0.1, 10, 1).learning_rate(5) == 0.1
    assert SGD(0.1, 10, 1, schedule="cosine").learning_rate(0) == pytest.approx(0.1)
    assert SGD(0.1, 10, 1, schedule="cosine").learning_rate(5) == pytest.approx(0.05)
    sgd = SGD(0.1, 100, 1, schedule="step", decay_every=10, decay_factor=0.5)
    assert sgd.learning_rate(25) == pytest.approx(0.025)
    with pytest.raises(ValueError, match="schedule must be one of constant, cosine, step"):
        SGD(0.1, 10, 1, schedule="linear")


def test_sgd_is_a_validated_value():
    sgd = SGD(lr=0.5, epochs=5, batch_size=32, momentum=0.9)
    assert sgd == SGD(0.5, 5, 32, 0.9) and hash(sgd) == hash(SGD(0.5, 5, 32, 0.9))
    assert sgd.as_dict() == dict(lr=0.5, epochs=5, batch_size=32, momentum=0.9, schedule="constant",
                                 decay_every=10, decay_factor=0.1)
    assert SGD(**sgd.as_dict()) == sgd
    with pytest.raises(AttributeError):
        sgd.lr = 1.0
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        SGD(0.1, 1, 4.0)
    with pytest.raises(ValueError, match="decay_factor must be"):
        SGD(0.1, 1, 4, decay_factor=2.0)
    with pytest.raises(ValueError, match="decay_every must be an integer >= 1"):
        SGD(0.1, 1, 4, decay_every=0)


def test_mlp_train_is_reproducible_bit_for_bit_and_records_history():
    x, y = _xor()
    stair = Staircase(2, 0.5)
    sgd = SGD(lr=0.5, epochs=5, batch_size=32, momentum=0.9)
    p0 = cg.mlp_init(2, 16, 2, 0, staircase=stair)
    runs = [mlp_train(x, y, p0, "clipped_relu", stair, sgd, seed=3, eval_data=(x[:50], y[:50])) for _ in range(2)]
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a, b)
    hist = runs[0][1]
    assert hist.step == list(range(6)) and hist.stopped == "epochs"
    assert set(hist.values) == {"loss", "accuracy", "test_accuracy"}
    assert np.all(np.isfinite(hist["loss"]))
    for a, b in zip(p0, cg.mlp_init(2, 16, 2, 0, staircase=stair)):
        np.testing.assert_array_equal(a, b)          # the initial weights are not modified
    other = mlp_train(x, y, p0, "clipped_relu", stair, sgd, seed=4)[0]
    assert not np.array_equal(other.W, runs[0][0].W)


@pytest.mark.parametrize("ste", ["relu", "clipped_relu", "log_tailed_relu"])
def test_mlp_reaches_perfect_training_accuracy_on_xor(ste):
    x, y = _xor(1, 300, margin=0.1)
    stair = Staircase(2, 0.5)
    params, hist = mlp_train(x, y, cg.mlp_init(2, 64, 2, 2, staircase=stair), ste, stair,
                             SGD(lr=0.3, epochs=150, batch_size=30, momentum=0.9, schedule="cosine"), seed=0)
    assert hist["accuracy"][-1] == 1.0, f"{ste}: training accuracy {hist['accuracy'][-1]}"


def test_mlp_train_float_relu_network_and_frozen_second_layer():
    x, y = _xor(2, 200)
    p0 = cg.mlp_init(2, 32, 2, 0)
    params, hist = mlp_train(x, y, p0, "relu", Staircase(2, 1.0), SGD(lr=0.3, epochs=40, batch_size=20, momentum=0.9),
                             seed=0, activation=lambda h: np.maximum(h, 0))
    assert hist["accuracy"][-1] > 0.9
    frozen, _ = mlp_train(x, y, p0, "clipped_relu", Staircase(2, 1.0), SGD(lr=0.3, epochs=3, batch_size=20), seed=0,
                          freeze_second_layer=True)
    np.testing.assert_array_equal(frozen.V, p0.V)
    np.testing.assert_array_equal(frozen.c, p0.c)
    assert not np.array_equal(frozen.W, p0.W)


def test_population_descent_stops_at_tolerance_and_records_cosine():
    teacher = P.random_teacher(4, 3, 2, Staircase(2, 1.0), 0, v_star=np.array([1.0, 0.5, 0.8]))
    W0 = teacher.W_star + 0.3
    v, W, hist = population_descent(teacher, W0, "clipped_relu", lr=0.2, steps=5000, tol=1e-6,
                                    record_every=10, record_cosine=True)
    assert hist.stopped == "tolerance"
    assert hist["loss"][-1] <= 1e-6 * hist["loss"][0]
    assert np.all(hist["cosine"] > 0)
    np.testing.assert_array_equal(v, teacher.v_star)
    np.testing.assert_array_equal(W0, teacher.W_star + 0.3)     # input not modified


def test_default_population_lr():
    teacher = P.random_teacher(4, 3, 2, Staircase(2, 1.0), 0, v_star=np.array([1.0, 0.5, -0.8]))
    assert default_population_lr(teacher) == pytest.approx(1 / (1 + 0.25 + 0.64 + 0.7**2), rel=1e-15)
    scaled = P.Teacher(2 * teacher.v_star, teacher.W_star, teacher.staircase)
    assert default_population_lr(scaled) == pytest.approx(default_population_lr(teacher) / 4, rel=1e-15)


def test_population_descent_reports_divergence():
    teacher = P.random_teacher(4, 3, 2, Staircase(2, 1.0), 0)
    with pytest.raises(FloatingPointError, match="lower lr"):
        population_descent(teacher, teacher.W_star + 1, "identity", lr=1e308, steps=5)


def test_ts_sgd_is_reproducible():
    stair = Staircase(2, 1.0)
    teacher = P.random_teacher(4, 3, 2, stair, 1)
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((300, 3, 4))
    y = cg.ts_forward(Z, teacher.v_star, teacher.W_star, stair).y
    runs = [ts_sgd(Z, y, teacher.W_star + 0.5, teacher.v_star + 0.1, "relu", stair,
                   SGD(lr=0.01, epochs=3, batch_size=25, momentum=0.5), seed=9, train_v=True) for _ in range(2)]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert len(runs[0][2].step) == 4


def test_history_as_dict():
    h = History()
    h.record(0, loss=1.0)
    h.record(1, loss=0.5)
    assert h.as_dict() == {"step": [0, 1], "loss": [1.0, 0.5], "stopped": ""}


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(lr=0.0), ValueError, r"lr must be a finite number in \(0"),
    (dict(lr=-1.0), ValueError, "lr must be"),
    (dict(epochs=-1), ValueError, "epochs must be an integer >= 0"),
    (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
    (dict(momentum=1.0), ValueError, r"momentum must be a finite number in \[0.0, 1.0\)"),
    (dict(schedule="linear"), ValueError, "schedule must be one of"),
    (dict(loss="logistic"), ValueError, "loss must be"),
    (dict(seed="abc"), TypeError, "seed must be an int"),
])
def test_mlp_train_bad_options(kwargs, exc, match):
    x, y = _xor(N=20)
    sgd_options, options = dict(lr=0.1, epochs=1, batch_size=4), dict(seed=0)
    for key, value in kwargs.items():
        (sgd_options if key in SGD.__dataclass_fields__ else options)[key] = value
    with pytest.raises(exc, match=match):
        mlp_train(x, y, cg.mlp_init(2, 4, 2, 0), "relu", Staircase(2, 1.0), SGD(**sgd_options), **options)


def test_drivers_need_sgd_and_staircase_objects():
    x, y = _xor(N=20)
    p0 = cg.mlp_init(2, 4, 2, 0)
    sgd = SGD(lr=0.1, epochs=1, batch_size=4)
    with pytest.raises(TypeError, match="sgd must be a coarsegrad.train.SGD"):
        mlp_train(x, y, p0, "relu", Staircase(2, 1.0), dict(lr=0.1, epochs=1, batch_size=4), seed=0)
    with pytest.raises(TypeError, match="staircase must be a coarsegrad.Staircase"):
        mlp_train(x, y, p0, "relu", 2, sgd, seed=0)
    teacher = P.random_teacher(4, 3, 2, Staircase(2, 1.0), 1)
    Z = np.random.default_rng(0).standard_normal((10, 3, 4))
    y_star = cg.ts_forward(Z, teacher.v_star, teacher.W_star, teacher.staircase).y
    with pytest.raises(TypeError, match="sgd must be a coarsegrad.train.SGD"):
        ts_sgd(Z, y_star, teacher.W_star, teacher.v_star, "relu", teacher.staircase, 0.1, seed=0)
    with pytest.raises(TypeError, match="staircase must be a coarsegrad.Staircase"):
        ts_sgd(Z, y_star, teacher.W_star, teacher.v_star, "relu", (2, 1.0), sgd, seed=0)


def test_mlp_train_bad_data():
    x, y = _xor(N=20)
    p0 = cg.mlp_init(2, 4, 2, 0)
    stair, sgd = Staircase(2, 1.0), SGD(lr=0.1, epochs=1, batch_size=4)
    with pytest.raises(ValueError, match="labels must lie in"):
        mlp_train(x, y + 1, p0, "relu", stair, sgd, seed=0)
    with pytest.raises(ValueError, match="eval_data\\[1\\] has 3 labels"):
        mlp_train(x, y, p0, "relu", stair, sgd, seed=0, eval_data=(x[:4], y[:3]))
    with pytest.raises(FloatingPointError, match="diverged"):
        mlp_train(x * 1e300, y, p0, "identity", stair, SGD(lr=1e300, epochs=2, batch_size=4), seed=0)


# ---------------------------------------------------------------------------- sweeps on executors

def _sweep_tasks():
    return [dict(set="sectors", samples=60, data_seed=s, seed=s, bits=b, ste=ste, hidden=8, epochs=3, lr=0.1)
            for s in (0, 1) for b in (1, 2) for ste in ("relu", "clipped_relu")]


def test_run_sweep_gives_the_same_results_on_every_executor():
    from concurrent.futures import ThreadPoolExecutor
    from coarsegrad.figures import _synthetic_run
    from coarsegrad.train import run_sweep
    tasks = _sweep_tasks()
    serial = run_sweep(_synthetic_run, tasks, workers=1)
    with ThreadPoolExecutor(2) as pool:
        threaded = run_sweep(_synthetic_run, tasks, executor=pool)
    assert [r["task"] for r in serial] == tasks                       # results come back in task order
    assert serial == threaded


@pytest.mark.slow
def test_run_sweep_default_process_pool():
    from coarsegrad.figures import _synthetic_run
    from coarsegrad.train import run_sweep
    tasks = _sweep_tasks()[:4]
    assert run_sweep(_synthetic_run, tasks, workers=2) == run_sweep(_synthetic_run, tasks, workers=1)


@pytest.mark.slow
def test_run_sweep_on_dask_distributed_when_installed():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is an optional dependency; "
                                                            "pip install 'dask[distributed]' to run this test")
    from coarsegrad.figures import _synthetic_run
    from coarsegrad.train import run_sweep
    tasks = _sweep_tasks()[:4]
    with distributed.Client(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as client:
        results = run_sweep(_synthetic_run, tasks, executor=client.get_executor())
    assert results == run_sweep(_synthetic_run, tasks, workers=1)


@pytest.mark.slow
def test_float32_training_reaches_the_float64_accuracy():
    """float32 (the speed setting) and float64 (the verification setting) train to the same test
    accuracy on MNIST within noise; here they coincide to the digit on 2,000 test images."""
    from coarsegrad import data
    x, y = data.load_mnist_subset("train")
    xt, yt = data.load_mnist_subset("test")
    x, y, yt = x[:4000], y[:4000].astype(int), yt.astype(int)
    for seed in range(3):
        acc = {}
        for dtype in (np.float32, np.float64):
            stair = Staircase(2, 2 / 3)
            p0 = cg.mlp_init(784, 64, 10, seed, staircase=stair, dtype=dtype)
            params, hist = mlp_train(data.to_float(x, dtype), y, p0, "clipped_relu", stair,
                                     SGD(lr=0.05, epochs=4, batch_size=64, momentum=0.9, schedule="cosine"),
                                     seed=seed, eval_data=(data.to_float(xt, dtype), yt))
            assert params.W.dtype == dtype
            acc[dtype] = hist["test_accuracy"][-1]
        assert acc[np.float32] > 0.88
        assert abs(acc[np.float32] - acc[np.float64]) <= 0.01, acc


def test_coarse_grad_into_preallocated_buffers():
    x, y = _xor(N=40)
    p = cg.mlp_init(2, 6, 2, 0)
    stair = Staircase(2, 1.0)
    fwd = cg.mlp_forward(x, p, stair)
    _, delta = cg.mlp_loss(fwd.f, y)
    fresh = cg.mlp_coarse_grad(x, p, fwd, delta, "relu", stair)
    out = cg.MLPParams(*(np.full_like(a, np.nan) for a in p))
    got = cg.mlp_coarse_grad(x, p, fwd, delta, "relu", stair, out=out)
    assert got is out
    for a, b in zip(fresh, out):
        np.testing.assert_array_equal(a, b)
    frozen = cg.mlp_coarse_grad(x, p, fwd, delta, "relu", stair, out=out, freeze_second_layer=True)
    assert np.all(frozen.V == 0) and np.all(frozen.c == 0)


# ---------------------------------------------------------------------------- divergence: one check, one message

def test_check_iterates_flags_non_finite_and_exploding_iterates():
    from coarsegrad._checks import DIVERGENCE_BOUND, check_iterates
    ok = [np.ones(3), np.array([DIVERGENCE_BOUND, -DIVERGENCE_BOUND]), np.zeros(0), np.float32([1e15])]
    check_iterates(ok, driver="d", step=1, option="lr", value=0.5)           # negative control: nothing to flag
    for bad, what in ((np.array([1.0, np.nan]), "to inf or NaN"), (np.array([-np.inf]), "to inf or NaN"),
                      (np.array([2e150]), "the safe range: \\|w\\| = 2e\\+150"),
                      (np.float32([1e16]), "the safe range: \\|w\\| = 1e\\+16 > 1.8e\\+15")):
        with pytest.raises(FloatingPointError, match=f"^d diverged at step 7 \\(the weights overflowed {what}.*"
                                                     f"lower lr \\(now 0.5\\)$"):
            check_iterates([np.ones(2), bad], driver="d", step=7, option="lr", value=0.5)
    with pytest.raises(FloatingPointError, match="diverged in epoch 3"):
        check_iterates([np.array([np.nan])], driver="training", step=3, option="lr", value=1, unit="epoch")


def _quiet(fn):
    """Run fn with every floating-point warning turned into an error: divergence must be the one message."""
    with np.errstate(over="raise", invalid="raise", divide="ignore"):
        return fn()


@pytest.mark.parametrize("lr", [1e300, 1e200])
def test_population_descent_stops_exploding_iterates_naming_lr(lr):
    # lr = 1e200 keeps W finite (|w| ~ 1e200): before, the run went on silently; now it is divergence.
    teacher = P.random_teacher(4, 3, 2, Staircase(2, 1.0), 0)
    with pytest.raises(FloatingPointError, match="population_descent diverged at step 1 .*lower lr"):
        _quiet(lambda: population_descent(teacher, teacher.W_star + 1, "identity", lr=lr, steps=5))


def test_ts_sgd_and_mlp_train_stop_exploding_iterates_naming_lr():
    stair = Staircase(2, 1.0)
    teacher = P.random_teacher(4, 3, 2, stair, 1)
    Z = np.random.default_rng(0).standard_normal((40, 3, 4))
    y = cg.ts_forward(Z, teacher.v_star, teacher.W_star, stair).y
    with pytest.raises(FloatingPointError, match="training diverged in epoch 1 .*lower the step size lr \\(now 1e\\+200\\)"):
        _quiet(lambda: ts_sgd(Z, y, teacher.W_star + 1, teacher.v_star, "identity", stair,
                              SGD(lr=1e200, epochs=3, batch_size=8), seed=0))
    x, labels = _xor(N=40)
    for kw in ({}, dict(learn_alpha="ae")):
        with pytest.raises(FloatingPointError, match="training diverged in epoch 1 .*lower the step size lr"):
            _quiet(lambda: mlp_train(x, labels, cg.mlp_init(2, 4, 2, 0), "identity", stair,
                                     SGD(lr=1e200, epochs=2, batch_size=8), seed=0, **kw))


def test_sane_steps_do_not_trip_the_divergence_check():
    # negative control of the three tests above: the same drivers with ordinary steps run to the end
    teacher = P.random_teacher(4, 3, 2, Staircase(2, 1.0), 0)
    _, _, h = population_descent(teacher, teacher.W_star + 1, "relu", lr=default_population_lr(teacher), steps=5)
    assert h.stopped == "steps"
    x, labels = _xor(N=40)
    _, h = mlp_train(x, labels, cg.mlp_init(2, 4, 2, 0), "relu", Staircase(2, 1.0), SGD(0.1, 2, 8), seed=0)
    assert h.stopped == "epochs"
