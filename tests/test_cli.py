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


def test_figure_runs_report_progress_on_long_steps():
    lines = []
    runs = cli._Runs(1, None, lines.append)
    runs.label = "mnist"
    assert runs(_sleepy, [0.7, 0.7, 0.7, 0.7]) == [0.7] * 4
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
    for w in workers:
        w.join(5)
    assert time.perf_counter() - start < 5 and not any(w.is_alive() for w in workers)


def _sleepy(seconds):
    time.sleep(seconds)
    return seconds


# --------------------------------------------------------------------------- finding 3: presets never mixed

def test_default_output_is_not_the_committed_figures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "figures").mkdir()
    assert _run(["figures", "--preset", "tiny", "--only", "staircase", "--quiet"])[0] == 0
    assert (tmp_path / "figures-out" / "staircase.png").exists()
    assert list((tmp_path / "figures").iterdir()) == []


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


def test_unreachable_scheduler_is_one_line(tmp_path):
    pytest.importorskip("distributed", reason="installed by the test extra")
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
