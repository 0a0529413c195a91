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
