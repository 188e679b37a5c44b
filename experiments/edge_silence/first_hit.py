"""How often the first hit of a file is found, with and without edge silence, by a model (the
packaged one unless ``--ckpt``; its tuned thresholds and drum presence gate, as ``python -m
drumtx.transcribe`` runs it), at no edge silence, ``--edge`` and the model's own (a model trained
with ``data.lead_silence_prob`` > 0 hears its lead by default):

1. a synthetic loop (seeded: kicks on the second, noise hi-hats between) whose first kick starts
   at sample 0, and the same loop after 0.25 s of silence: the kick activation on the hit's frame;
2. N tracks of a rendered dataset (a seeded draw from every split, so tracks of the kits and
   performances the model trained on too), each track's onsets against its MIDI's, classes
   ignored (a hit within 50 ms of a reference onset; onsets closer than 20 ms merged on both
   sides): how many tracks start on a hit (a reference onset before 50 ms), the share of those
   whose first hit is found, and recall / precision over every onset of the N tracks.

    python experiments/edge_silence/first_hit.py [--data data/synth_songs_electronic] [-n 120] [--edge 1.5]
        [--ckpt BUNDLE]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

from drumtx.transcriber import Transcriber

START_S = 0.05  # a track "starts on a hit" when its first reference onset is before this


SR = 44100


def synthetic_loop(lead_s: float, seconds: float = 8.0) -> np.ndarray:
    """Kicks (a decaying 150 -> 50 Hz sweep) on every second from ``lead_s``, noise-burst hi-hats
    half-way between; peak 0.5."""
    rng = np.random.default_rng(0)
    y = np.zeros(int((seconds + lead_s) * SR))
    t = np.arange(int(0.3 * SR)) / SR
    kick = np.sin(2 * np.pi * np.cumsum(50 + 100 * np.exp(-30 * t)) / SR) * np.exp(-12 * t)
    th = np.arange(int(0.08 * SR)) / SR
    for k in range(int(seconds)):
        for start, sound in ((k, kick), (k + 0.5, 0.3 * np.diff(rng.standard_normal(th.size + 1)) * np.exp(-60 * th))):
            i = int((lead_s + start) * SR)
            y[i : i + sound.size] += sound[: y.size - i]
    return 0.5 * y / np.abs(y).max()


def merged(times, tol: float = 0.02) -> np.ndarray:
    out: list[float] = []
    for t in sorted(times):
        if not out or t - out[-1] > tol:
            out.append(t)
    return np.array(out)


AUDIO = (".flac", ".wav", ".ogg", ".mp3")


def audio_of(midi: Path) -> tuple[Path, Path] | None:
    """(MIDI, the audio file of its stem) or None where there is none."""
    return next(((midi, midi.with_suffix(s)) for s in AUDIO if midi.with_suffix(s).exists()), None)


def share(part: float, whole: float) -> str:
    return f"{part / whole:.2%}" if whole else "n/a (none)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("data/synth_songs_electronic"),
                    help="a rendered dataset: MIDI files beside audio of the same stem (default: %(default)s)")
    ap.add_argument("-n", type=int, default=120, help="tracks drawn from it (seeded; default: %(default)s)")
    ap.add_argument("--edge", type=float, default=1.5, help="edge silence tried besides 0 and the model's own "
                    "(s; default: %(default)s)")
    ap.add_argument("--ckpt", type=Path, default=None, help="a model bundle (default: the packaged model)")
    args = ap.parse_args()
    tracks = sorted(a for m in args.data.rglob("*.mid*") if m.suffix in (".mid", ".midi")
                    for a in [audio_of(m)] if a is not None)
    if not tracks:
        raise SystemExit(f"{args.data}: no rendered tracks (a .mid/.midi file beside audio of its stem)")
    np.random.default_rng(0).shuffle(tracks)
    tracks = tracks[: args.n]
    tx = Transcriber.from_checkpoint(args.ckpt or "default")
    own = tx.settings.edge_silence_seconds  # (resolved for the model: its training lead, or 0)
    edges = sorted({0.0, args.edge, own})
    print(f"model: {args.ckpt or 'packaged'}; its own edge silence {own:g} s", flush=True)
    loop = Path(tempfile.mkdtemp()) / "loop.wav"
    for lead_s in (0.0, 0.25):
        sf.write(loop, synthetic_loop(lead_s), SR)
        for edge in edges:
            tx.settings = replace(tx.settings, edge_silence_seconds=edge)
            act = tx.transcribe(loop).probs["kick"][0]
            frame = round(lead_s * tx.fps)
            print(f"synthetic loop, first kick at {lead_s:g} s, edge silence {edge:g} s: kick activation "
                  f"{act[frame:frame + 3].max():.2f} (its first 3 frames)", flush=True)
    for edge in edges:
        tx.settings = replace(tx.settings, edge_silence_seconds=edge)
        first, tp, n_ref, n_est = [], 0, 0, 0
        for midi, audio in tracks:
            ref = merged(n.start for i in pretty_midi.PrettyMIDI(str(midi)).instruments for n in i.notes)
            est = merged(o.time for o in tx.transcribe(audio).onsets)
            used = np.zeros(est.size, bool)
            hits = []
            for r in ref:  # greedy, in time order
                d = np.where(used, np.inf, np.abs(est - r)) if est.size else np.array([np.inf])
                j = int(np.argmin(d))
                hits.append(bool(d[j] <= 0.05))
                if hits[-1]:
                    used[j] = True
            if ref.size and ref[0] < START_S:
                first.append(hits[0])
            tp, n_ref, n_est = tp + sum(hits), n_ref + ref.size, n_est + est.size
        found = f"{np.mean(first):.1%}" if first else "n/a"
        print(f"edge silence {edge:g} s: first hit found in {found} of the {len(first)} of "
              f"{len(tracks)} tracks that start on one (before {1000 * START_S:.0f} ms); recall {share(tp, n_ref)}, "
              f"precision {share(tp, n_est)} ({len(tracks)} tracks, classes ignored)", flush=True)


if __name__ == "__main__":
    main()
