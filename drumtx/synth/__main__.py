"""``python -m drumtx.synth data=<recipe>``: render a synthetic E-GMD folder (see drumtx.synth)."""

from __future__ import annotations

import json
import logging

from omegaconf import DictConfig

from drumtx.cli import EXIT_SOME_FAILED, fail, hydra_main

log = logging.getLogger("drumtx.synth")


@hydra_main("synth")
def main(cfg: DictConfig) -> dict:
    from drumtx.synth.dataset import SynthError, build_dataset
    from drumtx.synth.kits import KitError

    try:
        summary = build_dataset(cfg.data, workers=cfg.workers, overwrite=cfg.overwrite, progress=cfg.progress,
                                limit=cfg.limit)
    except (SynthError, KitError) as exc:
        log.error("%s", exc)
        raise SystemExit(2) from None
    log.info("done: %s", json.dumps(summary))
    if summary.get("failed"):  # some tracks did not render: status 1 (drumtx.cli); the csv lists the rest
        fail("drumtx.synth", f"{summary['failed']} of {summary['planned']} tracks failed to render (logged above)",
             EXIT_SOME_FAILED)
    return summary


if __name__ == "__main__":
    main()
