"""The claims as tables: the text table ``coarsegrad verify`` prints and the Markdown one of the README.

Pure formatting of :class:`~coarsegrad.claims.ClaimResult` lists into strings (nothing is printed here).
"""
from __future__ import annotations

import numpy as np

__all__ = ["format_claims", "format_claims_markdown", "ROUNDING_FLOOR", "TABLE_LEGEND"]


def _fmt(x) -> str:
    if x is None:
        return ""
    if isinstance(x, (int, np.integer)) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e6):
        return str(int(x))
    return f"{x:.4g}"


#: Width of the wrapped "check" column of the text table.
CHECK_WIDTH = 58

#: Printed under the text table: what its columns mean.
TABLE_LEGEND = ("required: the relation the measured figure must satisfy to pass; (report) rows are shown, "
                "not judged; (skipped) rows are not measured at this preset (the check says where they are)")


def _measured(check) -> str:
    """The measured figure as printed; blank on a skipped row (its value is a NaN placeholder)."""
    return "" if check.relation == "skipped" else _fmt(check.value)


def _required(check) -> str:
    return "" if check.relation in ("report", "skipped") else f"{check.relation} {_fmt(check.threshold)}"


def format_claims(results) -> str:
    """The claims as a plain-text table: check, measured figure, required relation, result.

    The check text is wrapped to :data:`CHECK_WIDTH` and the other columns are as wide as their
    widest entry, so no entry runs into the next column.
    """
    import textwrap
    rows = [(check.quantity, _measured(check), _required(check), check.verdict)   # verdict: "FAIL (non-finite)"
            for res in results for check in res.checks]
    w_meas = max([len("measured")] + [len(r[1]) for r in rows])
    w_req = max([len("required")] + [len(r[2]) for r in rows])
    head = f"{'claim':<6}{'check':<{CHECK_WIDTH + 2}}  {'measured':>{w_meas}}  {'required':<{w_req}}  result"
    width = len(head)
    lines = [head, "-" * width]
    for res in results:
        title = textwrap.wrap(f"{res.number:<6}{res.title}  [{res.seconds:.1f} s]", width,
                              subsequent_indent=" " * 6)
        lines += title
        lines += textwrap.wrap(f"setting: {res.setting}", width, initial_indent=" " * 8, subsequent_indent=" " * 10)
        for check in res.checks:
            quantity, measured, required, verdict = (check.quantity, _measured(check), _required(check),
                                                     check.verdict)
            parts = textwrap.wrap(quantity, CHECK_WIDTH) or [""]
            lines.append(f"{'':<8}{parts[0]:<{CHECK_WIDTH}}  {measured:>{w_meas}}  {required:<{w_req}}  {verdict}")
            lines += [f"{'':<10}{part}" for part in parts[1:]]
    failed = [r.number for r in results if not r.passed]
    skipped = [r.number for r in results if getattr(r, "skipped", False)]
    lines.append("-" * width)
    lines.append(f"{len(results) - len(failed) - len(skipped)} of {len(results) - len(skipped)} claims pass"
                 + (f"; failed: {', '.join(map(str, failed))}" if failed else "")
                 + (f"; skipped at this preset: {', '.join(map(str, skipped))}" if skipped else ""))
    lines += textwrap.wrap(TABLE_LEGEND, width)
    return "\n".join(lines)


#: Measured values of smaller magnitude print as a bound (``< 1e-13``) in the Markdown table, the
#: README's: at that size a value is rounding (about 450 ulps of a unit-scale quantity), whose
#: digits change with the BLAS kernel and thread count (claim 13's residual: 2.297e-16 with
#: OpenBLAS's Haswell kernel, 3.079e-16 with SkylakeX). The verdict uses the value itself; the text
#: table and ``--json`` keep it. docs/testing.md, "Tolerance policy".
ROUNDING_FLOOR = 1e-13


def _measured_markdown(check) -> str:
    """:func:`_measured`, or a bound for a value at rounding level (:data:`ROUNDING_FLOOR`)."""
    x = check.value
    if check.relation != "skipped" and isinstance(x, (float, np.floating)) and np.isfinite(x) \
            and 0 < abs(x) < ROUNDING_FLOOR:
        return f"< {ROUNDING_FLOOR:.0e}" if x > 0 else f"> -{ROUNDING_FLOOR:.0e}"
    return _measured(check)


def format_claims_markdown(results) -> str:
    """The claims as a Markdown table (one row per check), without timings."""
    lines = ["| claim | check | measured | threshold | result |", "| --- | --- | --- | --- | --- |"]
    for res in results:
        for i, check in enumerate(res.checks):
            verdict = f"**{check.verdict}**" if check.passed is False else check.verdict
            bound = _required(check)
            title = f"{res.number}. {res.title}" if i == 0 else ""
            cells = [title, check.quantity, _measured_markdown(check), bound, verdict]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
