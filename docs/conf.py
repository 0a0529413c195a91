"""Sphinx configuration of the coarsegrad documentation site.

Build (the ``docs`` extra: ``pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs build/site

or ``bash ci/docs.sh``. The Markdown pages of docs/ are the sources (MyST, through myst-nb);
the course notebooks (docs/course/*.md, MyST text notebooks) are executed at build time
(``-D nb_execution_mode=off`` skips that); the API reference (reference.rst) is generated from
the numpy-style docstrings by autodoc + napoleon, one section per public module found in the
package, so a new module needs no edit here. Figures are read from figures/, never computed.
"""
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import coarsegrad  # noqa: E402

project = "coarsegrad"
author = "coarsegrad developers"
copyright = "coarsegrad developers, MIT licence"
release = version = coarsegrad.__version__

extensions = [
    "myst_nb",                     # Markdown pages and executed notebooks (includes myst-parser)
    "sphinx.ext.autodoc",          # the API reference, from the docstrings
    "sphinx.ext.napoleon",         # ... written in numpy style
    "sphinx.ext.mathjax",          # formulas: $...$, $$...$$ and .. math::
]
exclude_patterns = ["_build"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
root_doc = "index"

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 4           # `theory.md#section` links resolve as on GitHub

nb_execution_mode = "force"        # the notebooks run at every build: they cannot rot
nb_execution_raise_on_error = True
nb_execution_timeout = 300
nb_merge_streams = True

autodoc_member_order = "bysource"
autodoc_typehints = "none"         # the numpy-style "Parameters" sections carry the types
autodoc_default_options = {"members": True, "undoc-members": True}   # constants of __all__ have no docstring
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True           # "Attributes" as fields: dataclass fields are not described twice
napoleon_use_param = False         # types as text: "shape (n, K)" is not a cross-reference to some attribute K
napoleon_use_rtype = False

html_theme = "alabaster"
html_title = f"coarsegrad {release}"
html_static_path = []


def public_modules():
    """The package's public modules, one level down (a subpackage is documented by its ``__all__``)."""
    names = []
    for info in pkgutil.iter_modules(coarsegrad.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"coarsegrad.{info.name}")
        if getattr(module, "__all__", None):
            names.append(module.__name__)
    return sorted(names)


def reference_rst() -> str:
    """The API reference: the package's re-exports, then every public module's ``__all__``."""
    lines = []
    for name in coarsegrad.__all__:
        obj = getattr(coarsegrad, name)
        home = getattr(obj, "__module__", None)
        if isinstance(obj, type(coarsegrad)):
            lines.append(f"- ``coarsegrad.{name}``: :py:mod:`{obj.__name__}`")
        elif home and home.startswith("coarsegrad.") and hasattr(obj, "__qualname__"):
            lines.append(f"- ``coarsegrad.{name}``: :py:obj:`{home}.{obj.__qualname__}`")
        elif name == "__version__":
            lines.append(f"- ``coarsegrad.__version__``: ``{coarsegrad.__version__!r}``")
        else:
            owner = next(m for m in public_modules() if name in importlib.import_module(m).__all__)
            lines.append(f"- ``coarsegrad.{name}``: :py:data:`{owner}.{name}`")
    text = ["", "The names ``import coarsegrad`` gives, and where each is documented:", ""] + lines + [""]
    for name in public_modules():
        module = importlib.import_module(name)
        # autodoc finds a constant only by its assignment in the module's own source; a constant
        # re-exported by a package, or without a doc comment, would be left out: list them explicitly.
        data = [n for n in module.__all__ if not (inspect.isclass(getattr(module, n)) or inspect.isroutine(getattr(module, n))
                                                  or inspect.ismodule(getattr(module, n)))]
        text += [name, "-" * len(name), "", f".. automodule:: {name}"]
        text += [f"   :exclude-members: {', '.join(data)}", ""] if data else [""]
        for n in data:
            text += [f".. autodata:: {name}.{n}"]
            text += ["   :no-value:", ""] if len(repr(getattr(module, n))) > 120 else [""]
    return "\n".join(text)


def readme_md() -> str:
    """README.md with its links made relative to docs/ (the site's pages and the repository's files)."""
    text = (ROOT / "README.md").read_text()
    text = re.sub(r"\]\(docs/", "](", text)
    text = re.sub(r"\]\((figures/[^)]*)\)", r"](../\1)", text)
    return text.replace("](CHANGELOG.md)", "](changelog.md)")


def _inject(app, docname, source):
    if docname == "reference":
        source[0] = source[0].replace(".. coarsegrad-reference::", reference_rst())
    elif docname == "readme":
        source[0] = readme_md()


def _literal_types(app, what, name, obj, options, lines):
    """Show a docstring's attribute types as written: the Python domain would make every word of
    ``ndarray, shape (n, K)`` a cross-reference, and ``K`` matches several attributes."""
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*:vartype [^:]+:\s*)(.+)$", line)
        if match and "`" not in match.group(2):
            lines[i] = f"{match.group(1)}``{match.group(2).strip()}``"


def _no_type_docstring(app, what, name, obj, options, lines):
    """A constant without a doc comment would show its type's docstring (``dict``'s, ``tuple``'s):
    show its value alone."""
    if what in ("data", "attribute") and not inspect.isclass(obj) and not inspect.isroutine(obj):
        doc = getattr(type(obj), "__doc__", None)
        own = inspect.cleandoc(doc).splitlines() if isinstance(doc, str) else []
        if own and [line.rstrip() for line in lines if line.strip()] == [line.rstrip() for line in own if line.strip()]:
            lines.clear()


def setup(app):
    app.connect("source-read", _inject)
    app.connect("autodoc-process-docstring", _no_type_docstring, priority=400)   # before napoleon (500)
    app.connect("autodoc-process-docstring", _literal_types, priority=600)   # after napoleon (500)
