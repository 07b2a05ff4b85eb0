"""Clean stops on SIGTERM, SIGINT and SIGUSR1 (SLURM time limits, scancel, Ctrl-C).

While a run is in its loop, :class:`SignalStop` replaces the handlers of these signals
(PETSc's too: its handler would abort the run with ``PETSC ERROR`` lines and no
checkpoint) by one that only records the signal. The loop asks at every safe point --
between two steps -- whether a stop was requested on *any* rank (a max-allreduce, so every
rank takes the same decision even if the signal reached only one of them), then writes a
checkpoint, marks the manifest ``"stopped"`` and raises :class:`RunStopped`. The CLI exits
with ``128 + signal number`` (the shell convention):

=========  ======  ============================================================
signal     exit    typical sender
=========  ======  ============================================================
SIGTERM    143     SLURM at the time limit (``--signal``), ``scancel``, ``kill``
SIGINT     130     Ctrl-C
SIGUSR1    138     ``scancel --signal=USR1``, ``sbatch --signal=USR1@...``
=========  ======  ============================================================

A second SIGINT before the safe point is reached restores the default action and re-raises
it (press Ctrl-C twice to abort at once, without a checkpoint). Repeated SIGTERM/SIGUSR1
are ignored: launchers may deliver one signal twice (to the process group and forwarded).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

from bonefem.errors import BonefemError

logger = logging.getLogger(__name__)

#: The signals that stop a run cleanly.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class RunStopped(BonefemError):
    """A run stopped on a signal after writing a checkpoint (exit ``128 + signum``).

    Args:
        signum: the signal number.
        checkpoint: name of the checkpoint written at the stop (or None).
    """

    def __init__(self, signum: int, checkpoint: str | None = None) -> None:
        self.signum = int(signum)
        self.checkpoint = checkpoint
        name = signal.Signals(self.signum).name
        where = f"; checkpoint {checkpoint}" if checkpoint else ""
        super().__init__(f"stopped on {name}{where}; resume with --restart")

    @property
    def exit_code(self) -> int:
        """The process exit code: 128 + signal number."""
        return 128 + self.signum


class SignalStop:
    """Context manager: record stop signals instead of dying; restore handlers on exit.

    ``poll()`` returns the number of the first signal received (0 if none); it is what
    :class:`bonefem.coupling.loop.RunHooks` ``stop_requested`` expects. Outside the main
    thread (where Python cannot install handlers) it does nothing.
    """

    def __init__(self, signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> None:
        self.signals = signals
        self.received = 0
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.received == signum:
            # asked twice: give up the clean stop, default action now
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if not self.received:
            self.received = signum
            logger.warning(
                "%s received: stopping at the end of this step (checkpoint, then exit %d)",
                signal.Signals(signum).name,
                128 + signum,
            )

    def poll(self) -> int:
        """The signal received so far on this rank (0: none)."""
        return self.received

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[int(sig)] = signal.signal(sig, self._handler)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
