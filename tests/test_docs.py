"""The teaching material runs: the tutorial's and the exercises' code blocks execute in order
(their asserts check the answers), and links resolve. The documentation site (Sphinx, docs/conf.py)
names every public name in its API reference and has no broken internal link."""
import contextlib
import importlib.util
import io
import os
import re
from html.parser import HTMLParser
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


def _public_modules():
    """The modules the API reference documents (docs/conf.py decides; it needs no Sphinx to import)."""
    spec = importlib.util.spec_from_file_location("docs_conf", ROOT / "docs" / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf.public_modules()


def test_every_public_function_has_a_docstring():
    import inspect
    missing = []
    for name in ["coarsegrad"] + _public_modules():
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and not (obj.__doc__ or "").strip():
                missing.append(f"{name}.{attr}")
    assert not missing, missing


@pytest.mark.parametrize("doc", ["README.md", "docs/theory.md", "docs/paper-notes.md", "docs/findings.md",
                                 "docs/results.md", "docs/tutorial.md", "docs/exercises.md", "docs/figures.md",
                                 "docs/bad-input.md", "docs/performance.md", "docs/testing.md", "CHANGELOG.md",
                                 "docs/index.md", "docs/course/index.md"]
                         + [f"docs/course/{p.name}" for p in sorted((ROOT / "docs" / "course").glob("[0-9]*.md"))])
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


def test_the_figures_page_shows_every_committed_figure():
    shown = set(re.findall(r"\.\./figures/(\w+)\.png", (ROOT / "docs" / "figures.md").read_text()))
    committed = {p.stem for p in (ROOT / "figures").glob("*.png")}
    assert shown == committed, f"docs/figures.md misses {committed - shown}, shows absent {shown - committed}"


# ----------------------------------------------------------------------------------------------
# The built site. ci/docs.sh builds it (notebooks executed, -W) and points COARSEGRAD_SITE at it;
# without that, the fixture builds it here, notebooks not executed (test_course.py runs them).
# ----------------------------------------------------------------------------------------------

#: The three tests on the built site share one build (a module fixture): under pytest-xdist they go to one
#: worker (tests/conftest.py makes ``-n`` distribute by these groups), or each worker would build it (13 s).
SITE = pytest.mark.xdist_group("docs_site")

SITE_NEEDS = "the docs extra is not installed (pip install -e '.[docs]': sphinx, myst-nb); ci/docs.sh runs these"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if os.environ.get("COARSEGRAD_SITE"):
        return Path(os.environ["COARSEGRAD_SITE"])
    pytest.importorskip("sphinx", reason=SITE_NEEDS)
    pytest.importorskip("myst_nb", reason=SITE_NEEDS)
    import subprocess
    import sys
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          "-D", "nb_execution_mode=off", "-d", str(out / ".doctrees"), str(ROOT / "docs"), str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, f"the site does not build with warnings as errors:\n{run.stderr[-4000:]}"
    return out


def _inventory(site_dir: Path) -> set:
    from sphinx.util.inventory import InventoryFile
    with open(site_dir / "objects.inv", "rb") as fh:
        inv = InventoryFile.load(fh, "", lambda base, uri: uri)
    names = set()
    for objects in (inv.data if hasattr(inv, "data") else inv).values():
        names.update(objects)
    return names


def _missing_names(documented: set, modules: dict) -> list:
    """Public names (module -> its __all__) that no documented object is: documented under their own
    module, or as the object they re-export (``coarsegrad.Staircase`` is ``coarsegrad.quant.Staircase``)."""
    by_last = {}
    for full in documented:
        by_last.setdefault(full.rsplit(".", 1)[-1], []).append(full)
    missing = []
    for module_name, names in modules.items():
        module = importlib.import_module(module_name)
        for name in names:
            if f"{module_name}.{name}" in documented:
                continue
            obj = getattr(module, name, None)
            same = [full for full in by_last.get(name, []) if full.startswith("coarsegrad.")
                    and getattr(importlib.import_module(full.rsplit(".", 1)[0]), name, object()) is obj]
            if not same and not (hasattr(obj, "__name__") and obj.__name__ in documented):   # a subpackage
                missing.append(f"{module_name}.{name}")
    return missing


@pytest.mark.slow
@SITE
def test_site_reference_documents_every_public_name(site):
    import coarsegrad
    documented = _inventory(site)
    modules = {name: importlib.import_module(name).__all__ for name in ["coarsegrad"] + _public_modules()}
    modules["coarsegrad"] = [n for n in modules["coarsegrad"] if n != "__version__"]   # a string, shown as text
    assert _missing_names(documented, modules) == []
    assert f"coarsegrad.__version__</span></code>: <code class=\"docutils literal notranslate\"><span class=\"pre\">" \
           f"'{coarsegrad.__version__}'" in (site / "reference.html").read_text()
    # Negative control: a name nobody documented is reported.
    assert _missing_names(documented, {"coarsegrad.quant": ["Staircase", "not_a_public_name"]}) == \
        ["coarsegrad.quant.not_a_public_name"]


class _Links(HTMLParser):
    """The link targets (href, src) and the anchors (id, name) of one HTML page."""

    def __init__(self):
        super().__init__()
        self.targets, self.anchors = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.anchors.update(v for k, v in attrs.items() if k in ("id", "name") and v)
        self.targets += [attrs[key] for key in ("href", "src") if attrs.get(key)]


def _broken_links(site_dir: Path) -> list:
    """Every internal href/src of every page whose file or #anchor does not exist."""
    from urllib.parse import unquote, urlsplit
    pages = {}
    for page in site_dir.rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text(errors="replace"))
        pages[page.resolve()] = parser
    broken = []
    for page, parser in pages.items():
        for target in parser.targets:
            parts = urlsplit(target)
            if parts.scheme or target.startswith("//"):
                continue                                   # external: not this site's business
            path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not path.exists():
                broken.append(f"{page.relative_to(site_dir.resolve())}: {target} (no such file)")
            elif parts.fragment and path.suffix == ".html" and unquote(parts.fragment) not in pages[path].anchors:
                broken.append(f"{page.relative_to(site_dir.resolve())}: {target} (no such anchor)")
    return broken


@pytest.mark.slow
@SITE
def test_site_internal_links_resolve(site, tmp_path):
    assert len(list(site.rglob("*.html"))) >= 15
    assert _broken_links(site) == []
    # Negative control: a page with a missing file and a missing anchor.
    (tmp_path / "a.html").write_text('<p id="here"><a href="b.html">b</a> <a href="a.html#gone">x</a> '
                                     '<a href="#here">ok</a> <img src="img/none.png"></p>')
    assert sorted(_broken_links(tmp_path)) == ["a.html: a.html#gone (no such anchor)", "a.html: b.html (no such file)",
                                               "a.html: img/none.png (no such file)"]


@pytest.mark.slow
@SITE
def test_site_renders_the_formulas_figures_and_notebooks(site):
    theory = (site / "reference.html").read_text()
    assert "math notranslate nohighlight" in theory          # docstring formulas (.. math::) go to MathJax
    assert "mathjax" in theory.lower()
    notebook = (site / "course" / "01_staircase.html").read_text()
    assert "math notranslate nohighlight" in notebook
    assert "answer_1_1" in notebook
    if os.environ.get("COARSEGRAD_SITE"):                      # ci/docs.sh: built with the notebooks executed
        assert notebook.count("correct=True") == 3            # the checks' verdicts are shown
    tutorial = (site / "tutorial.html").read_text()
    assert tutorial.count('class="math notranslate nohighlight"') >= 6      # the tutorial's display formulas
    figures = (site / "figures.html").read_text()
    assert figures.count("<img") == len(list((ROOT / "figures").glob("*.png")))
