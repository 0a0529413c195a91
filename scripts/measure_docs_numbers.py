"""Measure the timings the README quotes and write them to docs/data/timings.json.

The README tells a newcomer how long things take: the test suite, ``coarsegrad verify --quick``
and ``--full``, and training on the shipped MNIST subset per epoch. Those numbers come from here,
never from memory: this script times each command on this machine, writes the seconds with the
machine's description (cores, CPU, load, versions) to ``docs/data/timings.json``, and rewrites the
README's phrases ("about 30 s on 2 cores") from that file. ``tests/test_measure_docs_numbers.py``
fails when the README and the file disagree.

Usage (from a checkout; on an otherwise idle machine -- load on other cores inflates every number)::

    python scripts/measure_docs_numbers.py                # everything (the suite: several minutes)
    python scripts/measure_docs_numbers.py --skip-suite   # verify --quick, --full, training: < 3 min on 2 cores
    python scripts/measure_docs_numbers.py --only train_epoch --no-readme --json /tmp/t.json

A measurement that is skipped keeps its previous entry (with the date and machine it was made on).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ROOT / "docs" / "data" / "timings.json"
README = ROOT / "README.md"

#: Training epochs timed for the per-epoch figure (the mean over them is reported).
TRAIN_EPOCHS = 3

#: What is measured: key -> (command, what it is). ``{python}`` is this interpreter.
MEASUREMENTS = {
    "suite": ("{python} -m pytest -n auto -q -p no:cacheprovider", "the whole test suite, slow cases included"),
    "verify_quick": ("{python} -m coarsegrad verify --quick", "coarsegrad verify --quick"),
    "verify_full": ("{python} -m coarsegrad verify --full", "coarsegrad verify --full"),
    "train_epoch": (f"{{python}} -m coarsegrad train --data mnist-subset --bits 2 --ste clipped_relu "
                    f"--epochs {TRAIN_EPOCHS}", "one epoch of training on the shipped MNIST subset (784-256-10, "
                                                "2-bit, clipped ReLU STE)"),
}

#: Where each number stands in the README: a pattern whose group 1 is the phrase ("about 30 s") and
#: group 2 (if any) the core count. Anchored on the command or sentence it belongs to.
README_PATTERNS = {
    "suite": r"the whole test suite, slow cases included: (about [^\n]+?) on (\d+) cores",
    "verify_quick": r"coarsegrad verify --quick +#[^\n]*?, (about [^\n]+?) on (\d+) cores",
    "verify_full": r"coarsegrad verify --full [^\n]*?\((about [^)\n]+?)\)",
    "train_epoch": r"coarsegrad train --data mnist-subset --bits 2 --ste clipped_relu +# (about [^\n]+?) per epoch",
}


def about(seconds: float) -> str:
    """A duration as the README says it: one significant digit below 1 s, whole seconds below 10 s,
    5-second steps below 90 s, half minutes beyond (``0.11 -> "about 0.1 s"``, ``259 -> "about
    4.5 minutes"``)."""
    if not seconds > 0:
        raise ValueError(f"a duration must be positive; got {seconds}")
    if seconds < 1:
        return f"about {float(f'{seconds:.1g}'):g} s"
    if seconds < 10:
        return f"about {round(seconds)} s"
    if seconds < 90:
        return f"about {max(10, 5 * round(seconds / 5))} s"
    minutes = round(seconds / 30) / 2
    return f"about {minutes:g} minutes"


def phrases(timings: dict) -> dict:
    """key -> (phrase, cores) as the README must state them, from the timings file's content."""
    out = {}
    for key, entry in timings["measurements"].items():
        seconds = entry["seconds"] / (entry.get("epochs") or 1)
        out[key] = (about(seconds), entry.get("machine", {}).get("cores"))
    return out


def readme_mismatches(text: str, timings: dict) -> list:
    """Where the README text disagrees with the timings (empty when it agrees)."""
    problems = []
    for key, (phrase, cores) in phrases(timings).items():
        match = re.search(README_PATTERNS[key], text)
        if match is None:
            problems.append(f"{key}: the README no longer has the sentence /{README_PATTERNS[key]}/")
            continue
        if match.group(1) != phrase:
            problems.append(f"{key}: the README says {match.group(1)!r}, the measurement {phrase!r}")
        if match.re.groups >= 2 and cores is not None and int(match.group(2)) != cores:
            problems.append(f"{key}: the README says {match.group(2)} cores, the measurement ran on {cores}")
    return problems


def update_readme(text: str, timings: dict) -> str:
    """``text`` with each phrase (and core count) replaced by the measured one."""
    for key, (phrase, cores) in phrases(timings).items():
        def replace(match, phrase=phrase, cores=cores):
            whole, start = match.group(0), match.start(0)
            spans = [(match.start(1), match.end(1), phrase)]
            if match.re.groups >= 2 and cores is not None:
                spans.append((match.start(2), match.end(2), str(cores)))
            for lo, hi, new in sorted(spans, reverse=True):
                whole = whole[:lo - start] + new + whole[hi - start:]
            return whole
        text, n = re.subn(README_PATTERNS[key], replace, text, count=1)
        if n == 0:
            raise SystemExit(f"README.md: no sentence matches /{README_PATTERNS[key]}/ for {key}; fix the README "
                             f"or README_PATTERNS")
    return text


def machine() -> dict:
    """What the numbers depend on: cores, CPU, load at the start, versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    import numpy
    return {"cores": os.cpu_count(), "cpu": cpu, "load_average_1_5_15_min": load,
            "python": platform.python_version(), "numpy": numpy.__version__, "platform": sys.platform}


def measure(key: str) -> dict:
    """Run measurement ``key`` once and return its entry."""
    command = MEASUREMENTS[key][0].format(python=sys.executable)
    entry = {"what": MEASUREMENTS[key][1], "command": command.replace(sys.executable, "python"),
             "machine": machine(), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    if key == "train_epoch":
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(command.split() + ["--quiet", "--json", str(Path(tmp) / "run.json")], cwd=ROOT,
                                  capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{key}: {command} failed:\n{done.stderr}")
        # The training loop's own time (printed on the final line), without start-up and data loading.
        seconds = float(re.search(r"\(([\d.]+) s\)\s*$", done.stdout).group(1))
        entry.update(seconds=seconds, epochs=TRAIN_EPOCHS)
        return entry
    start = time.perf_counter()
    done = subprocess.run(command.split(), cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{key}: {command} exited with {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    entry["seconds"] = round(seconds, 1)
    return entry


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(MEASUREMENTS), help="measure only these")
    parser.add_argument("--skip-suite", action="store_true", help="keep the previous suite timing (it takes minutes)")
    parser.add_argument("--json", type=Path, default=TIMINGS, help=f"timings file (default {TIMINGS.relative_to(ROOT)})")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite README.md")
    parser.add_argument("--check", action="store_true", help="measure nothing; exit 1 if README.md disagrees")
    args = parser.parse_args(argv)
    timings = json.loads(args.json.read_text()) if args.json.exists() else {"measurements": {}}
    if args.check:
        problems = readme_mismatches(README.read_text(), timings)
        print("\n".join(problems) or "README.md agrees with the timings")
        return 1 if problems else 0
    keys = args.only or [k for k in MEASUREMENTS if not (k == "suite" and args.skip_suite)]
    for key in keys:
        print(f"measuring {key}: {MEASUREMENTS[key][0].format(python='python')} ...", file=sys.stderr, flush=True)
        timings["measurements"][key] = measure(key)
        print(f"  {timings['measurements'][key]['seconds']} s", file=sys.stderr)
    timings["about"] = ("Wall-clock times quoted by README.md, written by scripts/measure_docs_numbers.py; each entry "
                        "records the machine and its load when measured. tests/test_measure_docs_numbers.py checks "
                        "that README.md states them.")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(timings, indent=2) + "\n")
    if not args.no_readme:
        README.write_text(update_readme(README.read_text(), timings))
        print(f"README.md: {', '.join(f'{k} {p}' for k, (p, _) in phrases(timings).items())}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
