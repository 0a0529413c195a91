"""The ``coarsegrad`` command: help, version, subcommands."""
import subprocess
import sys

import pytest

import coarsegrad
from coarsegrad.cli import main


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("verify", "figures", "train", "data"):
        assert command in out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert coarsegrad.__version__ in capsys.readouterr().out


def test_python_dash_m_runs():
    done = subprocess.run([sys.executable, "-m", "coarsegrad", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and coarsegrad.__version__ in done.stdout


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_verify_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "sub" / "claims.json"
    status = main(["verify", "--quick", "--only", "1", "4", "--json", str(out)])
    text = capsys.readouterr().out
    assert status == 0
    assert "staircase sigma" in text and "2 of 2 claims pass" in text and "FAIL" not in text
    import json
    data = json.loads(out.read_text())
    assert [c["number"] for c in data["claims"]] == [1, 4] and data["preset"] == "quick"
    assert all(c["passed"] for c in data["claims"])


def test_verify_exit_status_reflects_failure(monkeypatch, capsys):
    from coarsegrad import claims
    failing = claims.ClaimResult(99, "always fails", "test", (claims.Check("x", 1.0, "<", 0.0),))
    monkeypatch.setattr(claims, "run_claims", lambda *a, **k: [failing])
    assert main(["verify"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_verify_bad_arguments(tmp_path, capsys):
    assert main(["verify", "--only", "12"]) == 2
    assert "unknown claim number" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["verify", "--seed", "-3"])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["verify", "--only", "1", "--json", str(blocker / "out.json")]) == 2
    assert "not a directory" in capsys.readouterr().err
