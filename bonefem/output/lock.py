"""An advisory lock on a run folder: one bonefem run (or restart) per folder at a time.

``<run folder>/.bonefem.lock`` holds the host, PID and start time of the run that owns the
folder, and that run holds an exclusive ``flock`` on it while it runs (rank 0 only). The
kernel drops the ``flock`` when the process dies however it dies, so:

* lock held by a live process → a second run (new, ``--restart`` or ``--overwrite``) stops
  at once with :class:`~bonefem.errors.InputError` (exit 2) naming host and PID;
* lock file with a holder but no ``flock`` (the holder was killed, e.g. SIGKILL or a node
  failure) → a stale lock: reported in the log and taken over;
* where ``flock`` is not enforced (some network file systems), a holder on this host whose
  PID is alive is still refused.

On release the file is emptied, not deleted (deleting would let two later runs lock two
different files of the same name).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from bonefem.errors import InputError

logger = logging.getLogger(__name__)

LOCK_NAME = ".bonefem.lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode("utf-8", "replace").strip()
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {"raw": text[:200]}
    return data if isinstance(data, dict) else {"raw": text[:200]}


def _describe(holder: dict[str, Any]) -> str:
    if "pid" not in holder:
        return "an unknown process"
    since = f", started {holder['started']}" if holder.get("started") else ""
    return f"PID {holder['pid']} on host {holder.get('host', '?')}{since}"


class RunLock:
    """The lock of one run folder (acquire on rank 0 only).

    Args:
        folder: the run folder (must exist).
    """

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise InputError (a live run owns the folder); returns self."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(
                f"cannot create the run folder's lock file: {exc.strerror}", file=self.path
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise InputError(
                f"the run folder is in use by another bonefem run ({_describe(holder)}); "
                "wait for it to end or stop it (SIGTERM checkpoints it), or use another --output",
                file=self.path.parent,
            ) from None
        holder = _holder(fd)
        me = socket.gethostname()
        pid = holder.get("pid")
        if (
            isinstance(pid, int)
            and pid != os.getpid()
            and holder.get("host") == me
            and _pid_alive(pid)
        ):
            os.close(fd)
            raise InputError(
                f"the run folder is locked by a live process ({_describe(holder)}) and this "
                "file system does not enforce flock; stop that run first (or delete the lock "
                "file if that process is not bonefem)",
                file=self.path.parent,
            )
        if holder:
            logger.warning(
                "stale lock of %s taken over (that run ended without releasing it)",
                _describe(holder),
            )
        info = {"host": me, "pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(info) + "\n").encode())
        os.fsync(fd)
        self.fd = fd
        return self

    def release(self) -> None:
        """Empty the lock file and drop the lock (idempotent)."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self.fd is not None
