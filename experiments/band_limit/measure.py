"""What a file's sample rate costs the model: case C12's five kit renders (8 bars at 100 bpm: 16
kicks, 16 snares, 64 closed hi-hats, 44.1 kHz) resampled down and transcribed as ``python -m
drumtx.transcribe`` does (the packaged model unless ``--ckpt``; its tuned thresholds and gates).
Per rate and kit, per instrument: hits / truth (written), every instrument written that the
truth does not hold, and the share of frames the drum presence gate shut (``--presence-off``
runs without it). Reproduces the numbers of ``drumtx.audio.band_limit``'s docstring and the
README's note on low sample rates.

    python experiments/band_limit/measure.py WORK_DIR [--cases ../shared/cases] [--ckpt BUNDLE]
        [--rates 44100,22050,16000,11025,8000] [--out experiments/band_limit/results.md]

The case's generator (``make_C12_hat_under_snare.py``; FluidSynth and the Debian sound fonts)
writes ``WORK_DIR/C12`` once (skipped when it holds ``truth.json``). Each render is resampled
with soxr (``soxr.resample``, its default high quality) and written as 16-bit WAV at the rate,
then transcribed from the file (the file's rate is what ``band_limit`` reads). Onsets are
matched with mir_eval's onset matching (``drumtx.metrics.onset_counts``, 50 ms window).
Deterministic: one run is the measurement (no seed enters).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from drumtx.metrics import DEFAULT_WINDOW_S, onset_counts
from drumtx.transcriber import Transcriber

REPO = Path(__file__).resolve().parents[2]


def cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def case_dir(work: Path, cases: Path) -> Path:
    out = work / "C12"
    if not (out / "truth.json").is_file():
        subprocess.run([sys.executable, str(cases / "make_C12_hat_under_snare.py"), str(out)], check=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path, help="a folder for the case's renders and their resampled copies")
    ap.add_argument("--cases", type=Path, default=REPO.parent / "shared" / "cases",
                    help="the folder of the case generators (default: %(default)s)")
    ap.add_argument("--ckpt", default="default", help="a model bundle (default: the packaged model)")
    ap.add_argument("--presence-off", action="store_true", help="without the drum presence gate "
                    "(transcribe's --presence-confidence off)")
    ap.add_argument("--rates", default="44100,22050,16000,11025,8000", help="sample rates (Hz, comma-separated)")
    ap.add_argument("--out", type=Path, default=None, help="also write the table here (markdown) and its numbers "
                    "beside it (.json)")
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    src = case_dir(args.work, args.cases)
    truth: dict[str, list[float]] = {}
    for row in json.loads((src / "truth.json").read_text())["onsets"]:
        truth.setdefault(str(row[1]), []).append(float(row[0]))
    kits = sorted(p.stem for p in src.glob("*.wav"))
    tx = Transcriber.from_checkpoint(args.ckpt)
    if args.presence_off:
        tx.settings = replace(tx.settings, presence_confidence=None)
    f_max = tx.features.f_max
    rows, numbers = [], []
    for rate in rates:
        for kit in kits:
            y, sr = sf.read(src / f"{kit}.wav", dtype="float32", always_2d=True)
            path = args.work / f"C12_{rate}" / f"{kit}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, y if rate == sr else soxr.resample(y, sr, rate), rate, subtype="PCM_16")
            found: dict[str, list[float]] = {}
            result = tx.transcribe(path)
            for onset in result.onsets:
                found.setdefault(tx.vocab.instrument_of(onset.fine_class), []).append(onset.time)
            cells = {}
            for inst, ref in truth.items():
                c = onset_counts(np.sort(ref), np.sort(found.get(inst, [])), DEFAULT_WINDOW_S)
                cells[inst] = {"hit": c.tp, "truth": c.n_ref, "found": c.n_est}
            invented = {k: len(v) for k, v in found.items() if k not in truth}
            numbers.append({"rate": rate, "kit": kit, "scores": cells, "invented": invented,
                            "drumless_share": result.drumless_share})
            rows.append(f"| {rate / 1000:g} kHz | {kit} | "
                        + " | ".join(f"{cells[i]['hit']}/{cells[i]['truth']} ({cells[i]['found']})"
                                     for i in ("kick", "snare", "hihat"))
                        + f" | {', '.join(f'{k} {v}' for k, v in sorted(invented.items())) or '–'}"
                        + f" | {100 * result.drumless_share:.0f} % |")
            print(rows[-1], flush=True)
    head = [f"model: {args.ckpt} ({tx.model_identity.get('name')}, sha256 {tx.model_identity.get('sha256')}); "
            f"its log-mel top {f_max / 1000:g} kHz",
            f"drum presence gate: {tx.settings.presence_confidence if tx.settings.presence_confidence is not None else 'off'}",
            f"machine: {cpu_name()}, {os.cpu_count()} cores; python {platform.python_version()}", "",
            "| rate | kit | kick hit/truth (written) | snare | hi-hat | other instruments written "
            "| frames the presence gate shut |",
            "|---|---|---|---|---|---|---|"]
    table = "\n".join(head + rows) + "\n"
    if args.out:
        args.out.write_text(table)
        args.out.with_suffix(".json").write_text(json.dumps(numbers, indent=1) + "\n")


if __name__ == "__main__":
    main()
