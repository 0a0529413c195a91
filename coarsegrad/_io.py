"""Output files: a regular file is either fully written or not there at all; anything else is
written as it is.

Each writer writes a regular file (or a new one) to a temporary file in the destination's
directory and renames it over the destination (``os.replace`` is atomic on POSIX and Windows), so
an interrupted run never leaves a half-written file and never destroys the previous version.
What is not a regular file is never replaced (:class:`Output`):

- ``-`` is standard output;
- a path that is this process's standard output or error (``/dev/stdout``, also when the shell
  redirected it to a file: ``--json /dev/stdout > out.txt`` keeps what was printed before);
- a character device (``/dev/null``, a terminal) or a named pipe is opened and written directly
  (replacing ``/dev/null`` by a regular file would break every other program on the machine);
- a block device is refused (JSON written onto a disk is never what was meant).

Errors name the option the path came from (``--json '/x': cannot write: No space left on
device``), never a hidden temporary file or a bare ``[Errno 28]``.

- New files get the permissions any program's would: ``0666`` minus the umask (a bare
  ``mkstemp`` would leave them ``0600``, unreadable to the rest of a shared course server).
- A destination that is a symbolic link is written *through* (its target is replaced), so a
  link you made stays a link.
- A temporary file is named ``.<name>.<host>-<pid>.<random>.part``. One left by a run that was
  killed outright (``SIGKILL``, power loss) is removed by the next run that checks the
  directory (:func:`check_writable_dir`), once its process is gone.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import socket
import stat
import sys
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


#: What to do about an operating-system error, by errno (the rest: the system's own words).
_ERRNO_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or choose another place",
    errno.EDQUOT: "the disk quota is exhausted: free some space or choose another place",
    errno.EACCES: "permission denied: choose a place you can write to",
    errno.EPERM: "not permitted: choose a place you can write to",
    errno.EROFS: "the file system is read-only: choose another place",
    errno.EISDIR: "it is a directory: give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a directory: choose another path",
    errno.ENOENT: "files cannot be created there: choose another path",
}


def _describe(exc: OSError) -> str:
    return _ERRNO_HINTS.get(exc.errno, exc.strerror or str(exc))


def _named(exc: OSError, name: str, path) -> OSError:
    """``exc`` again (same type and errno, so callers can still test them), its message naming the
    option and the path instead of a temporary file or nothing at all."""
    return _oserror(type(exc), exc.errno, f"{name} {str(path)!r}: cannot write: {_describe(exc)}")


def _oserror(kind, number, message: str) -> OSError:
    """``kind(message)`` with ``errno`` set: its text is the message alone, without "[Errno N]"."""
    exc = kind(message)
    exc.errno = number
    return exc


def _probe_directory(path: Path, name: str) -> None:
    """Create and remove a temporary file in ``path``: the only reliable test that files can be
    made there (``os.access`` says yes to root everywhere, even in ``/proc``)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".probe.{_host_tag()}-{os.getpid()}.", suffix=".part", dir=path)
    except OSError as exc:
        raise _named(exc, name, path) from None
    os.close(fd)
    os.unlink(tmp)


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
        raise _oserror(type(exc), exc.errno, f"cannot create {name} directory {str(path)!r}: {_describe(exc)}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f"{name} directory {str(path)!r} is not writable; choose a directory you can write to")
    _probe_directory(path, name)
    clean_stale_parts(path)
    return path


#: The file name that means standard output.
STDOUT = "-"


def _same_file_as_fd(path, fd: int) -> bool:
    try:
        return os.path.samestat(os.stat(path), os.fstat(fd))
    except (OSError, ValueError):
        return False


class Output:
    """Where an output option writes, checked before any work (:func:`output`).

    ``kind`` is ``"stdout"`` (``-``), ``"fd"`` (the path is this process's standard output or
    error: written to that descriptor at its current position, after what was printed),
    ``"direct"`` (an existing character device or named pipe: opened and written, never replaced)
    or ``"atomic"`` (a regular file or a new one: written to a temporary file renamed into place).
    """

    def __init__(self, path, name: str, kind: str, fd: int | None = None):
        self.path, self.name, self.kind, self.fd = path, name, kind, fd

    def __repr__(self) -> str:
        return f"Output({str(self.path)!r}, {self.name!r}, kind={self.kind!r})"

    def write_text(self, text: str) -> None:
        """Write ``text`` where this output goes; errors name the option."""
        if self.kind == "stdout":
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        try:
            if self.kind == "fd":
                for stream in {id(s): s for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
                               if s is not None}.values():
                    stream.flush()             # what was printed first comes first
                data = text.encode()
                while data:
                    data = data[os.write(self.fd, data):]
            elif self.kind == "direct":
                with open(self.path, "w") as handle:
                    handle.write(text)
            else:
                write_text(self.path, text, name=self.name)
        except OSError as exc:
            if self.kind == "atomic":
                raise
            raise _named(exc, self.name, self.path) from None

    def write_json(self, obj) -> None:
        """Write ``obj`` as indented JSON (see :func:`write_json`)."""
        self.write_text(_dumps(obj))


def output(path, name: str = "--out") -> Output:
    """Check, before any work, that ``path`` (the value of option ``name``) can be written, and
    say how (:class:`Output`). ``-`` is standard output."""
    if path is None or str(path).strip() == "":
        raise ValueError(f"{name} is empty; give a file name such as {name} results.json (or {name} - for "
                         f"standard output)")
    if str(path) == STDOUT:
        return Output(STDOUT, name, "stdout")
    for fd in (1, 2):
        if _same_file_as_fd(path, fd):
            return Output(Path(path), name, "fd", fd)
    try:
        mode = os.stat(path).st_mode        # follows symbolic links
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise _named(exc, name, path) from None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            if not os.access(path, os.W_OK):
                raise _oserror(PermissionError, errno.EACCES, f"{name} {str(path)!r} is not writable; choose another file")
            return Output(Path(path), name, "direct")
        what = "a block device (a disk)" if stat.S_ISBLK(mode) else "a socket or other special file"
        raise ValueError(f"{name} {str(path)!r} is {what}; give a regular file name (or - for standard output)")
    return Output(check_output_file(path, name), name, "atomic")


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
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise _oserror(NotADirectoryError, errno.ENOTDIR, f"{name} {str(path)!r}: {str(parent)!r} is not a "
                                                          f"directory; choose another path")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".probe.{_host_tag()}-{os.getpid()}.", suffix=".part", dir=parent)
    except OSError as exc:
        raise _named(exc, name, path) from None
    os.close(fd)
    os.unlink(tmp)
    clean_stale_parts(parent)
    if target.exists() and not os.access(target, os.W_OK) and not os.access(target.parent, os.W_OK):
        raise PermissionError(f"{name} {str(path)!r} is not writable; choose another file")
    return target


@contextmanager
def atomic_path(path, *, name: str | None = None):
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    A symbolic link at ``path`` is written through (its target is replaced, the link stays). The
    file gets mode ``0666 & ~umask``, as if it had been created with ``open``. An error while
    writing or renaming names ``path`` (and the option ``name`` it came from), not the temporary.
    """
    shown = path
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_host_tag()}-{os.getpid()}.", suffix=".part",
                                   dir=path.parent)
    except OSError as exc:
        raise _named(exc, name or "cannot write", shown) if name else _oserror(
            type(exc), exc.errno, f"cannot write {str(shown)!r}: {_describe(exc)}") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except (AttributeError, OSError):    # no fchmod (Windows): mkstemp's mode is the platform's default
        pass
    os.close(fd)
    try:
        try:
            yield Path(tmp)
            os.replace(tmp, path)
        except OSError as exc:         # name the destination, not our hidden temporary file
            if name:
                raise _named(exc, name, shown) from None
            raise _oserror(type(exc), exc.errno, f"cannot write {str(path)!r}: {_describe(exc)}") from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path, text: str, *, name: str | None = None) -> None:
    """Write ``text`` to ``path`` atomically (``name``: the option it came from, for errors)."""
    with atomic_path(path, name=name) as tmp:
        tmp.write_text(text)


def _dumps(obj, *, compact: bool = False) -> str:
    """JSON text: indented for what people read (manifests, settings), ``compact`` (no whitespace) for
    data files, whose indentation was most of their size (the atlas: 230 kB)."""
    if compact:
        return json.dumps(obj, separators=(",", ":"), default=_default) + "\n"
    return json.dumps(obj, indent=2, sort_keys=False, default=_default) + "\n"


def write_json(path, obj, *, name: str | None = None) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, _dumps(obj), name=name)


def write_bytes(path, data: bytes, *, name: str | None = None) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, name=name) as tmp:
        tmp.write_bytes(data)


@contextmanager
def locked(directory):
    """Hold an exclusive lock on ``directory`` (``flock`` on the directory itself: no lock file is
    left behind) for a read-modify-write of a file in it by concurrent processes. Where the
    system has no ``flock`` (Windows), or refuses it on a directory (some NFS set-ups), there is
    no lock: :func:`update_json` still re-reads the file just before writing it."""
    try:
        import fcntl
    except ImportError:                 # pragma: no cover - Windows
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise _oserror(type(exc), exc.errno, f"cannot lock the directory {str(directory)!r}: "
                                             f"{exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:                 # a file system without flock on directories (some NFS set-ups):
            pass                        # the entry is still merged into the manifest re-read just now
        yield
    finally:
        os.close(fd)                    # releases the lock


def update_json(path, change, *, name: str | None = None) -> dict:
    """Read the JSON object at ``path`` (``{}`` if missing or not an object), apply
    ``change(obj)`` in place, and write it back atomically, all under :func:`locked` on its
    directory: concurrent processes each adding their own entry lose none. Returns the object."""
    path = Path(path)
    with locked(path.parent):
        try:
            obj = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            obj = {}                        # replaced: it held nothing readable
        except OSError as exc:
            raise _oserror(type(exc), exc.errno, f"{name or 'cannot read'} {str(path)!r}: cannot read: "
                                                 f"{_describe(exc)}") from None
        if not isinstance(obj, dict):
            obj = {}
        change(obj)
        write_json(path, obj, name=name)
    return obj


def _default(x):
    import numpy as np
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    raise TypeError(f"cannot write {type(x).__name__} as JSON")
