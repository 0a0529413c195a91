"""The README's timings come from a measurement (scripts/measure_docs_numbers.py ->
docs/data/timings.json) and say what it measured: the README said 7.5 minutes for a suite that took
4 min 19 s, 90 s for a 30 s command, 2 s for a 0.11 s epoch."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ROOT / "docs" / "data" / "timings.json"


def _script():
    spec = importlib.util.spec_from_file_location("measure_docs_numbers", ROOT / "scripts" / "measure_docs_numbers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_states_the_measured_timings():
    m = _script()
    timings = json.loads(TIMINGS.read_text())
    assert set(timings["measurements"]) == set(m.MEASUREMENTS)
    for key, entry in timings["measurements"].items():
        assert entry["seconds"] > 0 and entry["command"] and entry["machine"]["cores"] >= 1, key
    assert m.readme_mismatches((ROOT / "README.md").read_text(), timings) == [], \
        "README.md and docs/data/timings.json disagree: run python scripts/measure_docs_numbers.py"


def test_the_staleness_check_notices_an_old_number():
    """Negative control: the README's old numbers, or a moved sentence, are reported."""
    m = _script()
    timings = json.loads(TIMINGS.read_text())
    text = (ROOT / "README.md").read_text()
    quick = m.phrases(timings)["verify_quick"][0]
    stale = text.replace(f"{quick} on", "about 90000 s on", 1)
    assert any(p.startswith("verify_quick: the README says 'about 90000 s'") for p in m.readme_mismatches(stale, timings))
    cores = dict(timings, measurements={k: dict(v, machine={"cores": 64}) for k, v in timings["measurements"].items()})
    assert any("64" in p for p in m.readme_mismatches(text, cores))
    gone = text.replace("slow cases included:", "slow cases too:")
    assert any("no longer has the sentence" in p for p in m.readme_mismatches(gone, timings))
    # and rewriting the README from the timings repairs it
    assert m.readme_mismatches(m.update_readme(stale, timings), timings) == []


@pytest.mark.parametrize("seconds, phrase", [(0.11, "about 0.1 s"), (0.5, "about 0.5 s"), (3.4, "about 3 s"),
                                             (30, "about 30 s"), (47, "about 45 s"), (110, "about 2 minutes"),
                                             (259, "about 4.5 minutes"), (600, "about 10 minutes")])
def test_durations_read_as_the_readme_says_them(seconds, phrase):
    assert _script().about(seconds) == phrase


@pytest.mark.slow
def test_the_script_measures_and_writes_the_timings(tmp_path):
    """One cheap measurement end to end (training; the others are the same code with other commands),
    into a copy of the timings file, README untouched; the other entries are kept."""
    target = tmp_path / "timings.json"
    target.write_text(TIMINGS.read_text())
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "measure_docs_numbers.py"), "--only", "train_epoch",
                           "--no-readme", "--json", str(target)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    new, old = json.loads(target.read_text())["measurements"], json.loads(TIMINGS.read_text())["measurements"]
    assert new["train_epoch"]["seconds"] > 0 and new["train_epoch"]["epochs"] == _script().TRAIN_EPOCHS
    assert new["train_epoch"]["machine"]["cores"] >= 1 and "load_average_1_5_15_min" in new["train_epoch"]["machine"]
    assert {k: v for k, v in new.items() if k != "train_epoch"} == {k: v for k, v in old.items() if k != "train_epoch"}
