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


def test_train_command_runs_and_writes_history(tmp_path, capsys):
    out = tmp_path / "h.json"
    assert main(["train", "--data", "sectors", "--epochs", "3", "--hidden", "8", "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "final: training accuracy" in captured.out
    assert "[train] epoch 3/3" in captured.err                    # progress on stderr
    import json
    record = json.loads(out.read_text())
    assert record["settings"]["ste"] == "clipped_relu" and len(record["history"]["step"]) == 4
    assert main(["train", "--data", "blobs", "--epochs", "2", "--quiet", "--float"]) == 0
    assert capsys.readouterr().err == ""                          # --quiet silences progress


@pytest.mark.parametrize("argv, message", [
    (["train", "--data", "mnist"], "--data mnist needs --mnist-dir"),
    (["train", "--ste", "relux", "--epochs", "1"], "unknown STE 'relux'"),
    (["train", "--momentum", "1.5", "--epochs", "1"], "--momentum must lie in [0, 1)"),
    (["train", "--bits", "20", "--epochs", "1"], "--bits must be at most 16"),
    (["data", "check", "--dir", "/nonexistent-coarsegrad"], "no train-images-idx3-ubyte"),
])
def test_command_errors_are_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["train", "--epochs", "0"], ["train", "--lr", "-1"], ["train", "--alpha", "nan"],
                                  ["figures", "--workers", "0"], ["figures", "--only", "nope"]])
def test_argument_type_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_data_commands(tmp_path, capsys):
    assert main(["data", "info"]) == 0
    assert "checksum: ok" in capsys.readouterr().out
    from test_data import _write_mnist
    _write_mnist(tmp_path)
    assert main(["data", "check", "--dir", str(tmp_path)]) == 0
    assert "train: 30 images of 28x28" in capsys.readouterr().out
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    assert main(["data", "check", "--dir", str(tmp_path)]) == 2
    assert "train-labels-idx1-ubyte.gz: corrupt or truncated gzip" in capsys.readouterr().err
    assert main(["data", "fetch", "mnist", "--dir", str(tmp_path / "dl"), "--mirror", "http://127.0.0.1:9/",
                 "--timeout", "2"]) == 2
    assert "no network" in capsys.readouterr().err
