"""Compute log-mel features and frame targets once into the on-disk cache.

    python -m drumtx.prepare data=egmd data.root=/path/to/e-gmd-v1.0.0 [features.n_mels=64]
        [augmentation=full] [splits=[train]] [num_workers=4] [data.max_tracks=100]

Resumable (finished tracks are reused), parallel (``num_workers`` processes), and a bad file
is skipped with its reason instead of stopping the run. The datamodule runs the same code
when ``python -m drumtx.train`` finds tracks missing. Exit status (:mod:`drumtx.cli`) 1 only when no
track at all is usable, 2 when the dataset itself is missing or malformed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

import drumtx  # noqa: F401  (registers the drumtx_path resolver)
from drumtx.cli import EXIT_SOME_FAILED, EXIT_USAGE, fail, hydra_main
from drumtx.config_schema import PREPARE

log = logging.getLogger("drumtx.prepare")


def run(cfg: DictConfig):
    """Prepare the cache that ``cfg`` describes; returns the :class:`PrepareReport`."""
    from drumtx.data.cache import DataSource
    from drumtx.data.datasets import DatasetError

    source = DataSource.from_config(cfg)  # what DrumDataModule.prepare_data uses, without Lightning
    splits = cfg.get("splits") or ("train", "validation", "test")
    if isinstance(splits, str):  # splits=train (no brackets): one split, not its letters
        splits = [splits]
    splits = list(splits)
    unknown = [s for s in splits if s not in ("train", "validation", "test")]
    if unknown:
        raise DatasetError(f"splits: unknown split(s) {unknown}; choose from train, validation, test")
    report = source.prepare(splits, retry_failed=bool(cfg.get("retry_failed", True)),
                            num_workers=cfg.get("num_workers"), progress=bool(cfg.get("progress", True)),
                            verify=str(cfg.get("verify", "full")))
    usable = source.cache.manifest()
    per_split = {s: sum(t.key in usable for t in source.split_tracks(s)) for s in splits}
    summary = {
        "cache_dir": str(report.cache_dir),
        "prepared": len(report.done),
        "reused": report.reused,
        "recomputed": report.rebuilt,
        "skipped": report.skipped,
        "usable_tracks_per_split": per_split,
        "variants": None if source.variants is None else source.variants.tag,
        "label_counts_prepared": report.counts.to_dict(),
        "seconds": round(report.seconds, 1),
    }
    out_dir = cfg.paths.get("output_dir") if "paths" in cfg else None
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        from drumtx.atomic import atomic_write_text

        atomic_write_text(Path(out_dir) / "prepare_report.json", json.dumps(summary, indent=1))
    return report, summary


@hydra_main("prepare", PREPARE)
def main(cfg: DictConfig) -> None:
    from drumtx.data.datasets import DatasetError

    log.debug(OmegaConf.to_yaml(cfg))
    try:
        report, summary = run(cfg)
    except DatasetError as exc:  # no such folder, no csv, ...: one line, exit 2 (drumtx.cli)
        fail("drumtx.prepare", exc, EXIT_USAGE)
    print(report.summary())
    print("usable tracks per split: " + ", ".join(f"{k} {v}" for k, v in summary["usable_tracks_per_split"].items()))
    if not any(summary["usable_tracks_per_split"].values()):
        fail("drumtx.prepare", f"no usable track in {report.cache_dir}", EXIT_SOME_FAILED)


if __name__ == "__main__":
    main()
