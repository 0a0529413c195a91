"""Answer checks for the course notebooks (``docs/course/``).

Each notebook ends with exercises; a student computes an answer and calls::

    >>> from coarsegrad.course import check
    >>> check("4.1", 0.5)
    Verdict(exercise_id='4.1', correct=True, message='exercise 4.1: correct.')

A right answer returns a :class:`Verdict` (it displays as one line in a notebook); a wrong,
missing (``...``) or malformed one raises :class:`WrongAnswer` with a message that says what is
off -- the shape, the type, too large or too small and by how much -- and a hint, without giving
the expected value away.

The expected answers are not pasted numbers: each is either exact by derivation (a fraction, an
integer, a tuple of names) or computed at check time by the library from the setting stated in
the exercise, so a change in the package cannot leave a stale answer key behind. Numbers are
compared with a tolerance fitted to the question (``rtol``/``atol``): tight where the answer is a
formula, loose enough for a Monte Carlo estimate where the exercise allows one.

No printing here (library code): notebooks display the returned :class:`Verdict`.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["Exercise", "Verdict", "WrongAnswer", "EXERCISES", "check", "compare"]


class WrongAnswer(AssertionError):
    """Raised by :func:`check` for a wrong, missing or malformed answer; the message says why."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of a :func:`check` that passed.

    Attributes
    ----------
    exercise_id : str
    correct : bool
        Always True (a wrong answer raises :class:`WrongAnswer` instead).
    message : str
    """

    exercise_id: str
    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Exercise:
    """One exercise of the course: where it is, what it asks, and how an answer is judged.

    Attributes
    ----------
    exercise_id : str
        ``"<notebook>.<number>"``, e.g. ``"2.1"``.
    question : str
        The task in one sentence (the notebook states it in full).
    expected : callable
        ``expected() -> answer``: the reference answer, computed when an answer is checked
        (numbers, arrays, integers, booleans, or a collection of names).
    rtol, atol : float
        Tolerances for numbers: ``|answer - expected| <= atol + rtol |expected|`` elementwise.
    hint : str
        Shown with a wrong answer.
    accept : callable or None
        For questions with many right answers (design an STE that ...): ``accept(answer) ->
        (ok, reason)`` replaces the comparison with ``expected``.
    """

    exercise_id: str
    question: str
    expected: Callable[[], Any] | None = None
    rtol: float = 1e-9
    atol: float = 1e-12
    hint: str = ""
    accept: Callable[[Any], tuple] | None = None


def compare(answer, expected, *, rtol: float = 1e-9, atol: float = 1e-12) -> tuple[bool, str]:
    """Compare an answer with the expected one; return ``(ok, reason)``.

    Booleans and integers compare exactly; floats and arrays elementwise with
    ``|answer - expected| <= atol + rtol |expected|`` (shapes must agree; NaN or infinity is
    wrong); strings and collections of strings as sets (order and case do not matter). The
    reason never contains the expected value.

    Parameters
    ----------
    answer, expected : object
    rtol, atol : float

    Returns
    -------
    (bool, str)
    """
    if answer is Ellipsis or answer is None:
        return False, "no answer yet: replace the `...` with your answer"
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(answer, (bool, np.bool_)):
            return False, f"expected True or False, got {type(answer).__name__}"
        return (bool(answer) == bool(expected)), "the opposite is true"
    if isinstance(expected, str) or _is_names(expected):
        names = _as_names(answer)
        if names is None:
            return False, f"expected a name or a collection of names, got {type(answer).__name__}"
        want = _as_names(expected)
        missing, extra = len(want - names), len(names - want)
        if not missing and not extra:
            return True, ""
        return False, f"{missing} name(s) missing and {extra} not expected in your answer"
    if isinstance(expected, numbers.Integral):
        if isinstance(answer, (bool, np.bool_)) or not isinstance(answer, numbers.Real):
            return False, f"expected a whole number, got {type(answer).__name__}"
        if answer != int(answer):
            return False, f"expected a whole number, got {answer!r}"
        if int(answer) == int(expected):
            return True, ""
        return False, "too large" if answer > expected else "too small"
    want = np.asarray(expected, dtype=float)
    try:
        raw = np.asarray(answer)
    except (TypeError, ValueError):
        raw = np.asarray(None)
    if raw.dtype.kind not in "iuf":             # a string "0.35" or an array of objects is not a number
        return False, f"expected a number or an array of numbers, got {type(answer).__name__}"
    got = raw.astype(float)
    if got.shape != want.shape:
        return False, f"expected shape {want.shape}, got shape {got.shape}"
    if not np.all(np.isfinite(got)):
        return False, "your answer contains NaN or infinity"
    err = np.abs(got - want)
    bound = atol + rtol * np.abs(want)
    bad = err > bound
    if not np.any(bad):
        return True, ""
    if want.ndim == 0:
        rel = float(err / np.abs(want)) if want != 0 else float("inf")
        side = "too large" if got > want else "too small"
        return False, f"{side} (relative error {rel:.2g}; the tolerance is rtol={rtol:g}, atol={atol:g})"
    where = np.unravel_index(int(np.argmax(np.where(bad, err - bound, -np.inf))), want.shape)
    return False, (f"{int(np.sum(bad))} of {want.size} entries are off; the worst is at index "
                   f"{tuple(int(i) for i in where)} (tolerance rtol={rtol:g}, atol={atol:g})")


def _is_names(obj) -> bool:
    return isinstance(obj, (tuple, list, set, frozenset)) and all(isinstance(s, str) for s in obj)


def _as_names(obj):
    if isinstance(obj, str):
        return {obj.strip().lower()}
    if _is_names(obj):
        return {s.strip().lower() for s in obj}
    return None


def check(exercise_id: str, answer) -> Verdict:
    """Check an answer to a course exercise.

    Parameters
    ----------
    exercise_id : str
        As printed in the notebook, e.g. ``"3.2"`` (see :data:`EXERCISES`).
    answer : object
        Your answer: a number, an array, True/False, a name or a tuple of names -- whatever the
        exercise asks for.

    Returns
    -------
    Verdict
        When the answer is right.

    Raises
    ------
    WrongAnswer
        When it is wrong, missing or malformed, with what is off and a hint.
    KeyError
        For an unknown ``exercise_id`` (the message lists the known ones).
    """
    try:
        ex = EXERCISES[str(exercise_id)]
    except KeyError:
        raise KeyError(f"exercise_id: no exercise {exercise_id!r}; the course has "
                       f"{', '.join(EXERCISES)}") from None
    if answer is Ellipsis or answer is None:
        ok, reason = False, "no answer yet: replace the `...` with your answer"
    elif ex.accept is not None:
        ok, reason = ex.accept(answer)
    else:
        ok, reason = compare(answer, ex.expected(), rtol=ex.rtol, atol=ex.atol)
    if not ok:
        hint = f" Hint: {ex.hint}" if ex.hint else ""
        raise WrongAnswer(f"exercise {ex.exercise_id} ({ex.question}): not yet -- {reason}.{hint}")
    return Verdict(ex.exercise_id, True, f"exercise {ex.exercise_id}: correct.")


# =========================================================================================
# The answer key: each expected answer is derived exactly or computed from the library.
# =========================================================================================

def _sigma_at():
    from .quant import Staircase
    return float(Staircase(bits=3, alpha=0.25)(np.array([1.1]))[0])


def _round_thresholds():
    from .quant import Staircase
    return Staircase(bits=2, alpha=0.5, convention="round").thresholds


def _p_top():
    from scipy.stats import norm
    from .quant import Staircase
    return float(norm.sf(Staircase(bits=2, alpha=0.5).thresholds[-1]))    # P(z > t_L), z ~ N(0, 1)


def _identity_violates():
    from .ste import check_admissible
    return check_admissible("identity").violated


def _log_tail_at():
    from .quant import Staircase
    from .ste import get_ste
    s = Staircase(bits=2, alpha=0.5)
    return float(get_ste("log_tailed_relu").mu_prime(np.array([s.top + 1.0]), s)[0])


def _violates_m3_only(answer):
    from .quant import Staircase
    from .ste import check_admissible
    try:
        report = check_admissible(answer, Staircase(bits=2, alpha=1.0))
    except (TypeError, ValueError) as err:
        return False, f"check_admissible could not use your STE ({err})"
    if report.violated == ("M3",):
        return True, ""
    return False, f"your STE violates {report.violated or 'nothing'}, not M3 alone"


def _binary_m():
    from .population import moment_m
    from .quant import Staircase
    return float(moment_m(np.array([[1.0], [2.0], [-0.5]]), Staircase(bits=1, alpha=0.7))[0])


def _binary_c():
    from .population import moment_c
    from .quant import Staircase
    theta = np.pi / 3
    w = np.array([[1.0], [0.0]])
    w_star = np.array([[np.cos(theta)], [np.sin(theta)]])
    return float(moment_c(w, w_star, Staircase(bits=1, alpha=1.0))[0])


def _relu_cos_mixed_signs():
    # findings.md F1: v* of mixed signs with (sum v*)^2 < |v*|^2, the student along w* but 6x too long.
    from .estimators import cosine
    from .population import Teacher, expected_coarse_grad, population_grad
    from .quant import Staircase
    teacher = Teacher(np.array([-1.7, 1.3, 0.6]), np.array([[2.4], [0.0]]), Staircase(bits=3, alpha=0.34))
    v, W = teacher.v_star, np.array([[14.4], [0.0]])
    return float(cosine(expected_coarse_grad(teacher, v, W, "relu")[1], population_grad(teacher, v, W)[1]))


def _wendel_one():
    from .subspaces import coverage_probability
    return coverage_probability(6, 3)


def _wendel_all():
    return _wendel_one() ** 3


def _ae_at():
    from .alpha import AE
    from .quant import Staircase
    return float(AE(np.array([0.7]), Staircase(bits=2, alpha=0.5))[0])


def _jump_terms():
    from .population import alpha_jump_terms, random_teacher
    from .quant import Staircase
    teacher = random_teacher(4, 3, 2, Staircase(bits=2, alpha=1.0), seed=0)
    return float(alpha_jump_terms(teacher, teacher.v_star, 1.2 * teacher.W_star, 1.3))


def _rule_beyond_top():
    from .quant import Staircase
    return Staircase(bits=3, alpha=0.4).L


EXERCISES: dict[str, Exercise] = {ex.exercise_id: ex for ex in (
    Exercise("1.1", "sigma(1.1) for the 3-bit ceil staircase with alpha = 0.25", _sigma_at,
             hint="count the thresholds (k - 1) alpha that 1.1 exceeds, and mind the top level L alpha."),
    Exercise("1.2", "the thresholds of the 2-bit round staircase with alpha = 0.5", _round_thresholds,
             hint="round to the nearest level: the jumps sit half a step after the ceil thresholds."),
    Exercise("1.3", "P(sigma(z) = L alpha) for z ~ N(0, 1), 2-bit ceil staircase, alpha = 0.5", _p_top,
             rtol=0.0, atol=2e-3,
             hint="the top level is reached beyond the last threshold; a Monte Carlo estimate with "
                  "10^6 samples is accurate enough."),
    Exercise("2.1", "the conditions among M1-M4 that the identity STE violates", _identity_violates,
             hint="where is mu'(z) for z < 0?"),
    Exercise("2.2", "mu'(L alpha + 1) of the log-tailed ReLU, 2-bit, alpha = 0.5", _log_tail_at,
             hint="beyond L alpha the tail is 1 / (z - L alpha + 1)."),
    Exercise("2.3", "an STE (name, mu, mu_prime) that violates M3 and nothing else", None,
             accept=_violates_m3_only,
             hint="make mu' vanish on the upper part of (0, L alpha] -- vanishing at the bottom and "
                  "rising later breaks M4 too."),
    Exercise("3.1", "E[sigma(z^T w)] for bits = 1, alpha = 0.7", _binary_m,
             hint="for one bit, sigma = alpha 1{z^T w > 0}, and z^T w is symmetric about 0."),
    Exercise("3.2", "c(w, w*) = E[sigma(z^T w) sigma(z^T w*)] for bits = 1, alpha = 1, angle pi/3", _binary_c,
             hint="both units fire on the intersection of two half-spaces: (pi - theta) / (2 pi)."),
    Exercise("3.3", "cos(E[g], grad f), relu STE, v* = (-1.7, 1.3, 0.6), w* = (2.4, 0), w = (14.4, 0)",
             _relu_cos_mixed_signs,
             rtol=1e-6, atol=1e-9,
             hint="use population.expected_coarse_grad and population.population_grad, W parts, "
                  "and estimators.cosine."),
    Exercise("4.1", "Wendel: P(a class is covered), N = 6 neurons, d_k = 3", _wendel_one,
             hint="P(not covered) = 2^(1 - N) sum_{k < d_k} C(N - 1, k)."),
    Exercise("4.2", "P(all K = 3 classes covered), N = 6, d_k = 3", _wendel_all,
             hint="projections of independent Gaussian neurons on orthogonal subspaces are independent."),
    Exercise("4.3", "max change of w_kj - w_k0 under identity-STE descent", lambda: 0.0, rtol=0.0, atol=1e-9,
             hint="with mu' = 1, which part of the coarse gradient of w_kj depends on j?"),
    Exercise("5.1", "d sigma / d alpha (rule ae) at z = 0.7, 2-bit ceil, alpha = 0.5", _ae_at,
             hint="sigma(z; alpha) = alpha n(z / alpha) with n integer-valued and locally constant."),
    Exercise("5.2", "E[g_ae] - df/dalpha at the stated (teacher, W, alpha)", _jump_terms, rtol=1e-8, atol=1e-12,
             hint="the difference is the jump terms, (1 / alpha) W . grad_W f."),
    Exercise("5.3", "d sigma / d alpha beyond the top, 3-bit, alpha = 0.4, any rule", _rule_beyond_top,
             hint="beyond L alpha, sigma = L alpha."),
)}
