"""Defaults of what ``drumtx.transcribe`` writes besides the notes: ``conf/outputs/default.yaml``.

:mod:`drumtx.dynamics` (velocity), :mod:`drumtx.chart` (chart dynamics) and :mod:`drumtx.tempo`
(tempo map) take their settings from its sections, so a choice is changed in one file.
"""

from __future__ import annotations

from functools import lru_cache

SETTINGS_FILE = "outputs/default.yaml"


@lru_cache(maxsize=1)
def output_settings() -> dict:
    """The parsed settings file: ``{"velocity": {...}, "chart_dynamics": {...}, "tempo": {...}}``.

    Raises:
        FileNotFoundError: the conf folder is missing its ``outputs/default.yaml``.
    """
    from omegaconf import OmegaConf

    from drumtx import CONF_DIR

    return OmegaConf.to_container(OmegaConf.load(CONF_DIR / SETTINGS_FILE), resolve=True)
