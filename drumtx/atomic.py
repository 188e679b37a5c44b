"""Atomic file writes: every file drumtx writes appears whole under its final name or not at all.

An interrupted run (Ctrl-C, a killed job, a full disk) must never leave a half-written
cache entry, checkpoint sidecar, MIDI file or report that a later run would trust.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) and SIGTERM off for a short critical section, then deliver them.

    For the few steps that must not be cut in half: moving a set of finished files into place
    together and removing their staging folder. A signal in there (found by a new-user trial:
    Ctrl-C inside ``shutil.rmtree`` surfaced as ``EBADF``, the batch went on and exited 1, with a
    staging folder left) is recorded and, on leaving the section, handled by the handler that
    was in place before (Python's default raises :class:`KeyboardInterrupt`). Outside the main
    thread, where handlers cannot be set, the section runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), caught[0])


def _umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` in one step.

    The file gets the permissions a plain ``open(path, "w")`` would give it: those of the file
    it replaces, else 0o666 less the umask (mkstemp's temporaries are 0o600, which would leave
    a dataset's csv or a model's sidecar unreadable to the other users of a shared machine).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent)
    try:
        mode = path.stat().st_mode & 0o7777 if path.is_file() else 0o666 & ~_umask()
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_output`; returns ``path``."""
    with atomic_output(path, suffix=".tmp") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def json_default(x):
    """:func:`json.dumps` ``default`` for what drumtx writes besides plain Python: numpy
    scalars and arrays (as numbers and lists) and paths (as text).

    Raises:
        TypeError: anything else (as :func:`json.dumps` would).
    """
    import numpy as np

    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def write_json(path: str | Path, obj, **dump_kwargs) -> Path:
    """Write ``obj`` as JSON (plus a final newline) atomically: the one JSON writer of drumtx.

    Args:
        path: the file to (re)place; its folder is created.
        obj: JSON-able data; numpy scalars/arrays and paths are converted (:func:`json_default`).
        **dump_kwargs: passed to :func:`json.dumps` (``indent`` 2 and ``default``
            :func:`json_default` unless given; e.g. ``allow_nan=False`` for reports).

    Returns:
        ``path``.

    Raises:
        TypeError, ValueError: ``obj`` is not JSON-able (NaN with ``allow_nan=False``); nothing is written.
        OSError: the file cannot be written.
    """
    dump_kwargs.setdefault("indent", 2)
    dump_kwargs.setdefault("default", json_default)
    return atomic_write_text(path, json.dumps(obj, **dump_kwargs) + "\n")
