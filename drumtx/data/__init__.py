"""Data engine: dataset readers, the feature cache, augmentation and the LightningDataModule.

Kept import-light (the stats command needs no Lightning); the main names load on first use::

    from drumtx.data import DrumDataModule, build_index, FeatureCache, prepare_cache
"""

from __future__ import annotations

import importlib

_LAZY = {
    "DrumDataModule": "drumtx.data.datamodule",
    "Augmentation": "drumtx.data.augment",
    "render_audio_variant": "drumtx.data.augment",
    "CropSampler": "drumtx.data.datamodule",
    "CacheError": "drumtx.data.cache",
    "FeatureCache": "drumtx.data.cache",
    "VariantSpec": "drumtx.data.cache",
    "prepare_cache": "drumtx.data.cache",
    "target_names": "drumtx.data.cache_jobs",
    "Track": "drumtx.data.datasets",
    "DatasetIndex": "drumtx.data.datasets",
    "DataLeakError": "drumtx.data.datasets",
    "DatasetError": "drumtx.data.datasets",
    "build_index": "drumtx.data.datasets",
    "as_list": "drumtx.data.datasets",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'drumtx.data' has no attribute {name!r}")
