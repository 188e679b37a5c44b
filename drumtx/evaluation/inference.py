"""Run a model over whole tracks for scoring, through the one inference path.

Both inputs go through :func:`drumtx.inference.activations` with the transcriber's settings
(levelling, blocks with context, silence gate), so a track is scored on exactly the
activations ``python -m drumtx.transcribe`` gives for its audio:

* cached log-mel of a dataset track (:func:`infer_mel`): the feature cache's float16 array,
  which is bit for bit what transcribe computes from the audio file;
* an audio file (:func:`infer_audio`): :meth:`drumtx.transcriber.Transcriber.activations` itself.
"""

from __future__ import annotations

import numpy as np


def infer_mel(
    transcriber, mel: np.ndarray
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray | None]:
    """Probabilities of one cached track.

    Args:
        transcriber: a :class:`drumtx.transcriber.Transcriber` (model, features, settings).
        mel: the track's log-mel (n_mels, T), float16 as cached.

    Returns:
        ``(instrument -> (activation (T,), variation (T, V)), fine-class probabilities (T, C),
        velocity output (T, C) (velocity / 127) or None for a model without a velocity head)``.
    """
    result = transcriber.run(mel, fine=True)
    return result.probs, result.fine, result.velocity


def fine_from_instruments(probs: dict[str, tuple[np.ndarray, np.ndarray]], vocab) -> dict[str, np.ndarray]:
    """Fine-class probabilities as activation x variation (what the five-branch heads'
    ``fine_probs`` is; for a flat model it is its normalised form, not the raw sigmoids)."""
    out = {}
    for inst, (act, var) in probs.items():
        var = np.asarray(var)
        for k, fine in enumerate(vocab.instruments[inst]):
            out[fine] = np.asarray(act) * (var[:, k] if var.ndim == 2 else 1.0)
    return out


def infer_audio(
    transcriber, path
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int, np.ndarray | None]:
    """The transcription pipeline's stitched probabilities of one audio file, its frame count and
    its velocity output (T, C) (None for a model without a velocity head).

    Raises:
        drumtx.audio.AudioError: also for a file whose decoding stops partway: its annotations
            cover the whole file, so scoring the part that decodes would count false misses.
    """
    from drumtx.audio import AudioError

    result, envelope = transcriber.file_activations(path, progress=False)
    if result.truncated:
        raise AudioError(f"{path}: {result.truncated}; not scored (its annotations cover the whole file)")
    return result.probs, int(envelope.shape[0]), result.velocity
