"""Atomic file writes: write beside the target, then rename over it; the lock that makes a
read-modify-write of a shared file safe; the check that an output folder can be written before the
work that fills it.

A run killed mid-write leaves the old file (or none), never half of a new one. The temporary
file is named `.<target>.<pid>.<random>.tmp`, so `remove_stale_temps` can tell the leftovers of
a killed writer (its pid is gone) from a save another process is making right now.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from minimind_notes.errors import MiniMindError

TEMP_NAME = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp$")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
    made = os.stat(tmp).st_ino
    try:
        yield Path(tmp)
        if os.stat(tmp).st_ino != made:  # the writer replaced the file (safetensors does) and with it the mode
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete the temporary files that killed writers left in `folder`; returns how many bytes were freed."""
    freed = 0
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    for path in folder.iterdir():
        m = TEMP_NAME.match(path.name)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                path.unlink()
                freed += size
    return freed


class LockHeld(OSError):
    """file_lock(wait=False) found the lock held by another process."""


@contextlib.contextmanager
def file_lock(lock_path: Path, wait: bool = True) -> Iterator[None]:
    """An exclusive lock held on `lock_path` (created if missing, never removed: removing a lock
    file lets two processes lock two different files). wait=False raises LockHeld at once when
    another process holds it."""
    with open(lock_path, "a+b") as f:
        if os.name == "nt":
            import msvcrt

            f.seek(0)
            try:  # LK_LOCK retries for ~10 s, then OSError
                msvcrt.locking(f.fileno(), msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
            except OSError as e:
                raise (e if wait else LockHeld(str(e))) from None
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            try:
                fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))  # released when the file closes
            except BlockingIOError as e:
                raise LockHeld(str(e)) from None
            yield


def check_writable_folder(folder: str | os.PathLike, hint: str) -> Path:
    """`folder` as a Path if it is, or can be created as, a folder this process can write into; else
    one MiniMindError naming what is in the way. Creates nothing: commands call it before the work
    whose results go there, so a wrong --out costs nothing."""
    folder = Path(folder)
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists() or p.is_symlink())
    if not existing.is_dir():
        what = f"{existing} is {'a file, not a folder' if existing.exists() else 'a broken link'}"
        raise MiniMindError(what if existing == folder else f"cannot write into {folder}: {what}", hint=hint)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise MiniMindError(f"cannot write into {folder}: no permission to write in {existing}", hint=hint)
    return folder
