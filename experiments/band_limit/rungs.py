"""Band-limited copies of test tracks with their MIDI, for ``drumtx.evaluate source=midi_folder``.

    python experiments/band_limit/rungs.py WORK_DIR [--data data/synth_songs]
        [--kits h2_bja_pacific,h2_forzee_stereo] [--tracks 48] [--rates 24000,22050,16000,11025]

The C12 loop of ``measure.py`` is 96 hits of one groove; this asks the same question on the
realism ladder's test tracks the aims are read on: the unseen sampled acoustic kits, drum-only
and with music (``kit_name`` ``unseen:<kit>`` and ``unseen:<kit>+music`` of the csv). ``--tracks``
of them, spread evenly over the sorted list (half drum-only, half with music), each resampled
with soxr (its default high quality) to every rate and written as 16-bit WAV beside a copy of its
MIDI under ``WORK_DIR/<rate>/`` (the same relative path, so annotation and audio pair up); the
rate a file holds is what limits its band, as a user's file does. Deterministic: no seed enters.

Then score every folder through the transcription pipeline (``experiments/band_limit/rungs.sh``).
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path, help="where the copies go (WORK/<rate>/...)")
    ap.add_argument("--data", type=Path, default=Path("data/synth_songs"), help="an E-GMD-format render (csv + audio + midi)")
    ap.add_argument("--kits", default="h2_bja_pacific,h2_forzee_stereo", help="unseen kits (csv kit_name without unseen:)")
    ap.add_argument("--tracks", type=int, default=48, help="test tracks, half drum-only, half with music")
    ap.add_argument("--rates", default="24000,22050,16000,11025",
                    help="sample rates (Hz, comma-separated; 24000: as rendered, the band the model hears)")
    args = ap.parse_args()
    kits = [k.strip() for k in args.kits.split(",") if k.strip()]
    rates = [int(r) for r in args.rates.split(",") if r.strip()]
    csv_path = next(args.data.glob("*.csv"))
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    chosen = []
    for music in ("", "+music"):
        names = {f"unseen:{k}{music}" for k in kits}
        pool = sorted((r for r in rows if r["kit_name"] in names), key=lambda r: r["audio_filename"])
        if not pool:
            raise SystemExit(f"no test track of {sorted(names)} in {csv_path}")
        take = np.linspace(0, len(pool) - 1, min(args.tracks // 2, len(pool))).round().astype(int)
        chosen += [pool[i] for i in sorted(set(take.tolist()))]
    for row in chosen:
        audio, sr = sf.read(args.data / row["audio_filename"], dtype="float32", always_2d=True)
        for rate in rates:
            out = args.work / str(rate) / Path(row["audio_filename"]).with_suffix(".wav")
            if out.is_file():
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            y = audio if rate == sr else soxr.resample(audio, sr, rate)
            sf.write(out, np.clip(y, -1.0, 1.0), rate, subtype="PCM_16")
            shutil.copyfile(args.data / row["midi_filename"], out.with_suffix(".midi"))
    durations = sum(float(r["duration"]) for r in chosen)
    print(f"{len(chosen)} tracks ({durations / 60:.1f} min) x {len(rates)} rates -> {args.work}")


if __name__ == "__main__":
    main()
