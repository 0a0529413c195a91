"""Argument checks shared by the public functions.

Every public function validates what it is given and raises a ``ValueError`` or
``TypeError`` whose message names the argument, says what was wrong and how to
fix it. Internal helpers (leading underscore) trust their callers.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__: list[str] = []

#: Largest bit-width accepted: ``L = 2**bits - 1`` thresholds are held in memory.
MAX_BITS = 16


def check_bits(bits, *, name: str = "bits", max_bits: int = MAX_BITS) -> int:
    """Return ``bits`` as an int after checking ``1 <= bits <= max_bits``."""
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer bit-width such as 1, 2 or 4; got {bits!r} "
            f"of type {type(bits).__name__}"
        )
    bits = int(bits)
    if not 1 <= bits <= max_bits:
        raise ValueError(
            f"{name} must be an integer in [1, {max_bits}] (the activation has 2**{name} - 1 "
            f"non-zero levels); got {bits}"
        )
    return bits


def check_alpha(alpha, *, name: str = "alpha") -> float:
    """Return ``alpha`` as a float after checking it is finite and positive."""
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
        raise TypeError(
            f"{name} must be a positive real number (the resolution of the staircase); "
            f"got {alpha!r} of type {type(alpha).__name__}"
        )
    alpha = float(alpha)
    if not np.isfinite(alpha) or alpha <= 0.0:
        raise ValueError(f"{name} must be finite and > 0 (the step height of the staircase); got {alpha}")
    return alpha


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int after checking ``value >= minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def check_real(value, name: str, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """Return ``value`` as a finite float in the given (closed unless stated) range."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} of type {type(value).__name__}")
    value = float(value)
    bad = not np.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        span = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
        raise ValueError(f"{name} must be a finite number in {span}; got {value}")
    return value


def as_float_array(x, name: str, *, ndim: int | tuple[int, ...] | None = None,
                   shape_doc: str = "", dtype=None, allow_empty: bool = False) -> np.ndarray:
    """Convert ``x`` to a floating array and check its rank, size and finiteness.

    Floating inputs keep their precision (float32 stays float32, float16 is raised
    to float32); integer and boolean inputs become float64. ``dtype`` forces one.
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array{_doc(shape_doc)}; got a {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be a numeric array{_doc(shape_doc)}; could not convert it: {exc}") from None
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real; got a complex array. Take .real if the imaginary part is zero")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array{_doc(shape_doc)}; got dtype {arr.dtype}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype.kind == "f":
        if arr.dtype.itemsize < 4:
            arr = arr.astype(np.float32)
    else:
        arr = arr.astype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be a {want} array{_doc(shape_doc)}; got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one element")
    check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` naming the first non-finite entry of ``arr``."""
    finite = np.isfinite(arr)
    if not finite.all():
        where = np.argwhere(~finite)[0]
        index = tuple(int(i) for i in where)
        value = arr[index] if arr.ndim else arr[()]
        count = int((~finite).sum())
        raise ValueError(
            f"{name} contains {count} non-finite value(s) (NaN or inf), the first {value!r} at index "
            f"{index if arr.ndim else '()'}; remove or impute them before calling"
        )


def check_dim(arr: np.ndarray, axis: int, expected: int, name: str, what: str) -> None:
    """Raise ``ValueError`` when ``arr.shape[axis] != expected``."""
    if arr.shape[axis] != expected:
        raise ValueError(
            f"{name} has shape {arr.shape}, but its axis {axis} must have length {expected} ({what})"
        )


def check_labels(labels, name: str, *, n_classes: int, n_samples: int) -> np.ndarray:
    """Return integer class labels in ``[0, n_classes)`` of length ``n_samples``."""
    arr = np.asarray(labels)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise TypeError(f"{name} must hold integer class labels 0..{n_classes - 1}; got non-integer values")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels 0..{n_classes - 1}; got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, one per sample; got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} labels but the batch has {n_samples} samples")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        bad = arr[(arr < 0) | (arr >= n_classes)][0]
        raise ValueError(
            f"{name} must lie in [0, {n_classes - 1}] for {n_classes} classes; found label {int(bad)}"
        )
    return arr.astype(np.intp, copy=False)


#: Largest magnitude a float64 training iterate may reach before a driver calls the run diverged
#: (float32: ``1.8e15``; in general ``1e-4 sqrt(max float)``). Beyond it the square of one entry (in a
#: norm, a dot product, a loss) is within a factor 1e8 of overflowing, so the run's numbers stop
#: meaning anything long before they turn into inf.
DIVERGENCE_BOUND = 1e150


def _divergence_bound(dtype) -> float:
    dtype = np.dtype(dtype)
    if dtype == np.float64 or dtype.kind != "f":
        return DIVERGENCE_BOUND
    return 1e-4 * float(np.sqrt(np.finfo(dtype).max))


def check_iterates(arrays, *, driver: str, step: int, option: str, value, unit: str = "step") -> None:
    """Raise one ``FloatingPointError`` naming the step-size option when an iterate is non-finite or
    exploding (some entry beyond :data:`DIVERGENCE_BOUND` in magnitude, or its float32 analogue).

    Shared by every training driver so that divergence reads the same everywhere:
    ``"<driver> diverged at step <t> (the weights overflowed ...); lower <option> (now <value>)"``
    (``in epoch <t>`` with ``unit="epoch"``).
    """
    for a in arrays:
        a = np.asarray(a)
        if not a.size:
            continue
        bound = _divergence_bound(a.dtype)
        with np.errstate(invalid="ignore"):
            big = float(np.max(np.abs(a)))
        if not big <= bound:                                # NaN compares False: caught here too
            what = ("to inf or NaN" if not np.isfinite(big)
                    else f"the safe range: |w| = {big:.3g} > {bound:.2g}, where squares overflow")
            where = f"in epoch {step}" if unit == "epoch" else f"at {unit} {step}"
            raise FloatingPointError(f"{driver} diverged {where} (the weights overflowed {what}); "
                                     f"lower {option} (now {value})")


def make_rng(seed, name: str = "seed") -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from an int seed, a SeedSequence or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, a numpy SeedSequence or a numpy Generator; got a bool")
    if isinstance(seed, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(seed, numbers.Integral) and seed < 0:
            raise ValueError(f"{name} must be a non-negative integer; got {seed}")
        return np.random.default_rng(seed)
    raise TypeError(
        f"{name} must be an int, a numpy SeedSequence or a numpy Generator (every random thing in "
        f"coarsegrad is seeded); got {seed!r}"
    )


def _doc(shape_doc: str) -> str:
    return f" of shape {shape_doc}" if shape_doc else ""


class UsageError(Exception):
    """Bad input to a command, found by its validation: one line naming the option, exit 2."""


def one_line(exc: BaseException) -> str:
    """``exc`` as one line of text (float's ``OverflowError(34, ...)`` named as an overflow)."""
    args = getattr(exc, "args", ())
    if isinstance(exc, OverflowError) and len(args) == 2 and isinstance(args[0], int):
        return f"numerical overflow ({args[1]})"           # float's OverflowError(34, 'Numerical result ...')
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
