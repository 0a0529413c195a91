"""Write the course's student and instructor notebooks from one source.

    python scripts/build_course.py DIR              # DIR/student/*.ipynb and DIR/instructor/*.ipynb
    python scripts/build_course.py DIR --execute    # also run the instructor set (outputs kept), timed

The source is docs/course/NN_*.md: MyST notebooks kept as text (jupytext), no outputs. A cell
tagged ``solution`` is a solution, marked once, in the source:

- the instructor set keeps it as it is;
- the student set gets, in its place, a stub that names the answer variables the solution
  assigns (``answer_2_1 = ...``) -- the check cell after it then says "no answer yet" until the
  student fills it in. A solution in a Markdown cell becomes "*Your answer here.*".

Every solution code cell must assign at least one ``answer_*`` name (else the student could not
know what to fill in): the build fails otherwise. Needs the ``course`` extra
(``pip install -e ".[course]"``: jupytext, nbformat; nbclient and ipykernel for ``--execute``).
"""
from __future__ import annotations

import argparse
import ast
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "docs" / "course"
SOLUTION_TAG = "solution"
STUB_TAG = "answer"


def sources(directory: Path = SOURCE) -> list[Path]:
    """The course notebooks' text sources, in order (``NN_name.md``)."""
    found = sorted(p for p in Path(directory).glob("[0-9][0-9]_*.md"))
    if not found:
        raise FileNotFoundError(f"no course notebooks (NN_name.md) in {directory}")
    return found


def read(path: Path):
    """A source as an nbformat notebook, without the jupytext text-format metadata."""
    import jupytext
    nb = jupytext.read(path, fmt="md:myst")
    nb.metadata.pop("jupytext", None)
    return nb


def is_solution(cell) -> bool:
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def answer_names(source: str) -> list[str]:
    """The ``answer_*`` names a solution cell assigns at top level, in order."""
    names = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name) and leaf.id.startswith("answer") and leaf.id not in names:
                    names.append(leaf.id)
    return names


def instructor(nb):
    """The instructor version: the source as it is, solutions included."""
    return copy.deepcopy(nb)


def student(nb, name: str = "notebook"):
    """The student version: every solution cell replaced by a stub (see the module docstring)."""
    out = copy.deepcopy(nb)
    for i, cell in enumerate(out.cells):
        if not is_solution(cell):
            continue
        tags = [t for t in cell.metadata.get("tags", []) if t != SOLUTION_TAG] + [STUB_TAG]
        cell.metadata["tags"] = tags
        if cell.cell_type == "markdown":
            cell.source = "*Your answer here.*"
            continue
        names = answer_names(cell.source)
        if not names:
            raise ValueError(f"{name}, cell {i}: a solution cell must assign an answer_* name, "
                             "so the student version can say what to fill in")
        cell.source = "# Your solution here; then run the check below.\n" + "\n".join(f"{n} = ..." for n in names)
    return out


def _write(nb, path: Path) -> None:
    """Write a notebook atomically (a reader never sees half a file)."""
    import nbformat
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            nbformat.write(nb, fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def build(dest, directory: Path = SOURCE) -> dict:
    """Write ``dest/student/NN_name.ipynb`` and ``dest/instructor/NN_name.ipynb`` for every source.

    Returns ``{"student": [paths], "instructor": [paths]}``.
    """
    import nbformat
    dest = Path(dest)
    written = {"student": [], "instructor": []}
    for path in sources(directory):
        nb = read(path)
        for kind, make in (("instructor", instructor), ("student", lambda n: student(n, path.name))):
            version = make(nb)
            nbformat.validate(version)
            target = dest / kind / (path.stem + ".ipynb")
            _write(version, target)
            written[kind].append(target)
    return written


def execute(path: Path, timeout: int = 300) -> float:
    """Run a notebook in place with nbclient (its working directory: the notebook's); return seconds."""
    import nbclient
    import nbformat
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    _write(nb, path)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="output directory (gets student/ and instructor/)")
    parser.add_argument("--execute", action="store_true",
                        help="run the instructor notebooks in place and report each one's time")
    args = parser.parse_args(argv)
    written = build(args.dest)
    print(f"wrote {len(written['student'])} student and {len(written['instructor'])} instructor notebooks "
          f"to {args.dest}", file=sys.stderr)
    if args.execute:
        for path in written["instructor"]:
            print(f"{path.name}: {execute(path):.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
