"""What the reporting commands (compare, summary, train_curves) share on the command line.

Each names itself in its error lines with one prefix, its module (``drumtx.evaluation.summary:
...``), argparse's own errors included, and refuses an output path that is not a folder in one
line with status 2 (:mod:`drumtx.cli`'s contract), instead of a traceback.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from drumtx.cli import EXIT_USAGE, fail, module_parser


def parser(module: str, description: str) -> argparse.ArgumentParser:
    """An argument parser for ``python -m <module>`` (:func:`drumtx.cli.module_parser`)."""
    return module_parser(module, description)


def output_folder(module: str, path: Path) -> Path:
    """``path`` as an output folder, created; exits 2 with one line if it cannot be one (an
    existing file, a path under a file, no permission)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        fail(module, f"{path}: exists and is not a folder (-o/--out takes a folder)", EXIT_USAGE)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(module, f"{path}: cannot make the output folder ({exc.strerror or exc})", EXIT_USAGE)
    return path


def read_reports(module: str, specs: list[str], needs: Callable[[dict], object],
                 what: str = "a drumtx.evaluate metrics.json") -> list[tuple[str, str, dict]]:
    """``NAME=METRICS_JSON`` command-line specs read as (name, path, metrics), in order; a path
    that is a folder (evaluate's out_dir) stands for its ``metrics.json``. ``needs(metrics)``
    reads what the command uses and raises KeyError or TypeError where a report lacks it.
    Exits 2 with one line for a spec that is not NAME=PATH or a report that cannot be read as
    ``what``."""
    out = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            fail(module, f"expected NAME=METRICS_JSON, got {spec!r}")
        if Path(path).is_dir():
            path = str(Path(path) / "metrics.json")
        try:
            metrics = json.loads(Path(path).read_text())
            needs(metrics)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fail(module, f"{path}: not {what} ({type(exc).__name__}: {exc})")
        out.append((name, path, metrics))
    return out
