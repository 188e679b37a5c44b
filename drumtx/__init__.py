"""drumtx: hierarchical drum transcription, from audio to drum MIDI and rhythm-game charts."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

__version__ = "0.1.0"

#: The checkout (or install prefix) that holds ``conf/`` and ``experiments/``.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = PROJECT_ROOT / "conf"

# ${drumtx_path:experiments} -> absolute path inside the project, so that configs (the
# experiment search path, default data folders) work from any working directory.
# ${drumtx_cwd:} -> the directory drumtx was started from. Unlike ${hydra:runtime.cwd} it also
# resolves where Hydra's runtime config is not set yet (a sweeper's storage URL, say).
OmegaConf.register_new_resolver("drumtx_cwd", os.getcwd, replace=True)
OmegaConf.register_new_resolver("drumtx_path", lambda rel=".": str((PROJECT_ROOT / rel).resolve()), replace=True)
