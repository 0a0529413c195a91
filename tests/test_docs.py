"""The teaching material runs: the tutorial's and the exercises' code blocks execute in order
(their asserts check the answers), the API reference is current, and links resolve."""
import contextlib
import importlib.util
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_markdown(path: Path) -> str:
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)
    assert blocks, f"{path} has no python blocks"
    namespace = {"__name__": f"__{path.stem}__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for i, block in enumerate(blocks):
            exec(compile(block, f"{path.name} block {i}", "exec"), namespace)
    return out.getvalue()


@pytest.mark.slow
def test_tutorial_runs(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    out = _run_markdown(ROOT / "docs" / "tutorial.md")
    assert "training accuracy 1.0" in out


@pytest.mark.slow
def test_exercises_run_and_their_answers_hold(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    out = _run_markdown(ROOT / "docs" / "exercises.md")
    assert "first j with f(end) > f(start)" in out


def test_api_reference_is_current():
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "scripts" / "gen_api.py")
    gen_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_api)
    assert (ROOT / "docs" / "api.md").read_text() == gen_api.render(), \
        "docs/api.md is stale: run python scripts/gen_api.py"


def test_every_public_function_has_a_docstring():
    import inspect
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "scripts" / "gen_api.py")
    gen_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_api)
    missing = []
    for name in gen_api.MODULES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and not (obj.__doc__ or "").strip():
                missing.append(f"{name}.{attr}")
    assert not missing, missing


@pytest.mark.parametrize("doc", ["README.md", "docs/theory.md", "docs/paper-notes.md", "docs/findings.md",
                                 "docs/results.md", "docs/tutorial.md", "docs/exercises.md", "docs/api.md",
                                 "docs/bad-input.md", "docs/performance.md", "docs/testing.md", "CHANGELOG.md"])
def test_relative_links_resolve(doc):
    path = ROOT / doc
    assert path.exists(), f"{doc} is missing"
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)      # code blocks hold formulas, not links
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" in target:
            continue
        assert (path.parent / target).exists(), f"{doc} links to {target}, which does not exist"


def test_package_docstring_examples_run():
    import doctest
    import coarsegrad
    failures, tried = doctest.testmod(coarsegrad, verbose=False)
    assert tried >= 3 and failures == 0
