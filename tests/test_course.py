"""The course: coarsegrad.course.check judges answers (and rejects wrong ones helpfully), the build
writes a student set without solutions and an instructor set with them, and the instructor
notebooks execute with every exercise's check passing."""
import doctest
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

import coarsegrad.course as course
from coarsegrad.course import EXERCISES, WrongAnswer, check, compare

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "docs" / "course"
NOTEBOOKS = sorted(p.stem for p in COURSE.glob("[0-9][0-9]_*.md"))
NEEDS = "the course extra is not installed (pip install -e '.[test]' includes it: jupytext, nbformat, nbclient, ipykernel)"


def _build_module():
    spec = importlib.util.spec_from_file_location("build_course", ROOT / "scripts" / "build_course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------------------------
# check() and compare()
# ----------------------------------------------------------------------------------------------

def test_the_docstring_example_runs():
    failures, tried = doctest.testmod(course, verbose=False)
    assert tried >= 2 and failures == 0


@pytest.mark.parametrize("exercise_id", [k for k, ex in EXERCISES.items() if ex.accept is None])
def test_the_expected_answer_passes_its_check(exercise_id):
    verdict = check(exercise_id, EXERCISES[exercise_id].expected())
    assert verdict and verdict.exercise_id == exercise_id and "correct" in str(verdict)


def test_answers_derived_by_hand_pass():
    assert check("1.1", 1.25) and check("1.2", [0.25, 0.75, 1.25]) and check("2.1", ["m2"])
    assert check("3.1", 0.35) and check("3.2", 1 / 3) and check("4.1", 0.5) and check("4.2", 1 / 8)
    assert check("5.1", 2) and check("5.3", 7) and check("3.3", -1.0)
    assert check("1.3", 0.1592)                 # a Monte Carlo estimate within the stated 2e-3
    half = ("half", lambda z, s: np.clip(z, 0, s.top / 2), lambda z, s: ((z > 0) & (z <= s.top / 2)).astype(float))
    assert check("2.3", half)


def _message(exercise_id, answer) -> str:
    with pytest.raises(WrongAnswer) as info:
        check(exercise_id, answer)
    return str(info.value)


def test_a_wrong_number_fails_with_a_helpful_message():
    # Negative control: 1.5 is sigma(1.1) without the right count of thresholds.
    message = _message("1.1", 1.5)
    assert "exercise 1.1" in message and "too large" in message and "Hint:" in message
    assert "1.25" not in message                # the message does not give the answer away
    assert "too small" in _message("4.1", 0.25)


def test_missing_malformed_and_non_finite_answers_fail_with_what_is_off():
    assert "no answer yet" in _message("2.2", ...)
    assert "no answer yet" in _message("2.3", ...)
    assert "expected shape (3,)" in _message("1.2", [0.25, 0.75])
    assert "NaN or infinity" in _message("3.2", float("nan"))
    assert "whole number" in _message("5.3", 7.5)
    assert "1 name(s) missing and 1 not expected" in _message("2.1", ("M3",))
    assert "expected a number" in _message("3.1", "0.35")


def test_an_ste_violating_more_than_m3_is_rejected():
    # Negative control: zero at the bottom and then rising breaks M4 as well.
    bottom = ("bottom", lambda z, s: np.clip(z - s.top / 2, 0, None),
              lambda z, s: (z > s.top / 2).astype(float))
    message = _message("2.3", bottom)
    assert "not M3 alone" in message and "M4" in message
    assert "could not use your STE" in _message("2.3", 42)


def test_an_unknown_exercise_names_the_known_ones():
    with pytest.raises(KeyError, match="exercise_id: no exercise '9.9'.*1.1, 1.2"):
        check("9.9", 1.0)


@given(expected=st.floats(-1e6, 1e6), rel=st.floats(-0.5, 0.5))
def test_compare_accepts_exactly_within_the_tolerance(expected, rel):
    rtol, atol = 1e-3, 1e-9
    answer = expected * (1 + rel)
    ok, reason = compare(answer, expected, rtol=rtol, atol=atol)
    assert ok == bool(abs(answer - expected) <= atol + rtol * abs(expected))
    assert ok or reason


def test_compare_arrays_names_and_booleans():
    assert compare(np.ones((2, 2)), np.ones((2, 2)))[0]
    ok, reason = compare(np.array([[1, 1], [1, 2.0]]), np.ones((2, 2)))
    assert not ok and "1 of 4 entries are off; the worst is at index (1, 1)" in reason
    assert compare(True, True)[0] and not compare(False, True)[0] and not compare(1, True)[0]
    assert compare({"M2", "M3"}, ("m3", "m2"))[0]


def _non_public_uses(code: str) -> list:
    """Names a notebook takes from coarsegrad that are not public: imports, and ``cg.X``, ``P.X``,
    ``S.X`` for the aliases the notebooks use (coarsegrad, its population and subspaces modules)."""
    import importlib
    aliases = {"cg": "coarsegrad", "P": "coarsegrad.population", "S": "coarsegrad.subspaces"}
    bad = []
    for module, names in re.findall(r"^\s*from (coarsegrad(?:\.\w+)?) import ([\w, ]+)", code, flags=re.M):
        public = getattr(importlib.import_module(module), "__all__", [])
        for name in (n.split(" as ")[0].strip() for n in names.split(",")):
            submodule = importlib.util.find_spec(f"{module}.{name}") if module == "coarsegrad" else None
            if name not in public and not (submodule and not name.startswith("_")):
                bad.append(f"{module}.{name}")
    for alias, attr in re.findall(r"\b(cg|P|S)\.(\w+)", code):
        if attr not in importlib.import_module(aliases[alias]).__all__:
            bad.append(f"{aliases[alias]}.{attr}")
    return bad


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_notebooks_use_only_the_public_api(name):
    code = "\n".join(re.findall(r"```\{code-cell\} ipython3\n(.*?)```", (COURSE / f"{name}.md").read_text(), flags=re.S))
    assert "import coarsegrad as cg" in code
    assert _non_public_uses(code) == []


def test_the_public_api_check_catches_private_names():
    # Negative control.
    code = "from coarsegrad._checks import make_rng\nfrom coarsegrad.nets import _check_mlp\nx = cg._io\ny = P.not_there"
    assert _non_public_uses(code) == ["coarsegrad._checks.make_rng", "coarsegrad.nets._check_mlp", "coarsegrad._io",
                                      "coarsegrad.population.not_there"]


# ----------------------------------------------------------------------------------------------
# The build: one source, two sets
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("jupytext", reason=NEEDS)
    pytest.importorskip("nbformat", reason=NEEDS)
    build = _build_module()
    dest = tmp_path_factory.mktemp("course")
    return build, build.build(dest)


def _solution_lines(build, source_nb) -> set:
    """The code of every solution cell: its non-blank, non-comment lines."""
    return {line.strip() for cell in source_nb.cells if build.is_solution(cell)
            for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#")}


def _leaks(build, nb, source_nb) -> list:
    lines = _solution_lines(build, source_nb)
    return [line.strip() for cell in nb.cells for line in cell.source.splitlines() if line.strip() in lines]


def test_the_build_writes_five_notebooks_of_each_kind(built):
    _, written = built
    assert len(NOTEBOOKS) == 5
    for kind in ("student", "instructor"):
        assert [p.stem for p in written[kind]] == NOTEBOOKS
        assert all(p.parent.name == kind and p.exists() for p in written[kind])


def test_the_student_set_has_no_solution_code(built):
    import nbformat
    build, written = built
    for path in written["student"]:
        source = build.read(COURSE / (path.stem + ".md"))
        student = nbformat.read(path, as_version=4)
        assert _solution_lines(build, source), f"{path.stem} has no solution cells"
        assert _leaks(build, student, source) == [], path.stem
        assert not any(build.is_solution(cell) for cell in student.cells)
        # Each stub names exactly the answers its solution assigns, left as `...`.
        stubs = [c.source for c in student.cells if "answer" in c.metadata.get("tags", [])]
        solutions = [c.source for c in source.cells if build.is_solution(c)]
        assert len(stubs) == len(solutions)
        for stub, solution in zip(stubs, solutions):
            assert re.findall(r"^(answer\w*) = \.\.\.$", stub, flags=re.M) == build.answer_names(solution)
        assert all(not cell.get("outputs") for cell in student.cells if cell.cell_type == "code")


def test_the_leak_detector_finds_solutions_in_the_instructor_set(built):
    # Negative control of the test above: the instructor set does contain the solutions.
    import nbformat
    build, written = built
    for path in written["instructor"]:
        source = build.read(COURSE / (path.stem + ".md"))
        instructor = nbformat.read(path, as_version=4)
        assert sorted(_leaks(build, instructor, source)) == sorted(
            line.strip() for c in source.cells if build.is_solution(c) for line in c.source.splitlines()
            if line.strip() and not line.strip().startswith("#"))
        assert [c.source for c in instructor.cells] == [c.source for c in source.cells]


def test_every_exercise_is_in_a_notebook_with_a_check_after_its_solution():
    text = {name: (COURSE / f"{name}.md").read_text() for name in NOTEBOOKS}
    checked = [eid for t in text.values() for eid in re.findall(r'check\("(\d\.\d)", answer_', t)]
    assert sorted(checked) == sorted(EXERCISES)


def test_a_solution_without_an_answer_name_stops_the_build(tmp_path, built):
    build, _ = built
    (tmp_path / "01_bad.md").write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n# Bad\n\n"
        "```{code-cell} ipython3\n:tags: [solution]\n\nx = 1\n```\n")
    with pytest.raises(ValueError, match="must assign an answer_\\* name"):
        build.build(tmp_path / "out", directory=tmp_path)


# ----------------------------------------------------------------------------------------------
# Execution: the instructor set passes every check; the student set stops at the first one
# ----------------------------------------------------------------------------------------------

#: The notebooks run one after another in one kernel (a kernel costs ~2 s to start and to import numpy, matplotlib
#: and coarsegrad), each from an empty namespace (``%reset -f``) with every figure closed and in its own
#: directory. Each notebook in a fresh kernel of its own is what the documentation build does (ci/docs.sh,
#: ``nb_execution_mode = "force"``; .ci/run step 3). Under pytest-xdist the tests that read the run share a worker.
COURSE_KERNEL = pytest.mark.xdist_group("course_kernel")

_RESET = "%reset -f\nimport os as _os, matplotlib.pyplot as _plt\n_plt.close('all'); _os.chdir({dir!r})\n%reset -f"


def _errors(cells) -> list:
    """``(cell number, ename, evalue)`` of every error a cell raised, in order; a cell tagged
    ``raises-exception`` may raise (as nbclient allows it)."""
    return [(i, o["ename"], o["evalue"]) for i, c in enumerate(cells) if c.cell_type == "code"
            and "raises-exception" not in c.metadata.get("tags", [])
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.fixture(scope="module")
def executed(built):
    """Every instructor notebook, then the first student notebook, executed in one kernel: ``{(set, name): cells}``.
    Errors are recorded in the cells' outputs (``allow_errors``), so a failing notebook fails its own test only."""
    pytest.importorskip("nbclient", reason=NEEDS)
    pytest.importorskip("ipykernel", reason=NEEDS)
    import nbclient
    import nbformat
    _, written = built
    paths = [("instructor", p) for p in written["instructor"]] + [("student", written["student"][0])]
    combined, spans = nbformat.v4.new_notebook(), {}
    for kind, path in paths:
        nb = nbformat.read(path, as_version=4)
        combined.metadata = combined.metadata or nb.metadata
        combined.cells.append(nbformat.v4.new_code_cell(_RESET.format(dir=str(path.parent))))
        spans[kind, path.stem] = (len(combined.cells), len(combined.cells) + len(nb.cells))
        combined.cells.extend(nb.cells)
    nbclient.NotebookClient(combined, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(paths[0][1].parent)}}).execute()
    resets = [combined.cells[a - 1] for a, _ in spans.values()]
    assert _errors(resets) == [], "resetting the kernel between notebooks failed"
    return {key: combined.cells[a:b] for key, (a, b) in spans.items()}


@COURSE_KERNEL
@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_instructor_notebook_runs_and_every_check_passes(name, executed):
    cells = executed["instructor", name]
    errors = _errors(cells)
    assert errors == [], f"{name}: cell {errors[0][0]} raised {errors[0][1]}: {errors[0][2]}" if errors else ""
    results = [o["data"]["text/plain"] for c in cells if c.cell_type == "code" for o in c.outputs
               if o.get("output_type") == "execute_result" and "Verdict(" in o["data"]["text/plain"]]
    expected = sorted(k for k in EXERCISES if k.startswith(name[1] + "."))
    assert sorted(re.search(r"exercise_id='([\d.]+)'", r).group(1) for r in results) == expected
    assert all("correct=True" in r for r in results)


@COURSE_KERNEL
@pytest.mark.slow
def test_the_student_notebook_stops_at_the_first_unanswered_check(executed):
    """Run as a student runs it (stopping at the first error), the notebook stops at exercise 1.1's check."""
    first_error = _errors(executed["student", NOTEBOOKS[0]])[:1]
    assert first_error and re.search("exercise 1.1 .*no answer yet", first_error[0][2]), first_error


def test_errors_are_read_from_every_code_cell_in_order():
    """Negative control of the shared run: an error output anywhere in a notebook is found, with its cell."""
    import nbformat
    ok = nbformat.v4.new_code_cell("1", outputs=[nbformat.v4.new_output("execute_result", data={"text/plain": "1"})])
    bad = nbformat.v4.new_code_cell("check('1.1', ...)", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="x"),
        nbformat.v4.new_output("error", ename="WrongAnswer", evalue="exercise 1.1 no answer yet", traceback=[])])
    later = nbformat.v4.new_code_cell("1/0", outputs=[nbformat.v4.new_output("error", ename="ZeroDivisionError",
                                                                            evalue="division by zero", traceback=[])])
    cells = [nbformat.v4.new_markdown_cell("# text"), ok, bad, ok, later]
    assert _errors(cells) == [(2, "WrongAnswer", "exercise 1.1 no answer yet"), (4, "ZeroDivisionError", "division by zero")]
    later.metadata["tags"] = ["raises-exception"]
    assert _errors(cells) == [(2, "WrongAnswer", "exercise 1.1 no answer yet")]
    assert _errors([ok, nbformat.v4.new_markdown_cell("no outputs")]) == []
