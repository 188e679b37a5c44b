"""What ``pip install drumtx`` leaves out, and the one-line error when a command needs it.

``pip install drumtx`` installs what transcription needs (``drumtx.transcribe`` with every
output format and the packaged model); rendering, training, tuning, evaluation, sweeps and the
benchmarks need the ``train`` extra (``pip install 'drumtx[train]'``; ``make setup`` installs
it). The split is ``pyproject.toml``'s; :data:`TRAIN_MODULES` names the extra's packages by the
name they are imported as, and a test keeps the two in step.

Two guards, so that a command run without the extra stops with one line on stderr and exit
status 2 (:data:`drumtx.cli.EXIT_USAGE`, bad setup) instead of a traceback or a run that fails
track by track: the Hydra commands check for the extra before they start
(:func:`missing_train_module`, in :func:`drumtx.cli.hydra_main`), and :func:`install_hook`,
called when drumtx is imported, catches what a command's own imports raise first (a
``ModuleNotFoundError`` for one of the extra's modules whose traceback passes through drumtx's
own files; a program that imports drumtx and then fails on its own imports keeps its traceback).
Asked for ``--version``, a command answers it (exit 0) with or without the extra.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

#: The ``train`` extra's distributions (pyproject.toml) -> the top-level module each is imported as.
TRAIN_MODULES: dict[str, str] = {
    "lightning": "lightning", "wandb": "wandb", "pretty_midi": "pretty_midi", "torchmetrics": "torchmetrics",
    "optuna": "optuna", "mir_eval": "mir_eval", "pyfluidsynth": "fluidsynth", "pedalboard": "pedalboard",
    "pyroomacoustics": "pyroomacoustics", "pyloudnorm": "pyloudnorm", "tensorboard": "tensorboard",
    "matplotlib": "matplotlib", "rich": "rich", "filelock": "filelock", "pandas": "pandas",
    "scikit-learn": "sklearn", "SQLAlchemy": "sqlalchemy",
}
#: The extra's import names -> their distribution (lightning's older name pytorch_lightning too).
_DIST_OF: dict[str, str] = {m: d for d, m in TRAIN_MODULES.items()} | {"pytorch_lightning": "lightning"}


def extra_message(command: str, module: str) -> str:
    """The one line for ``command`` lacking ``module`` (a module of the ``train`` extra)."""
    top = module.split(".")[0]
    dist = _DIST_OF.get(top, top)
    return (f"{command}: needs {dist} (module {top!r}), part of drumtx's training extra: "
            "pip install 'drumtx[train]' (transcription alone does not need it)")


def missing_train_module() -> str | None:
    """The first module of the ``train`` extra that cannot be imported here (looked up, not
    imported), or None when the extra is installed."""
    for module in TRAIN_MODULES.values():
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except (ImportError, ValueError):
            return module
    return None


def _through_drumtx(tb) -> bool:
    """Whether a traceback passes through a file of the drumtx package."""
    root = str(Path(__file__).resolve().parent) + os.sep
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(root):
            return True
        tb = tb.tb_next
    return False


def missing_extra_message(exc: BaseException) -> str | None:
    """The one-line message for ``exc`` when it is a ``ModuleNotFoundError`` for a module of the
    ``train`` extra, else None."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    if top not in _DIST_OF:
        return None
    return extra_message(_command(), top)


def _command() -> str:
    """This process's command as every drumtx error line names it: its module, ``drumtx.train``
    for ``python -m drumtx.train`` and for the console script ``drumtx-train`` alike (looked up in
    the installed entry points); the script's name for a program that imports drumtx."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:  # python -m drumtx.train: the module's name
        return spec.name.removesuffix(".__main__")
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "drumtx"
    if script.startswith("drumtx-"):
        from importlib.metadata import entry_points

        for entry in entry_points(group="console_scripts", name=script):
            return entry.value.split(":")[0].removesuffix(".__main__")
    return script


def install_hook() -> None:
    """Put the one-line error for a missing ``train`` extra in front of ``sys.excepthook``
    (once per process)."""
    previous = sys.excepthook
    if getattr(previous, "_drumtx_extras", False):
        return

    def hook(exc_type, exc, tb):
        message = missing_extra_message(exc) if _through_drumtx(tb) else None
        if message is None:
            previous(exc_type, exc, tb)
            return
        if "--version" in sys.argv[1:] and _command().startswith("drumtx"):  # every command answers it, the extra or not
            from drumtx.cli import version_text

            print(version_text(), flush=True)
            os._exit(0)
        print(message, file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(2)  # (an excepthook cannot choose the exit status: the interpreter exits 1 after it)

    hook._drumtx_extras = True  # type: ignore[attr-defined]
    sys.excepthook = hook
