"""``python -m drumtx.synth.sampled.bench``: the sample player's throughput (x real time per core).

Renders the six reference grooves (:func:`drumtx.synth.check.reference_grooves`, seed 2,
every Roland note) on every installed sampled kit, in this process (one core). Loading a
kit (parsing, decoding and resampling its samples, once per worker process) is timed apart
from playing. Speed is audio seconds over this process's CPU seconds (the honest number on
a shared machine) and over the wall clock. Part of ``make bench`` (:mod:`drumtx.bench`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from drumtx.atomic import atomic_write_text


def run(seconds: float = 10.0, kits_dir: str | None = None) -> dict:
    """Time loading and playing each installed sampled kit; returns the report dict."""
    from drumtx.synth.check import reference_grooves
    from drumtx.synth.kits import kit_problem, load_kits
    from drumtx.synth.sampled.distractors import PARTS, render_distractor
    from drumtx.synth.sampled.player import SamplePlayer

    grooves = reference_grooves(seed=2, seconds=seconds)
    per_kit, audio_total, cpu_total, wall_total = {}, 0.0, 0.0, 0.0
    for kit in load_kits(kits_dir).values():
        if not kit.sampled or kit_problem(kit):
            continue
        player = SamplePlayer()
        c0, w0 = time.process_time(), time.perf_counter()
        for roland in sorted(kit.notes):  # load: every mapped sample decoded and resampled
            from drumtx.synth.render import Note

            for vel in (20, 60, 100, 127):
                player.render(kit, [Note(0.0, 0.1, roland, vel)], duration=0.01, seed=vel)
        load_cpu, load_wall = time.process_time() - c0, time.perf_counter() - w0
        audio = 0.0
        c0, w0 = time.process_time(), time.perf_counter()
        for i, g in enumerate(grooves):
            out = player.render(kit, g.notes, seed=i)
            audio += out.size / player.sample_rate
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        per_kit[kit.name] = {"load_cpu_s": round(load_cpu, 2), "load_wall_s": round(load_wall, 2),
                             "audio_s": round(audio, 1), "cpu_s": round(cpu, 3),
                             "x_realtime_cpu": round(audio / cpu, 1) if cpu > 0 else None,
                             "x_realtime_wall": round(audio / wall, 1) if wall > 0 else None}
        audio_total, cpu_total, wall_total = audio_total + audio, cpu_total + cpu, wall_total + wall
    player = SamplePlayer()
    render_distractor(100, 1.0, [0], part="congas", player=player)  # warm
    c0 = time.process_time()
    dist_audio = 0.0
    for i, part in enumerate(PARTS * 2):
        audio, _ = render_distractor(100, seconds, [i], part=part, player=player)
        dist_audio += audio.size / player.sample_rate
    dist_cpu = time.process_time() - c0
    return {
        "what": "sample player: reference grooves (seed 2) on every installed sampled kit, one core",
        "kits": per_kit,
        "audio_s": round(audio_total, 1),
        "speed_x_realtime_per_core_cpu_time": round(audio_total / cpu_total, 1) if cpu_total else None,
        "speed_x_realtime_per_core": round(audio_total / wall_total, 1) if wall_total else None,
        "distractors_x_realtime_per_core_cpu_time": round(dist_audio / dist_cpu, 1) if dist_cpu else None,
        "cpu_count": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    from drumtx.cli import module_parser

    ap = module_parser("drumtx.synth.sampled.bench", __doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each reference groove")
    ap.add_argument("--out", type=Path, help="also write the report here (json)")
    args = ap.parse_args(argv)
    report = run(args.seconds)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        atomic_write_text(args.out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
