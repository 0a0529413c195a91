"""Atomic file writing: a file is either fully written or not there at all.

Each writer writes to a temporary file in the destination's directory and renames it
over the destination (``os.replace`` is atomic on POSIX and Windows), so an interrupted
run never leaves a half-written file and never destroys the previous version.

- New files get the permissions any program's would: ``0666`` minus the umask (a bare
  ``mkstemp`` would leave them ``0600``, unreadable to the rest of a shared course server).
- A destination that is a symbolic link is written *through* (its target is replaced), so a
  link you made stays a link.
- A temporary file is named ``.<name>.<host>-<pid>.<random>.part``. One left by a run that was
  killed outright (``SIGKILL``, power loss) is removed by the next run that checks the
  directory (:func:`check_writable_dir`), once its process is gone.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

__all__: list[str] = []

#: A temporary file of a host we cannot ask about is stale after this long (no write takes a day).
STALE_SECONDS = 24 * 3600


def _host_tag() -> str:
    # Short and filename-safe: a hash of the host name, so a pid is only compared on its own host.
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


_PART = re.compile(r"^\..+\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+)\.[^.]+\.part$")


def _umask() -> int:
    """The process umask (read without changing it where the system allows)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)          # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True                 # exists but not ours, or cannot tell: keep its file
    return True


def clean_stale_parts(directory) -> list:
    """Remove temporary ``.part`` files left in ``directory`` by killed coarsegrad runs.

    A file is removed when its writer ran on this host and is no longer alive, or when it is older
    than :data:`STALE_SECONDS` (writer on another host of a shared file system). Files that do not
    match coarsegrad's temporary-name pattern are never touched. Returns the removed names.
    """
    removed = []
    host = _host_tag()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _PART.match(entry.name)
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        try:
            age = time.time() - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        mine = match["host"] == host
        if (mine and int(match["pid"]) != os.getpid() and not _pid_alive(int(match["pid"]))) or age > STALE_SECONDS:
            try:
                os.unlink(entry.path)
                removed.append(entry.name)
            except OSError:
                pass
    return removed


def check_writable_dir(path, name: str = "out") -> Path:
    """Create ``path`` if needed, check that files can be written there, and clean stale temporaries."""
    if str(path).strip() == "":
        raise ValueError(f"{name} is empty; give a directory (e.g. {name} .)")
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
    clean_stale_parts(path)
    return path


def check_output_file(path, name: str = "--out") -> Path:
    """Check, before any work, that a file can be written at ``path``; return where it will go.

    Rejects an empty path and an existing directory; creates the parent directory. A symbolic
    link is resolved: the file is written through it to its target.
    """
    if path is None or str(path).strip() == "":
        raise ValueError(f"{name} is empty; give a file name such as {name} results.json")
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    if target.is_dir():
        raise IsADirectoryError(f"{name} {str(path)!r} is a directory; give a file name, e.g. "
                                f"{str(Path(path) / 'out.json')!r}")
    check_writable_dir(target.parent, f"the directory of {name}")
    if target.exists() and not os.access(target, os.W_OK) and not os.access(target.parent, os.W_OK):
        raise PermissionError(f"{name} {str(path)!r} is not writable; choose another file")
    return target


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    A symbolic link at ``path`` is written through (its target is replaced, the link stays). The
    file gets mode ``0666 & ~umask``, as if it had been created with ``open``.
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_host_tag()}-{os.getpid()}.", suffix=".part", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except (AttributeError, OSError):    # no fchmod (Windows): mkstemp's mode is the platform's default
        pass
    os.close(fd)
    try:
        yield Path(tmp)
        try:
            os.replace(tmp, path)
        except OSError as exc:         # name the destination, not our hidden temporary file
            raise type(exc)(exc.errno, f"cannot write {str(path)!r}: {exc.strerror}") from None
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
