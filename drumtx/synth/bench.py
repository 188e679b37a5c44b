"""``python -m drumtx.synth.bench data=<recipe>``: render speed (x real time) and dataset sizes.

Plans the recipe (every track, nothing written), renders ``bench.tracks`` of its tracks in
this process into a temporary folder (one core, warm sound fonts) to time the whole
per-track path (load/generate, FluidSynth or the sample player, effects or the production
chain and accompaniment, encode), and extrapolates the full render time and disk size, and the time still to render: the tracks
``python -m drumtx.synth`` would render with the same ``limit``, ``splits`` and ``reuse``
(not on disk from this recipe; with ``reuse=DIR``, not linkable from that folder either).
Speed is reported from the wall clock and from this process's CPU time (the honest number
on a machine shared with other jobs); production recipes also get each stage's CPU time
and x real time (kit render, accompaniment, production chain). If the dataset is already on disk its real size is reported
too. :func:`run_bench` returns the report for ``make bench``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from omegaconf import DictConfig

from drumtx.atomic import atomic_write_text
from drumtx.cli import EXIT_USAGE, fail, hydra_main
from drumtx.config_schema import SYNTH

log = logging.getLogger("drumtx.synth.bench")


def _du(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def run_bench(data_cfg, tracks: int = 6, workers: int = 2, reuse: str | None = None,
              limit: int | None = None, splits=None) -> dict:
    """The report (a JSON-ready dict): the whole plan's hours and an extrapolated render time,
    and what ``python -m drumtx.synth`` with the same ``limit``, ``splits`` and ``reuse`` would
    still render (``tracks_done``, ``tracks_linkable``, ``not_linked`` by reason,
    ``tracks_to_render``, ``hours_to_render``). Hours come from the sources' stated lengths plus
    the tail: a generated groove ends on a whole bar, so its track runs up to ~10 % longer.

    Raises:
        SynthError, KitError: a bad recipe or kit, or a ``reuse`` folder that renders otherwise.
    """
    from omegaconf import OmegaConf

    from drumtx.synth import dataset as ds
    from drumtx.synth.render import Note

    ds.check_splits(splits)
    recipe = ds.parse_recipe(data_cfg)
    planned = ds.plan(recipe)
    tail = recipe.render.tail_s
    hours: Counter = Counter()
    unknown = 0
    for t in planned:
        key = f"{t.perf.split}_unseen_kits" if t.unseen else t.perf.split
        if t.perf.seconds is None:
            unknown += 1
        else:
            hours[key] += (t.perf.seconds + tail) / 3600
    report = {
        "recipe": str(getattr(data_cfg, "name", "")), "root": str(recipe.root),
        "planned_tracks": len(planned), "performances": len({t.perf.id for t in planned}),
        "train_kits": [k.name for k in recipe.train_kits], "test_kits": [k.name for k in recipe.test_kits],
        "planned_hours": {k: round(v, 3) for k, v in sorted(hours.items())},
        "planned_hours_total": round(sum(hours.values()), 3), "tracks_of_unknown_length": unknown,
    }
    # What a render would still do, as drumtx.synth chooses it: the planned tracks (limit, splits)
    # not on disk from this recipe and, with reuse=, not linkable from that folder.
    fmt = recipe.render.format
    scope = [t for t in planned if splits is None or t.perf.split in set(splits)]
    if limit is not None:
        scope = scope[: int(limit)]
    stored = recipe.root / ds.RECIPE_FILE
    other = stored.is_file() and (OmegaConf.to_container(OmegaConf.load(stored)) or {}).get(
        "fingerprint") != recipe.fingerprint()
    if other:
        log.warning("%s was rendered from another recipe: drumtx.synth refuses it without overwrite=true "
                    "(nothing there counts as done)", recipe.root)
    done = set() if other else {t for t in scope if ds._done(recipe.root, t, fmt)}
    linkable, why = [], Counter()
    if isinstance(reuse, str) and reuse.strip():
        linkable, why = ds.sort_for_reuse(recipe, [t for t in scope if t not in done], *ds._reusable(recipe, reuse))
        if why:
            log.info("not linkable from %s: %s", reuse, ds.unlinked_text(why))
    linked = set(linkable)
    left = [t for t in scope if t not in done and t not in linked]
    left_s = sum((t.perf.seconds or 0.0) + tail for t in left)
    report.update({"root_rendered_from_another_recipe": bool(other), "tracks_in_scope": len(scope),
                   "tracks_done": len(done), "tracks_linkable": len(linkable), "not_linked": dict(sorted(why.items())),
                   "tracks_to_render": len(left), "hours_to_render": round(left_s / 3600, 3)})
    # A spread-out sample of the plan (every k-th track), rendered here on one core.
    step = max(1, len(planned) // max(1, tracks))
    sample = planned[::step][:tracks]
    ds._init_worker(*ds._worker_args(recipe))
    renderer, kits = ds._WORKER["renderer"], ds._WORKER["kits"]
    for name in {t.kit for t in sample if t.drums}:  # warm: load the fonts and presets outside the timing
        renderer.render(kits[name], [Note(0.0, 0.1, 36, 100)], duration=0.1)
    if recipe.accompaniment is not None:
        for font in recipe.accompaniment.fonts(False) + recipe.accompaniment.fonts(True):
            ds._WORKER["music"]._synth(font)
    audio_s = wall = cpu = 0.0
    nbytes = 0
    ds.STAGE_CPU_S.clear()
    ds.STAGE_AUDIO_S.clear()
    with tempfile.TemporaryDirectory(prefix="drumtx-synth-bench-") as tmp:
        for t in sample:
            t0, c0 = time.perf_counter(), time.process_time()
            _, seconds, error, _ = ds.render_track(t, tmp, recipe.variety, recipe.production, recipe.accompaniment)
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            if error:
                log.error(error)
            audio_s += seconds
        nbytes = _du(Path(tmp))
    # x real time from this process's CPU time as well as from the wall clock: on a machine
    # shared with other jobs the wall clock measures the sharing, the CPU time the render.
    speed = audio_s / wall if wall > 0 else None
    speed_cpu = audio_s / cpu if cpu > 0 else None
    bytes_per_s = nbytes / audio_s if audio_s else None
    total_s = sum(hours.values()) * 3600
    report.update({
        "sample_tracks": len(sample), "sample_audio_s": round(audio_s, 1), "sample_wall_s": round(wall, 2),
        "speed_x_realtime_per_core": round(speed, 1) if speed else None,
        "speed_x_realtime_per_core_cpu_time": round(speed_cpu, 1) if speed_cpu else None,
        "sample_cpu_s": round(cpu, 2),
        # production recipes: CPU seconds per stage (kit render, accompaniment, production chain)
        # and each stage's x real time over the audio of the tracks that ran it
        "stage_cpu_s": {k: round(v, 2) for k, v in sorted(ds.STAGE_CPU_S.items())},
        "stage_x_realtime_per_core_cpu_time": {k: round(ds.STAGE_AUDIO_S[k] / v, 1)
                                               for k, v in sorted(ds.STAGE_CPU_S.items()) if v > 0},
        "bytes_per_audio_second": round(bytes_per_s) if bytes_per_s else None,
        "format": recipe.render.format, "sample_rate": recipe.render.sample_rate, "workers": int(workers),
        "estimated_render_wall_s": round(total_s / speed / max(1, int(workers)), 1) if speed else None,
        "estimated_render_wall_s_unshared": round(total_s / speed_cpu / max(1, int(workers)), 1) if speed_cpu else None,
        "estimated_render_wall_s_to_render": round(left_s / speed / max(1, int(workers)), 1) if speed else None,
        "estimated_size_gb": round(total_s * bytes_per_s / 1e9, 3) if bytes_per_s else None,
        "cpu_count": os.cpu_count(),
    })
    csv_path = recipe.root / recipe.csv_name
    if csv_path.is_file():
        import csv as _csv

        with open(csv_path, newline="", encoding="utf-8") as f:
            rows = list(_csv.DictReader(f))
        report["on_disk"] = {
            "tracks": len(rows),
            "hours": round(sum(float(r["duration"]) for r in rows) / 3600, 3),
            "size_gb": round(_du(recipe.root) / 1e9, 3),
        }
    return report


@hydra_main("synth", SYNTH)
def main(cfg: DictConfig) -> dict:
    from drumtx.synth.dataset import SynthError
    from drumtx.synth.kits import KitError

    out = Path(cfg.bench.out) if cfg.bench.out else Path(cfg.paths.output_dir) / "synth_bench.json"
    if out.is_dir() or any(parent.exists() and not parent.is_dir() for parent in out.parents):
        # before the bench runs, not after (a folder for a file, or a path under a file)
        fail("drumtx.synth.bench", f"bench.out={out}: not a file path (a folder, or under a file)", EXIT_USAGE)
    try:
        report = run_bench(cfg.data, tracks=cfg.bench.tracks, workers=cfg.workers, reuse=cfg.get("reuse"),
                           limit=cfg.get("limit"), splits=cfg.get("splits"))
    except (SynthError, KitError) as exc:  # bad recipe or kit: one line on stderr, exit 2 (drumtx.cli)
        fail("drumtx.synth.bench", exc, EXIT_USAGE)
    text = json.dumps(report, indent=2)
    print(text)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, text + "\n")
    except OSError as exc:
        fail("drumtx.synth.bench", f"bench.out={out}: cannot write it ({exc.strerror or exc})", EXIT_USAGE)
    log.info("wrote %s", out)
    return report


if __name__ == "__main__":
    main()
