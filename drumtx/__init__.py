"""drumtx: hierarchical drum transcription, from audio to drum MIDI and rhythm-game charts."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

__version__ = "0.1.0"

#: The checkout (or install prefix) that holds ``conf/`` and ``experiments/``.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = PROJECT_ROOT / "conf"

# ${drumtx_path:experiments} -> absolute path inside the project, so that configs (the
# experiment search path, default data folders) work from any working directory.
OmegaConf.register_new_resolver("drumtx_path", lambda rel=".": str((PROJECT_ROOT / rel).resolve()), replace=True)
