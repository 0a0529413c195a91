"""Atomic file writing: a file is either fully written or not there at all.

Each writer writes to a temporary file in the destination's directory and renames it
over the destination (``os.replace`` is atomic on POSIX and Windows), so an interrupted
run never leaves a half-written file and never destroys the previous version.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__: list[str] = []


def check_writable_dir(path, name: str = "out") -> Path:
    """Create ``path`` if needed and check that files can be written there."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{name} {str(path)!r} exists and is not a directory; choose a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(f"cannot create {name} directory {str(path)!r}: {exc.strerror}; "
                              f"choose a directory you can write to") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f"{name} directory {str(path)!r} is not writable; choose a directory you can write to")
    return path


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success rename it over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_default) + "\n")


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _default(x):
    import numpy as np
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    raise TypeError(f"cannot write {type(x).__name__} as JSON")
