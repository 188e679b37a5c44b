"""Run a model over whole tracks and keep what the scores need: per-instrument (activation,
variation) for decoding and per-fine-class probabilities for the frame scores.

Two inputs:

* cached log-mel of a dataset track (:func:`infer_mel`): the track is cut into blocks of
  ``chunk_seconds`` that overlap by ``context_seconds`` on each side, and only each block's
  centre is kept, so the bidirectional LSTM sees context on both sides of every kept frame
  (the block layout of :meth:`drumtx.transcribe.Transcriber.activations`, done on frames
  because the cache already holds the features);
* an audio file (:func:`infer_audio`): delegated to the transcription pipeline itself
  (:class:`drumtx.transcribe.Transcriber`), so external sets are scored on exactly what a
  user gets.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

log = logging.getLogger(__name__)


def blocks(n_frames: int, chunk: int, context: int) -> list[tuple[int, int, int, int]]:
    """``(lo, hi, keep_lo, keep_hi)`` per block: model input ``[lo, hi)``, kept ``[keep_lo, keep_hi)``.

    Kept spans tile ``[0, n_frames)`` exactly; every kept frame away from the track's edges
    has ``context`` frames of input on both sides.
    """
    if chunk <= 2 * context or context < 0:
        raise ValueError(f"need chunk > 2 * context >= 0 frames, got {chunk}, {context}")
    core = chunk - 2 * context
    if n_frames <= chunk:
        return [(0, n_frames, 0, n_frames)]
    out = []
    for a in range(0, n_frames, core):
        b = min(n_frames, a + core)
        out.append((max(0, a - context), min(n_frames, b + context), a, b))
    return out


def silence_mask(mel: np.ndarray, gate: float | None, dilate: int) -> np.ndarray | None:
    """Frames that may hold an onset: loudest mel bin within ``dilate`` frames above ``gate``
    (the transcriber's silence gate), or None when there is no gate."""
    if gate is None:
        return None
    from scipy.ndimage import maximum_filter1d

    return maximum_filter1d(np.asarray(mel, dtype=np.float32).max(axis=0), size=2 * dilate + 1) >= gate


@torch.inference_mode()
def infer_mel(
    model,
    mel: np.ndarray,
    fps: float,
    chunk_seconds: float = 30.0,
    context_seconds: float = 3.0,
    batch_size: int = 8,
    pad_value: float = float(np.log(1e-5)),
    gate: float | None = None,
    gate_dilate: int = 2,
    device: str | torch.device = "cpu",
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """``(instrument -> (activation (T,), variation (T, V)), fine probabilities (T, C))`` of one
    track's log-mel ``(n_mels, T)``; blocks are batched (padded with ``pad_value`` and masked)."""
    mel = np.asarray(mel)
    T = mel.shape[1]
    chunk = max(1, int(round(chunk_seconds * fps)))
    context = max(0, int(round(context_seconds * fps)))
    spans = blocks(T, chunk, min(context, (chunk - 1) // 2))
    insts = list(model.vocab.instruments)
    acts = {i: np.zeros(T, dtype=np.float32) for i in insts}
    vars_ = {i: np.zeros((T, len(model.vocab.instruments[i])), dtype=np.float32) for i in insts}
    fine = np.zeros((T, len(model.vocab.fine_classes)), dtype=np.float32)
    for s in range(0, len(spans), max(1, batch_size)):
        group = spans[s : s + batch_size]
        width = max(hi - lo for lo, hi, _, _ in group)
        x = np.full((len(group), mel.shape[0], width), pad_value, dtype=np.float32)
        mask = np.zeros((len(group), width), dtype=bool)
        for b, (lo, hi, _, _) in enumerate(group):
            x[b, :, : hi - lo] = mel[:, lo:hi]
            mask[b, : hi - lo] = True
        xt = torch.from_numpy(x).to(device)
        mt = torch.from_numpy(mask).to(device)
        logits = model(xt, mt if not mask.all() else None)
        probs = model.instrument_probs(logits)
        fp = model.fine_probs(logits).float().cpu().numpy()
        for b, (lo, _, klo, khi) in enumerate(group):
            a, z = klo - lo, khi - lo
            for i in insts:
                act, var = probs[i]
                acts[i][klo:khi] = act[b, a:z].float().cpu().numpy()
                vars_[i][klo:khi] = var[b, a:z].float().cpu().numpy()
            fine[klo:khi] = fp[b, a:z]
    loud = silence_mask(mel, gate, gate_dilate)
    if loud is not None:
        for i in insts:
            acts[i] = np.where(loud, acts[i], 0.0).astype(np.float32)
        fine = np.where(loud[:, None], fine, 0.0).astype(np.float32)
    return {i: (acts[i], vars_[i]) for i in insts}, fine


def fine_from_instruments(probs: dict[str, tuple[np.ndarray, np.ndarray]], vocab) -> dict[str, np.ndarray]:
    """Fine-class probabilities as activation x variation (what the five-branch heads'
    ``fine_probs`` is; for a flat model it is its normalised form, not the raw sigmoids)."""
    out = {}
    for inst, (act, var) in probs.items():
        var = np.asarray(var)
        for k, fine in enumerate(vocab.instruments[inst]):
            out[fine] = np.asarray(act) * (var[:, k] if var.ndim == 2 else 1.0)
    return out


def infer_audio(transcriber, path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int]:
    """The transcription pipeline's stitched probabilities of one audio file and its frame count."""
    probs, envelope = transcriber.activations(path, progress=False)
    return probs, int(envelope.shape[0])
