"""The README's examples run as written and print what the README says they print."""
import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks():
    text = README.read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_setup_and_test_commands():
    text = README.read_text()
    assert 'pip install -e ".[test]"' in text
    assert "python -m pytest" in text


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _blocks()[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md block {index}", "exec"), {"__name__": "__readme__"})
    # A block may state its output in a trailing "# prints: ..." comment; check it.
    for expected in re.findall(r"# prints: (.*)", code):
        assert expected.strip() in out.getvalue(), f"README block {index}: expected {expected!r} in {out.getvalue()!r}"
