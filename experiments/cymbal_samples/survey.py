"""How the sampled kits' cymbals sound: per kit, the samples that GMD's crash notes (49, 55, 57, 52),
ride notes (51, 59) and open hi-hat (46) play, with each sample's ring (seconds until it stays
40 dB below its peak, to the end of the file) and spectral centroid (first 200 ms).

    python experiments/cymbal_samples/survey.py > experiments/cymbal_samples/survey.md

Reads the kit maps of conf/kits/hydrogen.yaml and sfz.yaml and the kits' own files (Debian's
hydrogen-drumkits / hydrogen-data, ../shared/data/kits); nothing is rendered. Pitch shifts in the
maps are left out (they change the centroid by 2^(semitones/12) and the ring by its inverse).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from omegaconf import OmegaConf

from drumtx import CONF_DIR
from drumtx.synth.sampled.formats import SampledKitError, read_kit

NOTES = {"crash": (49, 55, 57, 52), "ride": (51, 59), "open hat": (46,)}


def _keys(value) -> list[int]:
    """The kit keys one map entry plays (an int, a list, or {notes: ...})."""
    if isinstance(value, dict):
        value = value["notes"]
    return [int(v) for v in (value if isinstance(value, list) else [value])]


def describe(path: Path) -> tuple[float, float]:
    """(ring seconds, centroid kHz) of one sample file."""
    x, sr = sf.read(path, always_2d=True, dtype="float32")
    x = x.mean(axis=1)
    env = np.abs(x)
    loud = np.flatnonzero(env > env.max() * 0.01)  # -40 dB
    ring = (loud[-1] - loud[0]) / sr if loud.size else 0.0
    head = x[: int(0.2 * sr)]
    spec = np.abs(np.fft.rfft(head))
    freqs = np.fft.rfftfreq(head.size, 1.0 / sr)
    return ring, float((spec * freqs).sum() / max(spec.sum(), 1e-12) / 1000)


def main() -> int:
    rows = []
    for conf in ("hydrogen", "sfz"):
        cfg = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "kits" / f"{conf}.yaml"), resolve=False)
        dirs = [Path(str(d)).expanduser() for d in cfg["kits_dir"] if "${" not in str(d)]
        if conf == "sfz":
            dirs.append(Path(__file__).resolve().parents[3] / "shared" / "data" / "kits")
        for name, kit in cfg["kits"].items():
            path = next((d / kit["file"] for d in dirs if (d / kit["file"]).is_file()), None)
            if path is None:
                print(f"{name}: {kit['file']} not found", file=sys.stderr)
                continue
            try:
                sk = read_kit(name, path, cfg["format"])
            except SampledKitError as exc:
                print(exc, file=sys.stderr)
                continue
            cells = []
            for notes in NOTES.values():
                rings, cents = [], []
                for note in notes:
                    if note not in kit["notes"]:
                        continue
                    for key in _keys(kit["notes"][note]):
                        inst = sk.instruments.get(key)
                        for region in inst.sounding if inst else []:
                            ring, cent = describe(region.sample)
                            rings.append(ring)
                            cents.append(cent)
                cells.append(f"{np.median(rings):.1f} s, {np.median(cents):.1f} kHz" if rings else "–")
            rows.append((kit.get("split", cfg.get("split", "train")), kit.get("kind", ""), name, cells))
    print("| kit | split | kind | crash: ring, centroid | ride | open hi-hat |")
    print("|---|---|---|---|---|---|")
    for split, kind, name, cells in sorted(rows, key=lambda r: (r[0] != "train", r[1], r[2])):
        print(f"| {name} | {split} | {kind} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
