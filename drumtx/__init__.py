"""drumtx: hierarchical drum transcription, from audio to drum MIDI and rhythm-game charts."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

from drumtx.cpu_load import LoadProbe
from drumtx.extras import install_hook

# a command run without `pip install 'drumtx[train]'`: one line, not a traceback (drumtx.extras)
install_hook()

__version__ = "0.1.0"

#: Started when drumtx is imported (before torch, in a command), so that a command can tell how
#: many cores other processes keep busy without waiting to measure it (drumtx.cpu_load).
LOAD_PROBE = LoadProbe()

#: The checkout that holds ``experiments/`` (and ``data/`` by default). In an installed wheel this
#: is site-packages, which has no ``experiments/``: only the repository's recipes need it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The configs. The user-facing copy is the checkout's top-level ``conf/``; ``drumtx/conf`` is a
#: symlink to it (``../conf``) so that setuptools packs it into the wheel as package data
#: (``[tool.setuptools.package-data]``). Resolved here, it is the checkout's ``conf/`` in a
#: checkout or editable install, and ``site-packages/drumtx/conf`` in an installed wheel.
CONF_DIR = (Path(__file__).resolve().parent / "conf").resolve()

# ${drumtx_path:experiments} -> absolute path inside the project, so that configs (the
# experiment search path, default data folders) work from any working directory.
# ${drumtx_cwd:} -> the directory drumtx was started from. Unlike ${hydra:runtime.cwd} it also
# resolves where Hydra's runtime config is not set yet (a sweeper's storage URL, say).
OmegaConf.register_new_resolver("drumtx_cwd", os.getcwd, replace=True)
OmegaConf.register_new_resolver("drumtx_path", lambda rel=".": str((PROJECT_ROOT / rel).resolve()), replace=True)
# ${drumtx_conf:kits} -> a folder of the configs (CONF_DIR), in a checkout and an installed wheel alike.
OmegaConf.register_new_resolver("drumtx_conf", lambda rel=".": str((CONF_DIR / rel).resolve()), replace=True)
