"""What the cymbal ring (drumtx.synth.production.ring_cymbals, data.synth.production.cymbal_ring_*)
does to a training kit's crash, against pedalboard's Reverb (Freeverb) at its longest settings:
the ring (s until the sound stays 40 dB below its peak) and spectral centroid (first 200 ms) of
survey.py, on h2_gmrockkit's Crash-Hard.wav (Debian hydrogen-drumkits), at its own rate.

    python experiments/cymbal_samples/ring_check.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pedalboard as pb
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from survey import describe  # noqa: E402

from drumtx.synth.production import ring_cymbals  # noqa: E402

SAMPLE = Path("/usr/share/hydrogen/data/drumkits/GMRockKit/Crash-Hard.wav")


def measure(audio: np.ndarray, sr: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.wav"
        sf.write(path, audio, sr)
        ring, centroid = describe(path)
    return f"ring {ring:4.1f} s, centroid {centroid:3.1f} kHz"


def main() -> int:
    x, sr = sf.read(SAMPLE, dtype="float32", always_2d=True)
    x = np.concatenate([x.mean(axis=1), np.zeros(12 * sr, np.float32)])
    print(f"| {SAMPLE.name} as recorded | {measure(x, sr)} |")
    for room, damping in ((0.9, 0.5), (0.95, 0.5), (0.98, 0.3)):
        board = pb.Pedalboard([pb.Reverb(room_size=room, damping=damping, wet_level=0.3, dry_level=1.0, width=0.0)])
        print(f"| Reverb room {room}, damping {damping}, wet 0.3 | {measure(board(x[None, :], sr)[0], sr)} |")
    for rt60, ring_db, treble_db in ((2.0, -12.0, 0.0), (6.0, -6.0, 0.0), (10.0, 0.0, 0.0), (6.0, -6.0, -12.0)):
        params = {"rt60_s": rt60, "ring_db": ring_db, "treble_db": treble_db, "treble_hz": 4000.0, "seed": 0}
        y = ring_cymbals(x, sr, params)[: x.size]
        print(f"| ring_cymbals RT60 {rt60:g} s, tail {ring_db:+g} dB, shelf {treble_db:+g} dB at 4 kHz | {measure(y, sr)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
