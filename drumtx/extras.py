"""What ``pip install drumtx`` leaves out, and the one-line error when a command needs it.

``pip install drumtx`` installs what transcription needs (``drumtx.transcribe`` with every
output format and the packaged model); rendering, training, tuning, evaluation, sweeps and the
benchmarks need the ``train`` extra (``pip install 'drumtx[train]'``; ``make setup`` installs
it). The split is ``pyproject.toml``'s; :data:`TRAIN_MODULES` names the extra's packages by the
name they are imported as, and a test keeps the two in step.

:func:`install_hook`, called when drumtx is imported, turns an uncaught
``ModuleNotFoundError`` for one of them (a command run without the extra) into one line on
stderr and exit status 2 (:data:`drumtx.cli.EXIT_USAGE`, bad setup), instead of a traceback;
every other exception goes to the hook that was there before.
"""

from __future__ import annotations

import os
import sys

#: The ``train`` extra's distributions (pyproject.toml) -> the top-level module each is imported as.
TRAIN_MODULES: dict[str, str] = {
    "lightning": "lightning", "wandb": "wandb", "pretty_midi": "pretty_midi", "torchmetrics": "torchmetrics",
    "optuna": "optuna", "mir_eval": "mir_eval", "pyfluidsynth": "fluidsynth", "pedalboard": "pedalboard",
    "pyroomacoustics": "pyroomacoustics", "pyloudnorm": "pyloudnorm", "tensorboard": "tensorboard",
    "matplotlib": "matplotlib", "rich": "rich", "filelock": "filelock", "pandas": "pandas",
    "scikit-learn": "sklearn", "SQLAlchemy": "sqlalchemy",
}
#: lightning's older import name, also a module of the lightning distribution
_ALSO = {"pytorch_lightning": "lightning"}


def missing_extra_message(exc: BaseException) -> str | None:
    """The one-line message for ``exc`` when it is a ``ModuleNotFoundError`` for a module of the
    ``train`` extra, else None."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    modules = {m: d for d, m in TRAIN_MODULES.items()} | _ALSO
    if top not in modules:
        return None
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:  # python -m drumtx.train: the module's name
        command = spec.name.removesuffix(".__main__")
    else:  # a console script (drumtx-train), or drumtx imported from a script
        command = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "drumtx"
    return (f"{command}: needs {modules[top]} (module {top!r}), part of drumtx's training extra: "
            "pip install 'drumtx[train]' (transcription alone does not need it)")


def install_hook() -> None:
    """Put the one-line error for a missing ``train`` extra in front of ``sys.excepthook``
    (once per process)."""
    previous = sys.excepthook
    if getattr(previous, "_drumtx_extras", False):
        return

    def hook(exc_type, exc, tb):
        message = missing_extra_message(exc)
        if message is None:
            previous(exc_type, exc, tb)
            return
        print(message, file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(2)  # (an excepthook cannot choose the exit status: the interpreter exits 1 after it)

    hook._drumtx_extras = True  # type: ignore[attr-defined]
    sys.excepthook = hook
