"""Atomic file writes: a reader (or a run killed mid-write) never sees a half-written file."""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder, fsync, rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding=encoding) as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
