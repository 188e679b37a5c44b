"""``python -m drumtx.synth data=<recipe>``: render a synthetic E-GMD folder (see drumtx.synth)."""

from __future__ import annotations

import json
import logging

from omegaconf import DictConfig

from drumtx.cli import EXIT_INTERRUPTED, EXIT_SOME_FAILED, EXIT_USAGE, fail, hydra_main
from drumtx.config_schema import SYNTH

log = logging.getLogger("drumtx.synth")


@hydra_main("synth", SYNTH)
def main(cfg: DictConfig) -> dict:
    from drumtx.synth.dataset import SynthError, build_dataset
    from drumtx.synth.kits import KitError

    try:
        summary = build_dataset(cfg.data, workers=cfg.workers, overwrite=cfg.overwrite, progress=cfg.progress,
                                limit=cfg.limit, splits=cfg.splits, reuse=cfg.get("reuse"))
    except (SynthError, KitError) as exc:  # bad recipe or kit: one line on stderr, exit 2 (drumtx.cli)
        fail("drumtx.synth", exc, EXIT_USAGE)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the tracks on disk are whole (logged above)
        fail("drumtx.synth", "interrupted; rerun the same command to resume", EXIT_INTERRUPTED)
    log.info("done: %s", json.dumps(summary))
    if summary.get("failed"):  # some tracks did not render: status 1 (drumtx.cli); the csv lists the rest
        tried = summary["failed"] + summary["rendered"]  # the tracks this run rendered, not the plan
        fail("drumtx.synth", f"{summary['failed']} of {tried} tracks to render failed (logged above)",
             EXIT_SOME_FAILED)
    return summary


if __name__ == "__main__":
    main()
