"""The ``coarsegrad`` command: help, version, subcommands, and what a user can trust of it --
one line and exit 2 for any bad input, files readable by others, output paths checked before the
work, no stray files or processes, presets never mixed silently, the distributed path."""
import contextlib
import io
import json
import os
import stat
import subprocess
import sys
import re
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import coarsegrad
from coarsegrad import _io, cli, train
from coarsegrad.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _run(argv):
    """``main(argv)`` -> (status, stdout, stderr), argparse's own exits included."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:
            status = exc.code
    return status, out.getvalue(), err.getvalue()


def _assert_one_line_error(status, err, *, names=None):
    assert status == 2, (status, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in err, err
    if names is not None:
        assert names in lines[0], (names, err)


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


def test_unknown_command_is_an_error():
    status, _, err = _run(["frobnicate"])
    _assert_one_line_error(status, err, names="invalid choice")


def _subparsers(parser):
    import argparse
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in _subparsers(sub))


def test_help_cites_no_unshipped_file_and_train_options_show_defaults():
    """The help cited "SPEC section 5/6", a file that does not ship; every train option says what
    it does and its default."""
    parser = cli.build_parser()
    for name, sub in _subparsers(parser):
        text = sub.format_help()
        assert "SPEC" not in text, name
    train_parser = dict(_subparsers(parser))["train"]
    for action in train_parser._actions:
        if action.dest == "help":
            continue
        assert action.help, f"train {action.option_strings} has no help"
        if action.default not in (None, False):
            assert "default" in action.help, f"train {action.option_strings} does not show its default"
    # negative control: the check above notices an option without help
    train_parser.add_argument("--undocumented", default=3)
    assert not train_parser._actions[-1].help


def test_verify_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "sub" / "claims.json"
    status = main(["verify", "--quick", "--only", "1", "4", "--json", str(out)])
    text = capsys.readouterr().out
    assert status == 0
    assert "staircase sigma" in text and "2 of 2 claims pass" in text and "FAIL" not in text
    data = json.loads(out.read_text())
    assert [c["number"] for c in data["claims"]] == [1, 4] and data["preset"] == "quick"
    assert all(c["passed"] for c in data["claims"])


def test_verify_exit_status_reflects_failure(monkeypatch, capsys):
    from coarsegrad import claims
    failing = claims.ClaimResult(99, "always fails", "test", (claims.Check("x", 1.0, "<", 0.0),))
    monkeypatch.setattr(claims, "run_claims", lambda *a, **k: [failing])
    assert main(["verify"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_verify_bad_arguments(tmp_path):
    _assert_one_line_error(*_run(["verify", "--only", "98"])[::2], names="unknown claim number")
    _assert_one_line_error(*_run(["verify", "--seed", "-3"])[::2], names="--seed")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _assert_one_line_error(*_run(["verify", "--only", "1", "--json", str(blocker / "out.json")])[::2],
                           names="not a directory")


def test_train_command_runs_and_writes_history(tmp_path, capsys):
    out = tmp_path / "h.json"
    assert main(["train", "--data", "sectors", "--epochs", "3", "--hidden", "8", "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "final: training accuracy" in captured.out
    assert "[train] epoch 3/3" in captured.err                    # progress on stderr
    record = json.loads(out.read_text())
    assert record["settings"]["ste"] == "clipped_relu" and len(record["history"]["step"]) == 4
    assert main(["train", "--data", "blobs", "--epochs", "2", "--quiet", "--float"]) == 0
    assert capsys.readouterr().err == ""                          # --quiet silences progress


# --------------------------------------------------------------------------- finding 1: one line, exit 2

@pytest.mark.parametrize("argv, names", [
    (["train", "--data", "mnist"], "--data mnist needs --mnist-dir"),
    (["train", "--ste", "relux", "--epochs", "1"], "unknown STE 'relux'"),
    (["train", "--momentum", "1.5", "--epochs", "1"], "--momentum"),
    (["train", "--bits", "20", "--epochs", "1"], "--bits"),
    (["data", "check", "--dir", "/nonexistent-coarsegrad"], "--dir"),
    # the commands of the issue: tracebacks before (FloatingPointError, MemoryError, OverflowError)
    (["train", "--lr", "1e300", "--epochs", "2"], "--lr"),
    (["train", "--alpha", "1e300", "--epochs", "2"], "--alpha"),
    (["train", "--hidden", "10000000000"], "--hidden"),
    (["figures", "--workers", "99999999999"], "--workers"),
    (["data", "fetch", "mnist", "--dir", "x", "--timeout", "1e308"], "--timeout"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--lr", "-1"], "--lr"),
    (["train", "--alpha", "nan"], "--alpha"),
    (["figures", "--workers", "0"], "--workers"),
    (["figures", "--only", "nope"], "--only"),
    (["figures", "--out", ""], "--out"),
    (["results", "--figures", ""], "--figures"),
])
def test_command_errors_are_one_clear_line(argv, names):
    status, _, err = _run(argv)
    _assert_one_line_error(status, err, names=names)


def test_divergence_mid_run_names_the_argument_to_change(monkeypatch):
    """A step size inside the accepted range can still make training diverge: the library's
    FloatingPointError becomes one line naming --lr; an overflow and memory exhaustion too."""
    def diverge(*args, **kwargs):
        raise FloatingPointError("training diverged in epoch 1 (the weights overflowed)")
    monkeypatch.setattr(train, "mlp_train", diverge)
    status, _, err = _run(["train", "--epochs", "1", "--quiet"])
    _assert_one_line_error(status, err, names="lower --lr")

    def exhaust(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(train, "mlp_train", exhaust)
    status, _, err = _run(["train", "--epochs", "1", "--quiet"])
    _assert_one_line_error(status, err, names="lower --hidden or --batch-size")

    def bug(*args, **kwargs):
        raise KeyError("internal")
    monkeypatch.setattr(train, "mlp_train", bug)
    status, _, err = _run(["train", "--epochs", "1", "--quiet"])
    assert status == 3 and "internal error" in err and len(err.strip().splitlines()) == 1


def test_real_divergence_is_one_line():
    status, out, err = _run(["train", "--ste", "identity", "--lr", "100", "--momentum", "0.99", "--alpha", "1000",
                             "--epochs", "3", "--quiet", "--loss", "squared"])
    if status == 0:
        assert "final:" in out and err == ""
    else:
        _assert_one_line_error(status, err, names="lower --lr")


def _train_value(values):
    return st.one_of(st.none(), st.sampled_from(values))


@st.composite
def _train_argv(draw, tmp):
    argv = ["train", "--quiet", "--data", draw(st.sampled_from(["blobs", "sectors"]))]
    options = {
        "--bits": ["0", "1", "2", "16", "17", "-1", "2.5", "abc", "99999999999999999999"],
        "--alpha": ["1e-300", "1e-6", "0.5", "1000", "1e300", "nan", "inf", "-1", "0", "x"],
        "--lr": ["1e-300", "0.1", "100", "1e300", "nan", "-0.1", "0"],
        "--hidden": ["1", "8", "2000000", "10000000000", "0", "-5"],
        "--epochs": ["1", "2", "0", "10000000", "-1"],
        "--batch-size": ["1", "7", "100000", "0", "99999999999"],
        "--momentum": ["0", "0.9", "0.999999", "1", "-0.1", "nan"],
        "--dtype": ["float32", "float64", "float16"],
        "--ste": ["relu", "identity", "log_tailed_relu", "nope", ""],
        "--loss": ["squared", "hinge"],
        "--schedule": ["step", "constant", "linear"],
        "--seed": ["0", "-1", "7", "18446744073709551616", "1.5"],
        "--json": ["run.json", "", ".", "afile/run.json", "sub/run.json"],
        "--mnist-dir": ["", "nowhere"],
        "--learn-alpha": ["ae", "pact", "min", "mean", "nope"],
        "--convention": ["ceil", "round", "floor"],
    }
    for option, values in options.items():
        value = draw(_train_value(values))
        if value is not None:
            if option == "--json" and value not in ("",):
                value = str(tmp / value)
            argv += [option, value]
    if draw(st.booleans()):
        argv.append("--float")
    if "--epochs" not in argv:
        argv += ["--epochs", "1"]
    if "--hidden" not in argv:
        argv += ["--hidden", "4"]
    return argv


@settings(max_examples=60)
@given(data=st.data())
def test_any_train_arguments_give_a_result_or_one_line_and_exit_2(data, tmp_path_factory):
    """Hypothesis over the train command's arguments (valid, out of range, malformed): either it
    trains (exit 0) or it says what is wrong in one line (exit 2); never a traceback."""
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "afile").write_text("x")
    argv = data.draw(_train_argv(tmp))
    status, out, err = _run(argv)
    if status == 0:
        assert "final: training accuracy" in out and err == "", (argv, err)
    else:
        _assert_one_line_error(status, err)


@settings(max_examples=20)   # fewer than the default 60: an accepted figures example draws and saves a figure (~1 s)
@given(data=st.data())
def test_any_other_command_arguments_give_a_result_or_one_line_and_exit_2(data, tmp_path_factory):
    """The other subcommands, with arguments that fail before any long work (or finish quickly)."""
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "afile").write_text("x")
    bad_int = st.sampled_from(["-1", "0", "abc", "1e3", "99999999999999999999999", ""])
    command = data.draw(st.sampled_from(["verify", "figures", "results", "data check", "data fetch", "data"]))
    if command == "verify":
        argv = ["verify", "--only", data.draw(st.sampled_from(["0", "98", "-1", "x", "10000000000000000000"]))]
        argv += data.draw(st.sampled_from([[], ["--seed", data.draw(bad_int)], ["--json", ""], ["--json", str(tmp)]]))
    elif command == "figures":
        argv = ["figures", "--quiet", "--preset", "tiny", "--only", "staircase", "--out", str(tmp / "f")]
        argv += data.draw(st.sampled_from([["--workers", data.draw(bad_int)], ["--seed", data.draw(bad_int)],
                                           ["--out", data.draw(st.sampled_from(["", str(tmp / "afile")]))],
                                           ["--preset", "huge"], ["--workers", "1"], ["--seed", "5"]]))
    elif command == "results":
        argv = ["results", "--figures", data.draw(st.sampled_from(["", str(tmp), str(tmp / "none"),
                                                                   str(tmp / "afile")]))]
    elif command == "data check":
        argv = ["data", "check", "--dir", data.draw(st.sampled_from(["", str(tmp), str(tmp / "afile")]))]
    elif command == "data fetch":
        argv = ["data", "fetch", data.draw(st.sampled_from(["mnist", "cifar"])), "--dir",
                data.draw(st.sampled_from(["", str(tmp / "afile"), str(tmp / "afile" / "x")])),
                "--timeout", data.draw(st.sampled_from(["0", "-1", "nan", "1e308", "2"])),
                "--mirror", "http://127.0.0.1:9/"]
    else:
        argv = ["data"]
    status, out, err = _run(argv)
    assert status in (0, 2), (argv, status, err)
    if status == 2:
        _assert_one_line_error(status, err)


def test_one_line_check_catches_a_traceback():
    """Negative control of the property above: a traceback (or a multi-line error) fails it."""
    with pytest.raises(AssertionError):
        _assert_one_line_error(2, "Traceback (most recent call last):\n  File x\nValueError: y\n")
    with pytest.raises(AssertionError):
        _assert_one_line_error(2, "usage: coarsegrad train [-h]\ncoarsegrad train: error: argument --lr\n")


# --------------------------------------------------------------------------- finding 2: permissions

@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        _io.write_json(tmp_path / "a.json", {"x": 1})
        status, _, err = _run(["train", "--epochs", "1", "--hidden", "4", "--quiet", "--json", str(tmp_path / "r.json")])
        if umask == 0o022:       # figures (PNG and PDF are written by matplotlib into the temporary file)
            status, _, err = _run(["figures", "--preset", "tiny", "--only", "staircase", "--out", str(tmp_path / "f"),
                                   "--quiet"])
    finally:
        os.umask(old)
    assert status == 0, err
    paths = [tmp_path / "a.json", tmp_path / "r.json"] + sorted((tmp_path / "f").glob("*") if umask == 0o022 else [])
    assert len(paths) == (6 if umask == 0o022 else 2)          # + manifest, staircase .json .png .pdf
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == mode, (path.name, oct(path.stat().st_mode), oct(mode))


def test_umask_check_notices_a_private_file(tmp_path, monkeypatch):
    """Negative control: a writer that ignores the umask (as bare mkstemp does) is caught."""
    old = os.umask(0o022)
    try:
        monkeypatch.setattr(_io, "_umask", lambda: 0o177)        # as if it were mkstemp's private 0600
        _io.write_text(tmp_path / "b.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) != 0o644


# --------------------------------------------------------------------------- finding 6: paths before work

def test_output_paths_are_checked_before_the_work(tmp_path, monkeypatch):
    from coarsegrad import claims

    def must_not_run(*args, **kwargs):
        raise AssertionError("the work started before the output path was checked")
    monkeypatch.setattr(claims, "run_claims", must_not_run)
    monkeypatch.setattr(train, "mlp_train", must_not_run)
    status, _, err = _run(["verify", "--only", "1", "7", "--json", str(tmp_path)])
    _assert_one_line_error(status, err, names="is a directory; give a file name")
    assert ".part" not in err
    (tmp_path / "afile").write_text("x")
    status, _, err = _run(["train", "--epochs", "1", "--json", str(tmp_path / "afile" / "run.json")])
    _assert_one_line_error(status, err, names="not a directory")
    status, _, err = _run(["train", "--epochs", "1", "--json", ""])
    _assert_one_line_error(status, err, names="--json")
    monkeypatch.chdir(tmp_path)
    status, _, err = _run(["figures", "--out", "", "--only", "staircase"])
    _assert_one_line_error(status, err, names="--out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]          # nothing written into the cwd


def test_json_symlink_is_written_through(tmp_path):
    target = tmp_path / "data" / "run.json"
    target.parent.mkdir()
    target.write_text("{}")
    link = tmp_path / "run.json"
    link.symlink_to(target)
    assert _run(["train", "--epochs", "1", "--hidden", "4", "--quiet", "--json", str(link)])[0] == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["settings"]["hidden"] == 4
    # a dangling link: its target is created
    dangling = tmp_path / "later.json"
    dangling.symlink_to(tmp_path / "data" / "later-target.json")
    _io.write_json(dangling, {"a": 1})
    assert dangling.is_symlink() and json.loads((tmp_path / "data" / "later-target.json").read_text()) == {"a": 1}


def test_failed_rename_names_the_destination_not_the_temporary(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("occupied")
    with pytest.raises(OSError) as err:
        _io.write_text(tmp_path / "d", "text")                 # a directory is in the way
    assert str(tmp_path / "d") in str(err.value) and ".part" not in str(err.value)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


# --------------------------------------------------------------------------- finding 7: processes, temporaries

def test_stale_temporaries_of_dead_runs_are_removed(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(done.stdout)
    host = _io._host_tag()
    stale = tmp_path / f".fig.png.{host}-{dead}.abc123.part"
    alive = tmp_path / f".fig.pdf.{host}-{os.getppid()}.def456.part"         # a live process's file: kept
    other_host = tmp_path / f".fig.json.00000000-{dead}.ghi789.part"        # another host, recent: kept
    old_other = tmp_path / f".old.json.00000000-{dead}.jkl012.part"         # another host, a day old: removed
    foreign = tmp_path / ".notours.part"                                    # not our pattern: never touched
    for path in (stale, alive, other_host, old_other, foreign):
        path.write_text("partial")
    day_ago = time.time() - _io.STALE_SECONDS - 60
    os.utime(old_other, (day_ago, day_ago))
    _io.check_writable_dir(tmp_path, "--out")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([alive.name, other_host.name, foreign.name]), left


def test_temporary_name_matches_the_cleanup_pattern(tmp_path):
    """The cleanup only removes what atomic_path creates: its temporary names must match."""
    with _io.atomic_path(tmp_path / "x.json") as tmp:
        assert _io._PART.match(tmp.name), tmp.name
        assert f"-{os.getpid()}." in tmp.name


_ORPHAN_SCRIPT = textwrap.dedent("""
    import sys, time
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing
    from coarsegrad.train import process_pool

    def slow(x):
        time.sleep(120)

    if __name__ == "__main__":
        if sys.argv[1] == "ours":
            pool = process_pool(1)
        else:   # negative control: a plain spawn pool, whose workers outlive a killed parent
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            pool.submit(int, 0).result()
        futures = [pool.submit(slow, i) for i in range(2)]
        time.sleep(0.5)
        print(" ".join(str(p) for p in pool._processes), flush=True)
        time.sleep(120)
""")


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _workers_after_parent_killed(tmp_path, kind, wait):
    script = tmp_path / "orphans.py"
    script.write_text(_ORPHAN_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script), kind], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert len(workers) == 1 and all(_alive(p) for p in workers)
    parent.kill()                                  # SIGKILL: no cleanup code of the parent runs
    parent.wait()
    deadline = time.time() + wait
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    return workers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)")
def test_pool_workers_die_with_a_killed_parent(tmp_path):
    workers = _workers_after_parent_killed(tmp_path, "ours", wait=5.0)
    assert not any(_alive(p) for p in workers), "pool workers outlived their killed parent"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)")
def test_plain_pool_workers_outlive_a_killed_parent(tmp_path):
    """Negative control: without the parent watch the workers are orphans (then killed here)."""
    workers = _workers_after_parent_killed(tmp_path, "plain", wait=1.5)   # > the 0.2 s watch period, x7
    try:
        assert all(_alive(p) for p in workers)
    finally:
        for p in workers:
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass


# --------------------------------------------------------------------------- finding 9: pool size from the work

class _RecordingPool:
    """Stands in for process_pool: records the size asked for, runs in threads."""

    def __init__(self):
        self.sizes = []

    def __call__(self, workers):
        from concurrent.futures import ThreadPoolExecutor
        self.sizes.append(workers)
        return ThreadPoolExecutor(workers)


def test_run_sweep_stays_in_process_for_small_work(monkeypatch):
    pools = _RecordingPool()
    monkeypatch.setattr(train, "process_pool", pools)
    assert train.run_sweep(abs, [-1, -2, 3]) == [1, 2, 3]
    assert pools.sizes == []                                   # microseconds of work: no pool
    monkeypatch.setattr(train, "POOL_START_SECONDS", 0.0)      # as if pools were free: one is made
    assert train.run_sweep(abs, [-1, -2, 3, -4, 5]) == [1, 2, 3, 4, 5]
    assert pools.sizes == [min(os.cpu_count() or 1, 4)] or (os.cpu_count() or 1) == 1
    assert train.run_sweep(abs, [-1, -2], workers=8) == [1, 2]
    assert pools.sizes[-1] == 2                                # never more processes than tasks
    size = len(pools.sizes)
    assert train.run_sweep(abs, [-1, -2], workers=1) == [1, 2] and len(pools.sizes) == size


def test_figure_runs_choose_the_pool_from_the_work(monkeypatch):
    pools = _RecordingPool()
    monkeypatch.setattr(train, "process_pool", pools)
    runs = cli._Runs(None, None, lambda line: None)
    assert runs(abs, [-1, -2, -3]) == [1, 2, 3] and pools.sizes == []      # tiny step: in this process
    monkeypatch.setattr(train, "POOL_START_SECONDS", 0.0)
    assert runs(abs, [-1, -2, -3, -4]) == [1, 2, 3, 4]
    cores = os.cpu_count() or 1
    assert pools.sizes == ([min(cores, 3)] if cores > 1 else [])
    runs.close()
    explicit = cli._Runs(2, None, lambda line: None)
    assert explicit(abs, [-1, -2, -3]) == [1, 2, 3] and pools.sizes[-1] == 2
    explicit.close()


@pytest.mark.slow
def test_figure_runs_report_progress_on_long_steps(monkeypatch):
    """Runs of 0.7 s each on a clock the runs advance (the test does not wait for them)."""
    from types import SimpleNamespace
    from coarsegrad import _figure_files
    now = [0.0]

    def run(seconds):
        now[0] += seconds
        return seconds
    monkeypatch.setattr(_figure_files, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    lines = []
    runs = cli._Runs(1, None, lines.append)
    runs.label = "mnist"
    assert runs(run, [0.7, 0.7, 0.7, 0.7]) == [0.7] * 4
    assert any("mnist: run 4/4 done" in line for line in lines), lines
    lines.clear()
    assert runs(abs, [-1, -2]) == [1, 2] and lines == []          # a short step stays quiet


def test_interrupted_figures_do_not_wait_for_runs_in_flight():
    """Ctrl-C during a long step: the pool is shut down without waiting for the runs (minutes at
    the full preset) and its workers end."""
    runs = cli._Runs(2, None, lambda line: None)
    runs.pool, runs.pool_size = train.process_pool(1), 1
    future = runs.pool.submit(time.sleep, 60)
    while not future.running():
        time.sleep(0.05)
    workers = list(runs.pool._processes.values())
    start = time.perf_counter()
    runs.close(abort=True)
    # The executor's own thread joins its workers too; whichever thread reaps a worker second sees ECHILD, and
    # is_alive() says True until the first has stored the exit code: ask again until 5 s have passed.
    while any(w.is_alive() for w in workers) and time.perf_counter() - start < 5:
        time.sleep(0.02)
    assert time.perf_counter() - start < 5 and not any(w.is_alive() for w in workers)


# --------------------------------------------------------------------------- finding 3: presets never mixed

def test_default_output_is_not_the_committed_figures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "figures").mkdir()
    assert _run(["figures", "--preset", "tiny", "--only", "staircase", "--quiet"])[0] == 0
    assert (tmp_path / "figures-out" / "staircase.png").exists()
    assert list((tmp_path / "figures").iterdir()) == []


@pytest.mark.slow
def test_mixed_presets_are_noted_and_recorded_per_figure(tmp_path):
    out = tmp_path / "figs"
    assert _run(["figures", "--preset", "tiny", "--only", "staircase", "cosine", "--out", str(out), "--quiet",
                 "--workers", "1"])[0] == 0
    status, _, err = _run(["figures", "--preset", "tiny", "--seed", "1", "--only", "cosine", "--out", str(out),
                           "--quiet", "--workers", "1"])
    assert status == 0 and "also holds staircase (preset tiny, seed 0)" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert {n: (e["preset"], e["seed"]) for n, e in manifest["figures"].items()} == {
        "staircase": ("tiny", 0), "cosine": ("tiny", 1)}
    assert "command" not in manifest and manifest["presets"] == ["tiny (seed 0)", "tiny (seed 1)"]
    assert manifest["figures"]["cosine"]["command"].startswith("coarsegrad figures --preset tiny --seed 1")


def _figure_dir(tmp_path, runs):
    """A figures directory whose data and manifest say the given (preset, seed) per figure."""
    out = tmp_path / "figs"
    out.mkdir(exist_ok=True)
    manifest = {"figures": {}}
    for name, (data_run, manifest_run) in runs.items():
        (out / f"{name}.json").write_text(json.dumps({"settings": {"preset": data_run[0], "seed": data_run[1]}}))
        manifest["figures"][name] = {"preset": manifest_run[0], "seed": manifest_run[1]}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def test_results_refuses_mixed_runs(tmp_path):
    out = _figure_dir(tmp_path, {"training_curves": (("fast", 0), ("fast", 0)), "mnist": (("tiny", 0), ("tiny", 0))})
    (tmp_path / "r.md").write_text("before")
    status, _, err = _run(["results", "--figures", str(out), "--out", str(tmp_path / "r.md")])
    _assert_one_line_error(status, err, names="mixes runs (training_curves: preset fast, seed 0, mnist: preset tiny")
    assert (tmp_path / "r.md").read_text() == "before"
    # data and manifest that disagree (a file copied in by hand) are refused too
    out = _figure_dir(tmp_path, {"training_curves": (("fast", 0), ("fast", 0)), "mnist": (("fast", 0), ("tiny", 0))})
    status, _, err = _run(["results", "--figures", str(out)])
    _assert_one_line_error(status, err, names="says preset fast, seed 0 but the manifest says preset tiny, seed 0")
    # negative control: one run throughout passes these checks (and fails later, on the fake data)
    out = _figure_dir(tmp_path, {"training_curves": (("fast", 0), ("fast", 0)), "mnist": (("fast", 0), ("fast", 0))})
    status, _, err = _run(["results", "--figures", str(out)])
    assert "mixes runs" not in err and "manifest says" not in err


def test_results_refuses_a_missing_directory(tmp_path):
    status, _, err = _run(["results", "--figures", str(tmp_path / "none")])
    _assert_one_line_error(status, err, names="run 'coarsegrad figures")


# --------------------------------------------------------------------------- finding 10: MNIST directory

def test_wrong_mnist_dir_variable_is_an_error(tmp_path, monkeypatch):
    from coarsegrad.data import mnist
    monkeypatch.setenv("COARSEGRAD_MNIST_DIR", str(tmp_path / "typo"))
    with pytest.raises(mnist.MnistError, match="COARSEGRAD_MNIST_DIR=.*typo.* is not a directory"):
        mnist.default_mnist_dir()
    monkeypatch.setenv("COARSEGRAD_MNIST_DIR", str(tmp_path))
    with pytest.raises(mnist.MnistError, match="COARSEGRAD_MNIST_DIR=.*no train-images-idx3-ubyte"):
        mnist.default_mnist_dir()
    status, _, err = _run(["figures", "--preset", "full", "--only", "mnist", "--out", str(tmp_path / "o"), "--quiet"])
    _assert_one_line_error(status, err, names="COARSEGRAD_MNIST_DIR")
    assert not (tmp_path / "o" / "mnist.json").exists()
    monkeypatch.delenv("COARSEGRAD_MNIST_DIR")
    assert mnist.default_mnist_dir() is None
    from test_data import _write_mnist
    _write_mnist(tmp_path)
    monkeypatch.setenv("COARSEGRAD_MNIST_DIR", str(tmp_path))
    assert mnist.default_mnist_dir() == tmp_path


# --------------------------------------------------------------------------- data

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


def test_data_check_rejects_a_set_of_zero_images(tmp_path):
    from test_data import _write_mnist
    _write_mnist(tmp_path, n_train=0, n_test=0)
    status, out, err = _run(["data", "check", "--dir", str(tmp_path)])
    _assert_one_line_error(status, err, names="holds 0 images")
    assert "ok" not in out


@pytest.mark.parametrize("damage", ["truncated", "zeroed", "garbage"])
def test_corrupted_shipped_subset_says_reinstall(tmp_path, monkeypatch, damage):
    from coarsegrad.data import mnist
    blob = mnist._subset_path().read_bytes()
    if damage == "truncated":
        blob = blob[: len(blob) // 2]                       # BadZipFile (no central directory)
    elif damage == "zeroed":
        blob = blob[:200] + bytes(2000) + blob[2200:]       # a damaged member: zlib / EOF errors
    else:
        blob = b"not a zip file at all"
    broken = tmp_path / "mnist_subset.npz"
    broken.write_bytes(blob)
    monkeypatch.setattr(mnist, "_subset_path", lambda: broken)
    with pytest.raises(mnist.MnistError, match="reinstall coarsegrad"):
        mnist.load_mnist_subset("train")
    status, _, err = _run(["train", "--data", "mnist-subset", "--epochs", "1", "--quiet"])
    _assert_one_line_error(status, err, names="reinstall coarsegrad")


# --------------------------------------------------------------------------- the distributed path

def test_dask_is_in_the_test_extra():
    """The README's set-up (pip install -e ".[test]") installs dask.distributed, so CI runs the
    distributed tests instead of skipping them."""
    text = (ROOT / "pyproject.toml").read_text()
    test_extra = next(line for line in text.splitlines() if line.startswith("test = "))
    assert "dask[distributed]" in test_extra
    import distributed   # noqa: F401  (fails here, visibly, if the extra did not install it)


def test_figures_on_a_dask_scheduler_match_the_local_run(tmp_path):
    distributed = pytest.importorskip("distributed", reason="installed by the test extra; see the test above")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None,
                                  protocol="tcp") as cluster:
        status, _, err = _run(["figures", "--preset", "tiny", "--only", "cosine", "--out", str(tmp_path / "dask"),
                               "--scheduler", cluster.scheduler_address, "--quiet"])
    assert status == 0, err
    assert _run(["figures", "--preset", "tiny", "--only", "cosine", "--out", str(tmp_path / "local"),
                 "--workers", "1", "--quiet"])[0] == 0
    got = json.loads((tmp_path / "dask" / "cosine.json").read_text())
    assert got == json.loads((tmp_path / "local" / "cosine.json").read_text())
    assert json.loads((tmp_path / "dask" / "manifest.json").read_text())["figures"]["cosine"]["workers"] == "dask"


def test_unreachable_scheduler_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("distributed", reason="installed by the test extra")
    import coarsegrad._figure_files as figure_files
    monkeypatch.setattr(figure_files, "SCHEDULER_TIMEOUT", "1s")     # the message, not the wait, is tested
    status, _, err = _run(["figures", "--preset", "tiny", "--only", "cosine", "--out", str(tmp_path),
                           "--scheduler", "tcp://127.0.0.1:9", "--quiet"])
    _assert_one_line_error(status, err, names="--scheduler")


def test_scheduler_without_dask_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)        # as if not installed
    status, _, err = _run(["figures", "--preset", "tiny", "--only", "cosine", "--out", str(tmp_path),
                           "--scheduler", "tcp://127.0.0.1:8786", "--quiet"])
    _assert_one_line_error(status, err, names="pip install 'coarsegrad[dask]'")


@pytest.mark.slow
def test_readme_sweep_script_runs_as_a_script(tmp_path):
    """The README's sweep example, saved as a file and run with python: a process pool (spawn)
    needs the __main__ guard and a module-level function; this is the form the README shows."""
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\n# sweep.py")
    code = text[start + len("```python\n"): text.index("```", start + 10)]
    (tmp_path / "sweep.py").write_text(code)
    done = subprocess.run([sys.executable, "sweep.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = [line.split("# output:", 1)[1].strip() for line in code.splitlines() if "# output:" in line]
    assert expected and all(e in done.stdout for e in expected), (expected, done.stdout)


# =========================================================================== issue 17, item 6: errors by cause

def _valid_figure_dir(tmp_path):
    """A copy of the committed figure data (the JSON files and the manifest: enough for results)."""
    out = tmp_path / "figs"
    out.mkdir()
    for path in (ROOT / "figures").glob("*.json"):
        (out / path.name).write_text(path.read_text())
    return out


def _subcommands():
    return sorted({name.split()[0] for name, _ in _subparsers(cli.build_parser())})


def test_every_subcommand_has_its_hints():
    """Every handler covers every subcommand: 'results' hitting an overflow raised KeyError: 'results'
    inside the error handler (a traceback)."""
    assert _subcommands() == ["data", "figures", "results", "train", "verify"]
    for command in _subcommands():
        assert command in cli._OVERFLOW_HINT and command in cli._MEMORY_HINT, command


def _plant(monkeypatch, tmp_path, command, error):
    """Make the work of ``command`` raise ``error`` (a library bug); return its argv."""
    from coarsegrad import claims, data, figures
    from coarsegrad.figures import results as results_module

    def bug(*args, **kwargs):
        raise error
    if command == "verify":
        monkeypatch.setattr(claims, "run_claims", bug)
        return ["verify", "--only", "1"]
    if command == "train":
        monkeypatch.setattr(train, "mlp_train", bug)
        return ["train", "--epochs", "1", "--quiet"]
    if command == "figures":
        saved = figures.FIGURES["staircase"]
        monkeypatch.setitem(figures.FIGURES, "staircase", (bug, saved[1], saved[2]))
        return ["figures", "--preset", "tiny", "--only", "staircase", "--out", str(tmp_path / "o"), "--quiet"]
    if command == "results":
        monkeypatch.setattr(figures, "results_markdown", bug)
        monkeypatch.setattr(results_module, "results_markdown", bug)
        return ["results", "--figures", str(_valid_figure_dir(tmp_path))]
    monkeypatch.setattr(data, "subset_info", bug)
    return ["data", "info"]


@pytest.mark.parametrize("command", ["verify", "train", "figures", "results", "data"])
@pytest.mark.parametrize("error", [ValueError("bad value deep inside"), TypeError("unsupported operand"),
                                   KeyError("bits"), IndexError("list index out of range")])
def test_a_library_error_during_the_work_is_an_internal_error(command, error, monkeypatch, tmp_path):
    """Decided by where the error comes from, not its type: a ValueError/TypeError raised by the library
    on arguments the CLI validated is a bug -- exit 3, 'internal error', one line."""
    argv = _plant(monkeypatch, tmp_path, command, error)
    status, _, err = _run(argv)
    assert status == 3, (status, err)
    assert "internal error" in err and "please report it" in err and len(err.strip().splitlines()) == 1, err
    assert type(error).__name__ in err


def test_debug_shows_the_traceback_and_keeps_the_status(monkeypatch, tmp_path):
    argv = _plant(monkeypatch, tmp_path, "train", ValueError("bad value deep inside"))
    monkeypatch.setenv("COARSEGRAD_DEBUG", "1")
    status, _, err = _run(argv)
    assert status == 3 and "Traceback (most recent call last)" in err and "internal error" in err.splitlines()[-1]
    # bad input under COARSEGRAD_DEBUG: the traceback too, still exit 2
    status, _, err = _run(["train", "--data", "mnist"])
    assert status == 2 and "needs --mnist-dir" in err.splitlines()[-1]


def test_the_same_error_from_the_validation_layer_is_bad_input():
    """Negative control of the test above: the library's ValueError raised while the CLI validates the
    user's value (here: an STE name get_ste rejects) is bad input, exit 2, named by the option."""
    status, _, err = _run(["train", "--ste", "relux", "--epochs", "1"])
    _assert_one_line_error(status, err, names="unknown STE 'relux'")
    with pytest.raises(cli.UsageError, match="--alpha: boom"):
        with cli._validating("--alpha"):
            raise ValueError("boom")


def test_results_overflow_is_one_line(tmp_path):
    out = _valid_figure_dir(tmp_path)
    data = json.loads((out / "subspace_success.json").read_text())
    data["wendel"]["2"]["2"] = 1e200                 # 1e200 ** K overflows a Python float
    (out / "subspace_success.json").write_text(json.dumps(data))
    status, _, err = _run(["results", "--figures", str(out)])
    _assert_one_line_error(status, err, names="numerical overflow")
    assert "regenerate it with 'coarsegrad figures'" in err and "(34," not in err


@pytest.mark.parametrize("figure, change, names", [
    ("training_curves", lambda d: d.update(settings=5), "training_curves.json: settings: expected an object"),
    ("training_curves", lambda d: d["settings"].pop("bits"), "training_curves.json: settings: the field 'bits' is missing"),
    ("mnist", lambda d: d.update(runs="abc"), "mnist.json: runs: expected a list, got a string"),
    ("mnist", lambda d: d["runs"][0].update(test_accuracy=["x"]), "mnist.json: runs[0].test_accuracy[0]: expected a number"),
    ("cosine", lambda d: d["runs"].clear(), "cosine.json: runs: the list is empty"),
    ("subspace_success", lambda d: d.update(wendel=[1]), "subspace_success.json: wendel: expected an object"),
    ("alpha_learning", lambda d: d["settings"].update(initial_alpha="1.2"), "alpha_learning.json: settings.initial_alpha"),
    ("subspace_slow_fast", lambda d: d["runs"][0].update(t_star="3"), "subspace_slow_fast.json: runs[0].t_star"),
])
def test_malformed_figure_data_is_one_line_naming_the_field(tmp_path, figure, change, names):
    """'{"settings": 5}' was reported as an internal error asking for a bug report, and missing fields as
    "internal error (KeyError: 'bits')" or "string indices must be integers": it is user input."""
    out = _valid_figure_dir(tmp_path)
    data = json.loads((out / f"{figure}.json").read_text())
    change(data)
    (out / f"{figure}.json").write_text(json.dumps(data))
    status, _, err = _run(["results", "--figures", str(out)])
    _assert_one_line_error(status, err, names=names)
    assert f"coarsegrad figures --only {figure}" in err


@pytest.mark.parametrize("content, names", [
    (b"{not json", "is not valid JSON"), (b"\xff\xfe\x00garbage", "is not a text file"),
    (b"[1, 2]", "training_curves.json: the top level: expected an object"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
])
def test_unreadable_figure_files_are_one_line(tmp_path, content, names):
    out = _valid_figure_dir(tmp_path)
    (out / "training_curves.json").write_bytes(content)
    status, _, err = _run(["results", "--figures", str(out)])
    _assert_one_line_error(status, err, names=names)


def test_a_malformed_manifest_is_one_line(tmp_path):
    out = _valid_figure_dir(tmp_path)
    (out / "manifest.json").write_text('["not", "a", "manifest"]')
    status, _, err = _run(["results", "--figures", str(out)])
    _assert_one_line_error(status, err, names="is not a valid manifest")


def _schema_paths(value, spec, path=()):
    """Every path into ``value`` that the results schema checks (of a list: its first item)."""
    if isinstance(spec, dict):
        for key, sub in spec.items():
            yield path + (key,)
            yield from _schema_paths(value[key], sub, path + (key,))
    elif isinstance(spec, tuple) and spec[0] == "list" and value:
        yield path + (0,)
        yield from _schema_paths(value[0], spec[1], path + (0,))
    elif isinstance(spec, tuple) and spec[0] == "maybe" and value is not None:
        yield from _schema_paths(value, spec[1], path)
    elif isinstance(spec, tuple) and spec[0] == "table" and value:
        key = next(iter(value))
        yield path + (key,)
        yield from _schema_paths(value[key], spec[1], path + (key,))


def _mutations(schema):
    """(figure, path, kind) for every checked field: removed, or replaced by a string, a dict, a list."""
    import copy
    from coarsegrad.figures import FIGURES
    base = {name: json.loads((ROOT / "figures" / f"{name}.json").read_text()) for name in FIGURES}
    for figure, spec in schema.items():
        for path in _schema_paths(base[figure], spec):
            for kind in ("remove", "text", "object", "list"):
                data = {**base, figure: copy.deepcopy(base[figure])}     # only the mutated figure is copied
                parent = data[figure]
                for key in path[:-1]:
                    parent = parent[key]
                if kind == "remove":
                    if isinstance(parent, list):
                        continue
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = {"text": "x", "object": {"a": 1}, "list": [[1]]}[kind]
                yield figure, path, kind, data


def _unchecked_failures(fields):
    """Mutations of the ``fields`` of real figure data that neither the check rejects nor the page renders."""
    from coarsegrad.figures import results as R
    failures = []
    for figure, path, kind, data in _mutations(fields):
        try:
            R.check_figure_data(data)
        except R.FigureDataError:
            continue
        try:
            R.results_markdown(data)
        except Exception as exc:        # noqa: BLE001  (any error here is one the check let through)
            failures.append((figure, path, kind, f"{type(exc).__name__}: {exc}"))
    return failures


@pytest.mark.slow
def test_every_field_the_results_page_reads_is_checked_first():
    """Each field of real figure data, removed or replaced by a value of another type, is either
    rejected by check_figure_data (one line, exit 2) or harmless: results_markdown never fails on data
    the check passed, so an error there is a bug, not bad input."""
    from coarsegrad.figures import results as R
    assert _unchecked_failures(R.SCHEMA) == []


def test_the_field_check_notices_a_field_missing_from_the_schema():
    """Negative control: drop 'bits' from the training_curves schema and the test above fails."""
    import copy
    from coarsegrad.figures import results as R
    schema = copy.deepcopy(R.SCHEMA)
    del schema["training_curves"]["settings"]["bits"]
    saved = R.SCHEMA
    try:
        R.SCHEMA = schema                              # the check without 'bits'; the fields mutated: all
        failures = _unchecked_failures({"training_curves": saved["training_curves"]})
    finally:
        R.SCHEMA = saved
    assert any(path[:2] == ("settings", "bits") for _, path, _, _ in failures), failures


# =========================================================================== issue 17, item 7: outputs

def test_json_dash_is_standard_output_and_the_table_goes_to_stderr(capsys):
    assert main(["verify", "--only", "1", "--json", "-"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)                        # nothing but the JSON on stdout
    assert [c["number"] for c in data["claims"]] == [1]
    assert "1 of 1 claims pass" in captured.err
    assert main(["train", "--epochs", "1", "--hidden", "4", "--quiet", "--json", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["settings"]["hidden"] == 4 and "final:" in captured.err


def test_json_to_dev_stdout_redirected_to_a_file_keeps_the_table(tmp_path):
    """`verify --json /dev/stdout > out.txt` lost the table: the JSON replaced out.txt."""
    done = subprocess.run(f"{sys.executable} -m coarsegrad verify --only 1 --json /dev/stdout > out.txt",
                          shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "out.txt").read_text()
    assert "1 of 1 claims pass" in text
    assert json.loads(text[text.index("\n{") + 1:])["claims"][0]["number"] == 1       # table, then JSON


def test_replacing_dev_stdout_loses_what_was_printed(tmp_path):
    """Negative control: an atomic replace of the file behind /dev/stdout (the old writer) loses the table."""
    code = ("import sys; from coarsegrad import _io; print('the table', flush=True); "
            "_io.write_text('/dev/stdout', '{}')")
    done = subprocess.run(f"{sys.executable} -c \"{code}\" > out.txt", shell=True, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "the table" not in (tmp_path / "out.txt").read_text()


def test_devices_and_pipes_are_written_not_replaced(tmp_path):
    import threading
    null = _io.output("/dev/null", "--json")
    assert null.kind == "direct"             # checked before writing: a regression must not replace /dev/null
    null.write_json({"a": 1})
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    status, _, err = _run(["train", "--epochs", "1", "--hidden", "4", "--quiet", "--json", str(fifo)])
    reader.join(60)
    assert status == 0, err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and json.loads(received[0])["settings"]["hidden"] == 4
    assert _io.output(str(tmp_path / "new.json"), "--json").kind == "atomic"
    assert _io.output("-", "--json").kind == "stdout"


def test_a_block_device_is_refused(monkeypatch):
    from coarsegrad import claims
    devices = [p for p in ("/dev/loop0", "/dev/sda", "/dev/vda", "/dev/nvme0n1", "/dev/ram0")
               if os.path.exists(p) and stat.S_ISBLK(os.stat(p).st_mode)]
    if not devices:
        pytest.skip("no block device on this machine to point at")
    with pytest.raises(ValueError, match="is a block device"):
        _io.output(devices[0], "--json")

    def must_not_run(*args, **kwargs):        # and nothing is ever written to the disk, whatever happens
        raise AssertionError("the work started before the output path was checked")
    monkeypatch.setattr(claims, "run_claims", must_not_run)
    status, _, err = _run(["verify", "--json", devices[0]])
    _assert_one_line_error(status, err, names=f"--json '{devices[0]}' is a block device")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux)")
def test_an_unwritable_json_path_fails_before_the_run_naming_the_option(monkeypatch):
    """`--json /proc/e.json` failed only after the whole run, naming the hidden .part file."""
    from coarsegrad import claims

    def must_not_run(*args, **kwargs):
        raise AssertionError("the work started before the output path was checked")
    monkeypatch.setattr(claims, "run_claims", must_not_run)
    status, _, err = _run(["verify", "--json", "/proc/e.json"])
    _assert_one_line_error(status, err, names="--json '/proc/e.json': cannot write")
    assert ".part" not in err and "[Errno" not in err


@pytest.mark.parametrize("number, names", [(13, "permission denied"), (28, "the disk is full"),
                                           (21, "it is a directory"), (30, "read-only")])
def test_operating_system_errors_name_the_option(tmp_path, monkeypatch, number, names):
    """Bare [Errno 13] / [Errno 21] / [Errno 28] messages did not name the option."""
    import errno as errno_module

    def refuse(*args, **kwargs):
        raise OSError(number, os.strerror(number))
    monkeypatch.setattr(_io.tempfile, "mkstemp", refuse)
    status, _, err = _run(["train", "--epochs", "1", "--quiet", "--json", str(tmp_path / "run.json")])
    _assert_one_line_error(status, err, names="--json")
    assert names in err and "[Errno" not in err
    assert errno_module.errorcode[number]                      # a real errno


def test_a_full_device_names_the_option():
    assert _io.output("/dev/full", "--json").kind == "direct"      # a regression must not replace the device
    status, _, err = _run(["train", "--epochs", "1", "--hidden", "4", "--quiet", "--json", "/dev/full"])
    _assert_one_line_error(status, err, names="--json '/dev/full': cannot write: the disk is full")


def test_concurrent_manifest_updates_lose_no_entry(tmp_path):
    """Two `figures` runs into one --out left a manifest with one entry: each entry is now merged into
    the manifest re-read under a lock on the directory."""
    import threading

    def add(i):
        def change(manifest):
            seen = dict(manifest)
            time.sleep(0.02)                        # widen the read-modify-write window
            manifest.clear()
            manifest.update(seen, **{f"figure{i}": i})
        _io.update_json(tmp_path / "manifest.json", change)
    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads((tmp_path / "manifest.json").read_text()) == {f"figure{i}": i for i in range(8)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]        # no lock file left


def test_manifest_updates_without_the_lock_lose_entries(tmp_path, monkeypatch):
    """Negative control: the same writers without the lock lose entries."""
    import threading
    monkeypatch.setattr(_io, "locked", lambda directory: contextlib.nullcontext())

    def add(i):
        def change(manifest):
            seen = dict(manifest)
            time.sleep(0.02)
            manifest.clear()
            manifest.update(seen, **{f"figure{i}": i})
        _io.update_json(tmp_path / "manifest.json", change)
    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(json.loads((tmp_path / "manifest.json").read_text())) < 8


@pytest.mark.slow
def test_two_figures_processes_into_one_directory_keep_both_entries(tmp_path):
    out = tmp_path / "figs"
    procs = [subprocess.Popen([sys.executable, "-m", "coarsegrad", "figures", "--preset", "tiny", "--only", name,
                               "--out", str(out), "--quiet", "--workers", "1"], stderr=subprocess.PIPE, text=True)
             for name in ("staircase", "cosine")]
    for p in procs:
        assert p.wait(300) == 0, p.stderr.read()
    assert set(json.loads((out / "manifest.json").read_text())["figures"]) == {"staircase", "cosine"}


# =========================================================================== issue 20, item 5: what a newcomer reads

@pytest.mark.slow
def test_regenerating_unchanged_figures_leaves_the_files_byte_identical(tmp_path, monkeypatch):
    """The README's `figures --out figures` left 15 modified tracked files; the manifest's time and
    machine were noise. Unchanged figures now keep their files and their manifest entry."""
    from coarsegrad import figures
    out = tmp_path / "figs"
    argv = ["figures", "--preset", "tiny", "--only", "staircase", "--out", str(out), "--quiet", "--workers", "1"]
    assert _run(argv)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    status, _, err = _run(argv)
    assert status == 0, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # negative control: a figure that draws differently is rewritten, with a new manifest entry
    compute, draw, description = figures.FIGURES["staircase"]

    def redrawn(data):
        fig = draw(data)
        fig.axes[0].plot([0, 1], [0, 1], color="red")
        return fig
    monkeypatch.setitem(figures.FIGURES, "staircase", (compute, redrawn, description))
    assert _run(argv)[0] == 0
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after["staircase.png"] != before["staircase.png"] and after["staircase.json"] == before["staircase.json"]
    assert after["manifest.json"] != before["manifest.json"]


def test_train_reaches_the_round_staircase(tmp_path):
    for convention in ("round", "ceil"):
        path = tmp_path / f"{convention}.json"
        status, _, err = _run(["train", "--epochs", "1", "--hidden", "4", "--quiet", "--convention", convention,
                               "--json", str(path)])
        assert status == 0, err
        assert json.loads(path.read_text())["settings"]["staircase"]["convention"] == convention
    _assert_one_line_error(*_run(["train", "--convention", "floor"])[::2], names="--convention")


@pytest.mark.slow
def test_verify_progress_on_request_only(capsys):
    assert main(["verify", "--only", "1", "2"]) == 0
    assert capsys.readouterr().err == ""                        # stderr is not a terminal here
    assert main(["verify", "--only", "1", "2", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "[verify] claim 1 (1/2): pass" in err and "[verify] claim 2 (2/2): pass" in err


def _columns_aligned(table: str) -> bool:
    """Whether every check row of a text table puts its result in the column of the header's "result"."""
    lines = table.splitlines()
    column = lines[0].index("result")
    rows = [line for line in lines if line.rstrip().endswith(("pass", "FAIL", "(report)", "(skipped)",
                                                               "FAIL (non-finite)"))]
    return bool(rows) and all(line[column - 2:column] == "  " and line[column] not in " " for line in rows)


def test_verify_table_keeps_its_columns_and_explains_them():
    from coarsegrad.claims import Check, ClaimResult
    checks = (Check("a quantity whose description is much longer than the column that holds it, "
                    "so it has to wrap onto the next line", 1.23456789e-300, "<", 1e-8),
              Check("measured value far from a round number", -123456.789, ">=", -1e300),
              Check("shown, not judged", float("nan"), "report"),
              Check("not measured at this preset: coarsegrad verify --full", float("nan"), "skipped"),
              Check("non-finite evidence", float("inf"), "<", 1.0))
    table = cli.format_claims([ClaimResult(3, "a claim", "a setting", checks)])
    assert _columns_aligned(table), table
    assert "rel " not in table.splitlines()[0] and "required" in table.splitlines()[0]
    assert "required: the relation" in table                     # the legend
    skipped = next(line for line in table.splitlines() if "not measured at this preset" in line)
    assert "nan" not in skipped
    markdown = cli.format_claims_markdown([ClaimResult(3, "a claim", "a setting", checks)])
    assert "nan" not in next(line for line in markdown.splitlines() if "not measured" in line)
    assert "| nan |" in markdown                                  # a NaN that was measured is shown
    # negative control: the old layout (a 60-wide check column, long entries) is caught
    old = ("claim check                           measured  rel   threshold  result\n"
           "        a quantity far longer than its sixty-character column, pushing everything  1.235e-300  <  1e-08  pass")
    assert not _columns_aligned(old)


def test_help_does_not_import_matplotlib():
    """`coarsegrad --help` took 1.2 s importing matplotlib."""
    code = ("import sys\nfrom coarsegrad.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib' or m == 'coarsegrad.figures'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
    # negative control: the same probe sees matplotlib once the figures are imported
    done = subprocess.run([sys.executable, "-c", code.replace("import sys\n", "import sys\nimport coarsegrad.figures\n")],
                          capture_output=True, text=True, timeout=120)
    assert "matplotlib" in done.stdout.strip().splitlines()[-1]


def test_the_parser_lists_the_real_figures_and_presets():
    from coarsegrad import figures
    assert cli.FIGURE_NAMES == tuple(figures.FIGURES)
    assert sorted(cli.PRESET_NAMES) == sorted(figures.PRESETS)


_PYTHON_VALUES = re.compile(r"\bNone\b|\{'|\[\d|\b1 seeds\b|times 1\b|\bnan\b")


def test_results_page_equals_docs_results_and_has_no_python_values():
    """`coarsegrad results` leaked Python values into its prose (None, {'1': 1.2221, ...}, "mean over
    1 seeds", "step size times 1"), and must be what docs/results.md says."""
    status, out, err = _run(["results", "--figures", str(ROOT / "figures")])
    assert status == 0, err
    assert out == (ROOT / "docs" / "results.md").read_text()
    assert not _PYTHON_VALUES.findall(out), _PYTHON_VALUES.findall(out)
    # negative control: the old prose is caught
    old = ("learned alpha starts at the authors' values {'1': 1.2221} and takes the weights' step size times 1 "
           "(mean over 1 seeds) | 1 | None | None |")
    assert len(_PYTHON_VALUES.findall(old)) == 5


def test_verify_starts_a_pool_only_when_some_claim_takes_a_while(monkeypatch):
    """Default --workers: the short claims at --quick (outside claims.LONGEST_FIRST) run in this process, where a
    pool would only add its start-up; any longer claim, --full, or --workers given: as asked (control: 1 and 3)."""
    from coarsegrad import claims
    asked = []
    monkeypatch.setattr(claims, "run_claims", lambda preset, **kw: asked.append((preset, kw["workers"])) or [])
    monkeypatch.setattr(cli, "format_claims", lambda results: "")
    short = sorted(set(claims.CLAIMS) - set(claims.LONGEST_FIRST))
    cores = os.cpu_count() or 1
    for argv, workers in ((["--only", *map(str, short)], 1), (["--only", "1", "3"], min(cores, 2)),
                          (["--full", "--only", "1", "2"], min(cores, 2)), (["--only", "1", "2", "--workers", "2"], 2)):
        asked.clear()
        main(["verify", *argv])
        assert asked == [("full" if "--full" in argv else "quick", workers)], (argv, asked)
    help_text = " ".join(_run(["verify", "--help"])[1].split())
    assert f"short at --quick: {', '.join(map(str, short))};" in help_text, "the help names the short claims"
