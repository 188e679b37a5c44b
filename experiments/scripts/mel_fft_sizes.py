"""CPU seconds of the log-mel front end (drumtx.features.LogMel) per FFT size, one thread.

    .venv/bin/python experiments/scripts/mel_fft_sizes.py [--seconds 120] [--repeats 3]

features=logmel_16k keeps the design's window length in time at 32 kHz, n_fft 1366 = 2 x 683 (a
prime): a slow FFT size. This times the 32 kHz front end at sizes near it and the design's 24 kHz
one (n_fft 1024) on the same length of noise (the FFT's cost does not depend on the signal),
best of --repeats, after a warm-up.
"""

from __future__ import annotations

import argparse
import time

import torch

from drumtx.features import LogMel


def cpu_seconds(mel: LogMel, wave: torch.Tensor, repeats: int) -> float:
    mel(wave[:, : mel.sample_rate])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        mel(wave)
        best = min(best, time.process_time() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"| front end | n_fft | window (ms) | CPU s per {args.seconds:g} s of audio |")
    print("|---|---:|---:|---:|")
    arms = [(24000, 240, 1024, 11000.0)] + [(32000, 320, n, 16000.0) for n in (1366, 1280, 1350, 1440, 2048)]
    for sr, hop, n_fft, f_max in arms:
        mel = LogMel(sample_rate=sr, hop_length=hop, n_fft=n_fft, n_mels=128, f_min=20.0, f_max=f_max)
        wave = torch.randn(1, int(sr * args.seconds))
        s = cpu_seconds(mel, wave, args.repeats)
        print(f"| {sr // 1000} kHz audio, f_max {f_max / 1000:g} kHz | {n_fft} | {1000 * n_fft / sr:.1f} | {s:.3f} |")


if __name__ == "__main__":
    main()
