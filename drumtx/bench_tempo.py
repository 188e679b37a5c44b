"""Beat accuracy of the tempo map on rendered drum performances with known beats.

    python -m drumtx.bench_tempo [--performances 4] [--kits sfz_sams_sonor,fluidr3_standard] \
        [--ckpt default] [--json experiments/tempo_map/results.json]

Cases: real Groove MIDI performances (4/4 beats, played to a click, so their beats are known)
*time-warped* onto tempo programs -- steady (70, 100, 130, 170 bpm), step changes (90->140,
140->90, 120->100, 100->150 at the middle beat) and ramps (90->130, 150->100 over the middle
half) -- and rendered through kits with :class:`drumtx.synth.render.KitRenderer`. Every note
keeps its position in beats, so the warped performance's true beats are the tempo program's.

Each case's onset-strength envelope is the one the transcriber tracks
(:func:`drumtx.tempo.onset_envelope` of the log-mel), and both beat trackers of
:func:`drumtx.tempo.estimate_beats` run on it: ``constant`` (one tempo per file, the earlier
method) and ``variable`` (the current one); ``variable+activations``: the variable tracker on
:func:`drumtx.tempo.beat_envelope` of the flux and the ``--ckpt`` model's activations (``--ckpt
none``: left out, no model loaded); and ``variable+activations+steady``, the transcriber's default
(its own ``decode``): those beats made one steady grid where the ones between the first and last
hit keep to one (:func:`drumtx.tempo.track_beats`). Scores are ``mir_eval.beat``'s (F-measure at
+-70 ms, P-score, CMLt, AMLt), first 5 s of beats skipped as mir_eval does; estimated beats
after the last true beat (the audio's decaying tail) are not counted.

The MIDI tempo map built on each arm's beats (:meth:`drumtx.midi_out.TempoMap.from_beats`) is
scored too, for every ``--steady-ms`` tolerance (0: one tempo per tracked beat): its beat grid
against the true beats (the same F-measure) and its tempo changes per minute (every set_tempo
after the first, the change from the lead-in to the first tracked beat's tempo included, so a
steady performance ideally has one per file).
"""

from __future__ import annotations

import csv
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from drumtx.cli import module_parser

PROG = "drumtx.bench_tempo"

#: name -> list of (beat index where the segment starts, bpm at its start, bpm at its end).
#: The last segment runs to the end; a segment's tempo moves linearly in beats.
PROGRAMS: dict[str, tuple[str, list[tuple[float, float, float]]]] = {
    "steady70": ("steady", [(0, 70, 70)]),
    "steady100": ("steady", [(0, 100, 100)]),
    "steady130": ("steady", [(0, 130, 130)]),
    "steady170": ("steady", [(0, 170, 170)]),
    "step90to140": ("step", [(0, 90, 90), (0.5, 140, 140)]),
    "step140to90": ("step", [(0, 140, 140), (0.5, 90, 90)]),
    "step120to100": ("step", [(0, 120, 120), (0.5, 100, 100)]),
    "step100to150": ("step", [(0, 100, 100), (0.5, 150, 150)]),
    "ramp90to130": ("ramp", [(0, 90, 90), (0.25, 90, 130), (0.75, 130, 130)]),
    "ramp150to100": ("ramp", [(0, 150, 150), (0.25, 150, 100), (0.75, 100, 100)]),
}
N_BEATS = 64  # 16 bars of each performance


def beat_times(program: list[tuple[float, float, float]], n_beats: int) -> np.ndarray:
    """Time (s) of beats 0..n_beats under a tempo program (segment starts as a fraction of n_beats)."""
    bpm = np.empty(n_beats)
    starts = [round(f * n_beats) for f, _, _ in program] + [n_beats]
    for (_, b0, b1), a, b in zip(program, starts[:-1], starts[1:], strict=True):
        bpm[a:b] = np.linspace(b0, b1, b - a, endpoint=False) if b > a else []
    return np.concatenate(([0.0], np.cumsum(60.0 / bpm)))


#: Performances are taken one per style, in this order (the first in the csv of each).
STYLES = ("rock", "funk", "pop", "soul", "hiphop", "dance", "latin", "jazz", "afrobeat", "neworleans")


def performances(gmd_root: Path, count: int) -> list[tuple[str, np.ndarray, list]]:
    """One Groove MIDI 4/4 beat performance with >= N_BEATS beats for each of the first
    ``count`` :data:`STYLES` (the first such row of the csv):
    ``(name, beat position of every note, (pitch, velocity) of every note)``."""
    import pretty_midi

    chosen: dict[str, dict] = {}
    with open(gmd_root / "info.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            style = row["style"].split("/")[0]
            if style not in STYLES[:count] or style in chosen:
                continue
            if row["beat_type"] != "beat" or row["time_signature"] != "4-4":
                continue
            if float(row["duration"]) * float(row["bpm"]) / 60 < N_BEATS + 2:
                continue
            chosen[style] = row
    out = []
    for style in STYLES[:count]:
        if style in chosen:
            row = chosen[style]
            pm = pretty_midi.PrettyMIDI(str(gmd_root / row["midi_filename"]))
            beats = pm.get_beats()
            notes = [n for inst in pm.instruments for n in inst.notes]
            starts = np.array([n.start for n in notes])
            # Beat position of each note from the file's own tempo map (played to a click).
            pos = np.interp(starts, beats, np.arange(beats.size), right=np.nan)
            keep = np.isfinite(pos) & (pos < N_BEATS)
            out.append(
                (
                    f"{row['id'].replace('/', '_')}_{row['style'].replace('/', '-')}",
                    pos[keep],
                    [(n.pitch, n.velocity) for n, k in zip(notes, keep, strict=True) if k],
                )
            )
    return out


def render_case(renderer, kit, pos: np.ndarray, hits: list, truth: np.ndarray) -> np.ndarray:
    """Audio of a performance whose note at beat position ``p`` sounds at ``truth(p)``."""
    from drumtx.synth.render import Note, snap_notes

    times = np.interp(pos, np.arange(truth.size), truth)
    notes = [Note(float(t), float(t) + 0.1, int(p), int(v)) for t, (p, v) in zip(times, hits, strict=True)]
    return renderer.render(
        kit, snap_notes(notes, renderer.render_rate), duration=float(truth[-1]) + 1.5, seed=0
    )


def map_scores(reference: np.ndarray, estimated: np.ndarray, steady_ms: list[float]) -> dict[str, float]:
    """Per tolerance: the tempo map's beat grid F-measure (``map_f_<ms>``) and its tempo
    changes per minute (``map_changes_<ms>``), the map built as the MIDI output builds it."""
    import mir_eval

    from drumtx.midi_out import TempoMap

    out = {}
    end = float(reference[-1])
    for ms in steady_ms:
        tempo = TempoMap.from_beats(estimated, 480, steady_s=ms / 1000.0)
        last = int(tempo.seconds_to_ticks([end + 0.07])[0]) // 480
        grid = tempo.ticks_to_seconds(np.arange(last + 1) * 480)
        grid = grid[grid <= end + 0.07]
        ref, est = mir_eval.beat.trim_beats(reference), mir_eval.beat.trim_beats(grid)
        out[f"map_f_{ms:g}"] = float(mir_eval.beat.f_measure(ref, est))
        out[f"map_changes_{ms:g}"] = (len(tempo.tempo_events()) - 1) / (end / 60.0)
    return out


def score(reference: np.ndarray, estimated: np.ndarray) -> dict[str, float]:
    import mir_eval

    est = estimated[estimated <= reference[-1] + 0.07]
    ref, est = mir_eval.beat.trim_beats(reference), mir_eval.beat.trim_beats(est)
    cmlc, cmlt, amlc, amlt = mir_eval.beat.continuity(ref, est)
    return {
        "f_measure": float(mir_eval.beat.f_measure(ref, est)),
        "p_score": float(mir_eval.beat.p_score(ref, est)),
        "cmlt": float(cmlt),
        "amlt": float(amlt),
    }


#: method name -> (tracker method, envelope of drumtx.tempo.beat_envelope)
ARMS = {
    "constant": ("constant", "flux"),
    "variable": ("variable", "flux"),
    "variable+activations": ("variable", "flux+activations"),
    # the transcriber's default since 2026-12-08: one steady grid where the beats keep to one
    "variable+activations+steady": ("variable+steady", "flux+activations"),
}


def run(
    gmd_root: Path,
    kits_dir: Path | None,
    kit_names: list[str],
    count: int,
    ckpt: str | None = "default",
    steady_ms: list[float] = (),
) -> dict:
    """Every case through every arm of :data:`ARMS` (``variable+activations`` only with a model:
    ``ckpt`` a bundle or ``"default"``, None leaves it out), and each arm's tempo map per
    ``steady_ms`` tolerance (:func:`map_scores`); the summary, per-case rows and timing."""
    import torch

    from drumtx.features import LogMel
    from drumtx.synth.kits import load_kits
    from drumtx.synth.render import KitRenderer
    from drumtx.tempo import beat_envelope, estimate_beats, onset_envelope

    transcriber = None
    if ckpt:
        from drumtx.checkpoint import model_path
        from drumtx.transcriber import Transcriber

        transcriber = Transcriber.from_checkpoint(model_path(ckpt))
    arms = {k: v for k, v in ARMS.items() if transcriber is not None or v[1] == "flux"}
    features = transcriber.features if transcriber is not None else LogMel()
    renderer = KitRenderer(sample_rate=features.sample_rate)
    kits = load_kits(kits_dir)
    missing = [k for k in kit_names if k not in kits or not kits[k].available]
    if missing:
        raise SystemExit(f"{PROG}: error: kit(s) not available: {', '.join(missing)}")
    perfs = performances(gmd_root, count)
    rows, seconds = [], dict.fromkeys(arms, 0.0)
    for kit_name in kit_names:
        for perf, pos, hits in perfs:
            for prog, (kind, program) in PROGRAMS.items():
                truth = beat_times(program, N_BEATS)
                audio = render_case(renderer, kits[kit_name], pos, hits, truth)
                with torch.no_grad():
                    mel = features(torch.from_numpy(np.ascontiguousarray(audio, np.float32))).numpy()
                flux = onset_envelope(mel)
                acts = probs = None
                if transcriber is not None:
                    probs = transcriber.run(mel, fine=False).probs
                    acts = [a for a, _ in probs.values()]
                for method, (tracker, envelope) in arms.items():
                    t0 = time.perf_counter()
                    if tracker == "variable+steady":  # the transcriber's own: its onsets give the span
                        est = transcriber.decode(Path(f"{prog}.wav"), probs, flux).beats
                    else:
                        est = estimate_beats(beat_envelope(flux, acts, envelope), features.fps, method=tracker)
                    seconds[method] += time.perf_counter() - t0
                    rows.append(
                        {
                            "kit": kit_name,
                            "performance": perf,
                            "program": prog,
                            "kind": kind,
                            "method": method,
                            **score(truth, est),
                            **map_scores(truth, est, list(steady_ms)),
                        }
                    )
    summary = {}
    for method in arms:
        for kind in ("steady", "step", "ramp", "all"):
            sel = [r for r in rows if r["method"] == method and (kind == "all" or r["kind"] == kind)]
            keys = ["f_measure", "p_score", "cmlt", "amlt"] + [k for k in rows[0] if k.startswith("map_")]
            summary[f"{method}/{kind}"] = {
                k: round(float(np.mean([r[k] for r in sel])), 3) for k in keys
            } | {"cases": len(sel)}
    return {
        "summary": summary,
        "beat_tracking_seconds": {k: round(v, 1) for k, v in seconds.items()},
        "rows": rows,
        "kits": kit_names,
        "performances": [p for p, _, _ in perfs],
        "programs": {k: v[1] for k, v in PROGRAMS.items()},
        "n_beats": N_BEATS,
        "ckpt": str(ckpt) if ckpt else None,
        "steady_ms": list(steady_ms),
    }


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = module_parser(PROG, __doc__.split("\n\n")[0])
    parser.add_argument(
        "--gmd",
        type=Path,
        default=Path("../shared/data/groove-midi"),
        help="Groove MIDI Dataset folder (with info.csv; default: ../shared/data/groove-midi)",
    )
    parser.add_argument(
        "--kits-dir", type=Path, default=None, help="kit tables/sound fonts (default: drumtx's)"
    )
    parser.add_argument("--kits", default="sfz_sams_sonor,fluidr3_standard", help="comma-separated kit names")
    parser.add_argument(
        "--performances",
        type=int,
        default=6,
        help=f"Groove MIDI performances per kit, one per style of {STYLES}",
    )
    parser.add_argument(
        "--ckpt",
        default="default",
        help="model whose activations the variable+activations arm tracks (default: the packaged "
        "model; none: leave that arm out)",
    )
    parser.add_argument(
        "--steady-ms",
        default="0,10,15,20,30",
        help="tempo map tolerances (ms) to score, comma-separated (0: one tempo per tracked beat)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the full results here")
    args = parser.parse_args(argv)
    if not (args.gmd / "info.csv").is_file():
        print(
            f"{PROG}: error: --gmd {args.gmd}: no info.csv (the Groove MIDI Dataset folder)", file=sys.stderr
        )
        return 2
    ckpt = None if args.ckpt.lower() == "none" else args.ckpt
    try:
        steady_ms = [float(x) for x in args.steady_ms.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--steady-ms: not comma-separated numbers: {args.steady_ms!r}")
    result = run(
        args.gmd,
        args.kits_dir,
        [k.strip() for k in args.kits.split(",") if k.strip()],
        args.performances,
        ckpt,
        steady_ms,
    )
    result["machine"] = f"{platform.machine()}, {platform.python_version()}"
    result["commit"] = _commit()
    print(f"{'method/kind':<20} {'F':>6} {'P':>6} {'CMLt':>6} {'AMLt':>6} cases")
    for key, s in result["summary"].items():
        print(
            f"{key:<20} {s['f_measure']:>6.3f} {s['p_score']:>6.3f} {s['cmlt']:>6.3f} {s['amlt']:>6.3f} {s['cases']}"
        )
    if steady_ms:
        print("tempo map per tolerance (ms): beat grid F / tempo changes per minute")
        for key, s in result["summary"].items():
            cells = "  ".join(f"{ms:g}: {s[f'map_f_{ms:g}']:.3f} / {s[f'map_changes_{ms:g}']:.1f}" for ms in steady_ms)
            print(f"  {key:<28} {cells}")
    methods = list(dict.fromkeys(r["method"] for r in result["rows"]))
    print(f"per program (F-measure, {' / '.join(methods)}):")
    for prog in PROGRAMS:
        f = [
            np.mean([r["f_measure"] for r in result["rows"] if r["program"] == prog and r["method"] == m])
            for m in methods
        ]
        print(f"  {prog:<14} " + " / ".join(f"{x:.3f}" for x in f))
    if args.json:
        from drumtx.atomic import write_json

        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
