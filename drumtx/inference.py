"""The one way a model runs over a whole track: log-mel in, stitched frame probabilities out.

Transcription (:class:`drumtx.transcriber.Transcriber`), evaluation
(:mod:`drumtx.evaluation.inference`) and threshold tuning (:func:`drumtx.thresholds.run_model`)
all call :func:`activations`, so thresholds are tuned and scores are measured on exactly the
activations a user gets. Its input is already levelled: the features
(:func:`drumtx.features.levelled_log_mel`, settings ``level_db``/``max_gain_db`` of the model's
``features``) move each track's loudest log-mel bin to one level before the float16 rounding,
so a take at -60 dBFS reaches the model as a loud one does (case C17). What it does, in order
(settings: ``conf/inference/default.yaml``):

1. **Blocks.** The track is cut into blocks of ``chunk_seconds`` overlapping by
   ``context_seconds`` on each side (:func:`blocks`); only each block's centre is kept, so the
   bidirectional LSTM sees context on both sides of every kept frame.
2. **Silence gate.** A frame whose loudest mel bin, within +-``gate_dilate`` frames, is below
   ``gate_db`` (dB re the loudest bin of a full-scale 1 kHz sine, on the levelled log-mel, so
   relative to the file's level) cannot hold an onset: digital silence gives an empty
   transcription whatever the model says.
3. **Drum presence gate.** A frame cannot hold an onset of any instrument unless one of the
   time-keeping instruments (``presence_instruments``: kick, snare, hi-hat, ride) reaches
   ``presence_confidence`` within +-``presence_seconds``: music without drums (an intro, a
   break, a song without a drummer) otherwise gets scattered low-confidence "hits", mostly kicks
   on bass notes, which thresholds alone could only remove at a large cost in recall. The gate is
   the model's own (its bundle's ``presence``, measured for it: the packaged model's on the
   threshold tuning's realistic validation tracks and every test rung,
   ``experiments/default_model_v2``, "Music without drums: the drum presence gate") unless the
   settings give one (:meth:`InferenceSettings.for_model`).

The input is the levelled float16 log-mel of the feature cache (:mod:`drumtx.data.cache`). An
audio file gets exactly that array from :func:`file_mel` (streamed, the same frames bit for bit),
so an audio file and its cached features give identical activations.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

#: The defaults of every inference setting; evaluate and tune_thresholds compose the same file
#: (``inference: default`` in their config), transcribe takes its CLI defaults from it.
SETTINGS_FILE = "inference/default.yaml"
#: Float16 like the feature cache: the model sees the inputs it was trained on, and every path
#: the same bits. The rounding step is 2**-7 nats (0.03 dB) at typical log-mel values.
MEL_DTYPE = np.float16


@dataclass(frozen=True)
class InferenceSettings:
    """How a model runs over a track (see the module docstring; defaults in ``conf/inference/default.yaml``).

    Attributes:
        chunk_seconds: block length fed to the model (s).
        context_seconds: run but not kept on each side of a block (s); < chunk_seconds / 2.
        batch_size: blocks per forward pass. 1 everywhere by default: batched outputs differ
            from single ones in the last bits, and on a CPU one block at a time is faster.
        gate_db: silence gate on the (levelled) log-mel, dB re the loudest bin of a full-scale
            1 kHz sine; None: no gate.
        gate_dilate: frames on each side that a loud frame keeps open.
        presence_confidence: drum presence gate: the activation one of ``presence_instruments``
            must reach within +-``presence_seconds`` of a frame for it to hold an onset; 0: no
            presence gate; None: the model's own (:meth:`for_model`: the gate its bundle carries,
            ``meta["presence"]``, measured for that model; none if it carries none). An absolute
            confidence only means something for a model it was measured on: a briefly trained
            model may never reach it, so no gate is applied unless the model or the user asks.
        presence_seconds: the presence gate's reach on each side (s).
        presence_instruments: the instruments whose activations count as drums being played
            (names of the model's vocabulary; others are ignored, and a model with none of them
            gets no presence gate).
        edge_silence_seconds: silent frames (``features.silence``) the model sees before the
            track's first frame and after its last (s; not in the output), where it would
            otherwise see the encoder's zero padding, which in log-mel is a loud steady sound:
            no rise, so a hit on the first frame goes unseen (0: none). None: the model's own
            (:meth:`for_model`: the longest lead of silence its training crops had,
            ``data.lead_silence_seconds`` of its training config; 0 for a model trained without).
    """

    chunk_seconds: float
    context_seconds: float
    batch_size: int
    gate_db: float | None
    gate_dilate: int
    presence_confidence: float | None = None
    presence_seconds: float = 3.0
    presence_instruments: tuple[str, ...] = ("kick", "snare", "hihat", "ride")
    edge_silence_seconds: float | None = None

    def __post_init__(self) -> None:
        if not self.chunk_seconds > 2 * self.context_seconds >= 0:
            raise ValueError(
                f"inference: need chunk_seconds > 2 * context_seconds >= 0, got {self.chunk_seconds}, "
                f"{self.context_seconds}"
            )
        if int(self.batch_size) < 1 or int(self.gate_dilate) < 0:
            raise ValueError(
                f"inference: need batch_size >= 1, gate_dilate >= 0, got {self.batch_size}, {self.gate_dilate}"
            )
        if self.gate_db is not None and not math.isfinite(self.gate_db):
            raise ValueError(f"inference: need a finite gate_db (or null: no gate), got {self.gate_db}")
        if self.presence_confidence is not None and not 0.0 <= self.presence_confidence <= 1.0:
            raise ValueError(f"inference: need 0 <= presence_confidence <= 1, got {self.presence_confidence}")
        if not self.presence_seconds >= 0.0:
            raise ValueError(f"inference: need presence_seconds >= 0, got {self.presence_seconds}")
        if self.edge_silence_seconds is not None and not 0.0 <= self.edge_silence_seconds < math.inf:
            raise ValueError(f"inference: need a finite edge_silence_seconds >= 0, got {self.edge_silence_seconds}")

    @classmethod
    def from_config(cls, cfg: Mapping | None = None, **overrides) -> InferenceSettings:
        """Settings from a config mapping (unknown keys ignored) over the defaults file, then ``overrides``.

        Raises:
            ValueError: an impossible combination (see :meth:`__post_init__`).
        """
        merged = {**_default_config(), **{k: v for k, v in dict(cfg or {}).items()}, **overrides}
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in merged.items() if k in names}
        for key in ("gate_db", "presence_confidence", "edge_silence_seconds"):
            kw[key] = None if kw[key] is None else float(kw[key])
        for key in ("chunk_seconds", "context_seconds", "presence_seconds"):
            kw[key] = float(kw[key])
        kw["presence_instruments"] = tuple(str(i) for i in kw["presence_instruments"])
        for key in ("batch_size", "gate_dilate"):
            kw[key] = int(kw[key])
        return cls(**kw)

    def to_dict(self) -> dict:
        """The settings as plain JSON values (the instruments a list), as meta and cache keys hold them."""
        return {**asdict(self), "presence_instruments": list(self.presence_instruments)}

    def for_model(self, meta: Mapping) -> InferenceSettings:
        """These settings for one model: where ``presence_confidence`` is None (the model's own),
        the drum presence gate its bundle meta carries (``meta["presence"]``: ``confidence``,
        ``seconds``, ``instruments``), else none (0); where ``edge_silence_seconds`` is None, the
        model's own (:func:`trained_lead_silence`).

        Raises:
            ValueError: the meta's gate lacks a confidence, or a value is not a number or out of
                range (one line).
        """
        if self.edge_silence_seconds is None:
            return replace(self, edge_silence_seconds=trained_lead_silence(meta)).for_model(meta)
        if self.presence_confidence is not None:
            return self
        own = (meta or {}).get("presence") or {}
        if not own:
            return replace(self, presence_confidence=0.0)
        if not isinstance(own, Mapping) or "confidence" not in own:
            raise ValueError(
                f"model meta: 'presence' needs a 'confidence' (and optionally 'seconds', 'instruments'), got {own!r}"
            )
        try:
            return replace(
                self,
                presence_confidence=float(own["confidence"]),
                presence_seconds=float(own.get("seconds", self.presence_seconds)),
                presence_instruments=tuple(str(i) for i in own.get("instruments", self.presence_instruments)),
            )
        except (TypeError, ValueError) as err:
            raise ValueError(f"model meta: bad drum presence gate {dict(own)!r}: {err}") from None


def trained_lead_silence(meta: Mapping | None) -> float:
    """The longest lead of silence (s) a model's training crops had before a track
    (``data.lead_silence_seconds`` of the training config in its bundle meta, where
    ``data.lead_silence_prob`` > 0; :class:`drumtx.data.datamodule.CropDataset`), 0.0 for a
    model trained without: the edge silence it should hear at inference.

    Raises:
        ValueError: the config's values are not numbers (one line).
    """
    data = (((meta or {}).get("config") or {}).get("data")) or {}
    try:
        if float(data.get("lead_silence_prob") or 0.0) > 0.0:
            return float(data.get("lead_silence_seconds") or 0.0)
    except (TypeError, ValueError):
        raise ValueError(f"model meta: bad lead silence in its training config: "
                         f"{data.get('lead_silence_prob')!r}, {data.get('lead_silence_seconds')!r}") from None
    return 0.0


@lru_cache(maxsize=1)
def _default_config() -> dict:
    from omegaconf import OmegaConf

    from drumtx import CONF_DIR

    return OmegaConf.to_container(OmegaConf.load(CONF_DIR / SETTINGS_FILE), resolve=True)


@dataclass
class Activations:
    """Stitched model output of one track.

    Attributes:
        probs: instrument -> (activation (T,), variation (T, V)) float32, gated.
        fine: fine-class probabilities (T, C) float32 (activation x variation for the five-branch
            heads), gated; None when not asked for.
        velocity: the velocity head's output (T, C) float32, MIDI velocity / 127 per fine class
            (``vocab.fine_classes`` order; meaningful at onset frames), gated (0); None for a
            model without a velocity head.
        truncated: why they cover only the first part of the input file (a cut-off file;
            :attr:`SpooledMel.truncated`), else None.
        silent_share: the share of frames (0-1) the silence gate shut (``gate_db``).
        drumless_share: the share of frames (0-1) the drum presence gate shut of those left.
    """

    probs: dict[str, tuple[np.ndarray, np.ndarray]]
    fine: np.ndarray | None
    velocity: np.ndarray | None = None
    truncated: str | None = None
    silent_share: float = 0.0
    drumless_share: float = 0.0

    @property
    def n_frames(self) -> int:
        return int(next(iter(self.probs.values()))[0].shape[0])


class PoolThenReLU(torch.nn.Module):
    """A conv block's ``ReLU -> MaxPool2d((k, 1))`` (pooling over frequency only) computed the
    other way round at inference: the maximum over each ``k`` frequency rows first (strided
    ``torch.maximum``), then ReLU in place on the ``k`` times smaller result. ReLU and maximum
    commute exactly, so the output is the same to the bit, at a fraction of the cost (torch's
    max-pool over frequency was the slowest op of the default encoder: ``experiments/bench``).
    In training mode it is the original ``pool(relu(x))``, gradients and all.

    Args:
        pool: the block's ``MaxPool2d`` (kernel ``(k, 1)``, stride = kernel, no padding,
            dilation 1, floor mode).
    """

    def __init__(self, pool: torch.nn.MaxPool2d):
        super().__init__()
        self.pool = pool
        self.k = int(_pair(pool.kernel_size)[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or x.dim() != 4:
            return self.pool(torch.relu(x))
        k, f = self.k, x.shape[2] // self.k * self.k
        y = x[:, :, 0:f:k]
        for j in range(1, k):
            y = torch.maximum(y, x[:, :, j:f:k])
        return y.relu_() if k > 1 else torch.relu(y)


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, tuple | list) else (v, v)


def _is_freq_pool(m) -> bool:
    if not isinstance(m, torch.nn.MaxPool2d) or m.ceil_mode or m.return_indices:
        return False
    kernel, stride = _pair(m.kernel_size), _pair(m.stride if m.stride is not None else m.kernel_size)
    return kernel[1] == 1 and stride == kernel and _pair(m.padding) == (0, 0) and _pair(m.dilation) == (1, 1)


def for_inference(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` (in place) with every conv block's ``ReLU -> MaxPool2d((k, 1))`` replaced by
    :class:`PoolThenReLU`: the same outputs to the bit, ~2x faster encoder on a CPU. Blocks of
    any other shape are left as they are; the state dict is unchanged (neither has weights).
    :func:`drumtx.checkpoint.load_transcriber` applies it, so transcribe, evaluate and
    threshold tuning all run it.

    Returns:
        ``model``.
    """
    for block in model.modules():
        if not isinstance(block, torch.nn.Sequential):
            continue
        for i in range(len(block) - 1):
            if isinstance(block[i], torch.nn.ReLU) and _is_freq_pool(block[i + 1]):
                block[i + 1] = PoolThenReLU(block[i + 1])
                block[i] = torch.nn.Identity()
    return model


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when available, else CPU) or a device this machine has (``cpu``, ``cuda``,
    ``cuda:1``, ``mps``).

    Raises:
        ValueError: one line, for a name torch does not know or a device this machine lacks (the
            config check, :func:`drumtx.config_schema`'s ``device`` kind, and ``transcribe
            --device`` put their key in front).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(str(name))
    except (RuntimeError, ValueError):
        raise ValueError("expected auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("no CUDA device on this machine")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("no MPS device on this machine")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError("expected auto, cpu or cuda[:N]")
    return device


# ------------------------------------------------------------------------------------------- gate
def drum_present(acts: Mapping[str, np.ndarray], settings: InferenceSettings, fps: float) -> np.ndarray | None:
    """The drum presence gate (module docstring, step 3): frames within +-``presence_seconds``
    of a frame where one of ``presence_instruments`` reaches ``presence_confidence``.

    Args:
        acts: instrument -> activation (T,) in [0, 1], after the silence gate.
        settings: :class:`InferenceSettings`.
        fps: frames per second.

    Returns:
        ``(T,)`` bool, True where onsets may be; None when there is no presence gate
        (``presence_confidence`` 0 or None, or the model has none of ``presence_instruments``).
    """
    from scipy.ndimage import maximum_filter1d

    names = [i for i in settings.presence_instruments if i in acts]
    if not settings.presence_confidence or not names:  # None (unresolved) or 0: no gate
        return None
    evidence = np.max(np.stack([np.asarray(acts[i], dtype=np.float32) for i in names]), axis=0)
    reach = int(round(settings.presence_seconds * fps))
    near = maximum_filter1d(evidence, size=2 * reach + 1, mode="constant", cval=0.0)
    return near >= np.float32(settings.presence_confidence)


def check_gate(gate_db: float | None, features) -> None:
    """Refuse a silence gate that would gate every frame of a levelled track.

    Levelling moves each file's loudest log-mel bin to ``features.level_db``, so a gate at or
    above it leaves nothing to transcribe. Checked where the two meet (:func:`activations`), so a
    Transcriber whose features were changed after it was built is caught too.

    Args:
        gate_db: the settings' ``gate_db`` (dB; None: no gate).
        features: a :class:`drumtx.features.LogMel` (``level_db``; None: levelling off).

    Raises:
        ValueError: ``gate_db >= features.level_db``; the message names both keys.
    """
    level = getattr(features, "level_db", None)
    if gate_db is not None and level is not None and gate_db >= level:
        raise ValueError(f"inference: gate_db {gate_db:g} is not below the level every file is moved to "
                         f"({level:g} dB, level_db): every frame would be gated")


def loud_frames(mel: np.ndarray, gate: float, dilate: int) -> np.ndarray:
    """Frames that may hold an onset: the loudest bin within +-``dilate`` frames is >= ``gate``
    (a log-mel value, :func:`drumtx.features.db_to_mel`). Returns bool (T,)."""
    from scipy.ndimage import maximum_filter1d

    return maximum_filter1d(np.asarray(mel, dtype=np.float32).max(axis=0), size=2 * dilate + 1) >= gate


# ----------------------------------------------------------------------------------------- blocks
def blocks(n_frames: int, chunk: int, context: int) -> list[tuple[int, int, int, int]]:
    """``(lo, hi, keep_lo, keep_hi)`` per block: model input ``[lo, hi)``, kept ``[keep_lo, keep_hi)``.

    Kept spans tile ``[0, n_frames)`` exactly; every kept frame away from the track's edges
    has ``context`` frames of input on both sides.

    Raises:
        ValueError: ``chunk <= 2 * context`` or ``context < 0``.
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


# ------------------------------------------------------------------------------------ the one path
@torch.inference_mode()
def activations(
    model,
    features,
    mel,
    settings: InferenceSettings,
    *,
    device: str | torch.device = "cpu",
    fine: bool = True,
    progress: str | Callable[[float], None] | None = None,
) -> Activations:
    """Run ``model`` over one track's (levelled) log-mel: in blocks with context, stitched, gated.

    Args:
        model: a :class:`drumtx.models.transcriber.DrumTranscriber` (``instrument_probs``,
            ``fine_probs``, ``vocab``), in eval mode.
        features: the model's :class:`drumtx.features.LogMel` (fps, ``silence``, the 0 dB reference).
        mel: levelled log-mel (n_mels, T): the feature cache's float16 array, or :func:`file_mel`'s
            :class:`SpooledMel`; anything with ``shape`` and ``[:, lo:hi]`` slicing.
            Other dtypes are rounded to float16 first, like the cache.
        settings: :class:`InferenceSettings`.
        device: where the model runs.
        fine: also return fine-class probabilities (T, C).
        progress: a tqdm label to show a progress bar over blocks, or a function called with the
            share of the blocks done (0-1) after each (a caller's own bar); None: none.

    Returns:
        :class:`Activations` with T frames (with ``velocity`` when the model has a velocity head).

    Raises:
        ValueError: an empty log-mel; a gate at or above the level (:func:`check_gate`).
    """
    n_mels, n_frames = int(mel.shape[0]), int(mel.shape[1])
    if n_frames == 0:
        raise ValueError("empty log-mel (0 frames)")
    check_gate(settings.gate_db, features)
    from drumtx.features import db_to_mel

    fps = float(features.fps)
    # (None here: not resolved for a model; any silence is at least a frame, as in training's crops)
    edge = max(1, int(round(settings.edge_silence_seconds * fps))) if settings.edge_silence_seconds else 0
    if edge:  # the track between silences: run on that, return the track's frames
        out = activations(model, features, _EdgeSilence(mel, edge, features.silence),
                          replace(settings, edge_silence_seconds=0.0), device=device, fine=fine, progress=progress)
        keep = slice(edge, edge + n_frames)
        return Activations(
            {i: (act[keep], var[keep]) for i, (act, var) in out.probs.items()},
            None if out.fine is None else out.fine[keep],
            None if out.velocity is None else out.velocity[keep],
            silent_share=out.silent_share,  # (of the track and its edges: the edges' silence is gated too)
            drumless_share=out.drumless_share,
        )
    gate = None if settings.gate_db is None else db_to_mel(settings.gate_db, features)
    chunk = max(1, int(round(settings.chunk_seconds * fps)))
    context = min(max(0, int(round(settings.context_seconds * fps))), (chunk - 1) // 2)
    spans = blocks(n_frames, chunk, context)

    insts = list(model.vocab.instruments)
    acts = {i: np.zeros(n_frames, dtype=np.float32) for i in insts}
    variations = {i: np.zeros((n_frames, len(model.vocab.instruments[i])), dtype=np.float32) for i in insts}
    fine_out = np.zeros((n_frames, len(model.vocab.fine_classes)), dtype=np.float32) if fine else None
    has_velocity = bool(getattr(model, "has_velocity", False))
    vel_out = np.zeros((n_frames, len(model.vocab.fine_classes)), dtype=np.float32) if has_velocity else None
    loud = np.ones(n_frames, dtype=bool)
    model = model.eval()
    groups = [spans[s : s + settings.batch_size] for s in range(0, len(spans), settings.batch_size)]
    bar = None
    if isinstance(progress, str) and progress:
        from tqdm import tqdm

        bar = tqdm(total=len(groups), desc=progress, unit="block", leave=False)
    report = progress if callable(progress) else None
    done = [0]
    device = torch.device(device)
    workers = block_workers(device, settings.batch_size, len(groups))

    def stitch(group, out) -> None:
        probs, fp, vp = out
        for b, (lo, _, klo, khi) in enumerate(group):
            a, z = klo - lo, khi - lo
            for i in insts:
                act, var = probs[i]
                acts[i][klo:khi] = act[b, a:z]
                variations[i][klo:khi] = var[b, a:z]
            if fine:
                fine_out[klo:khi] = fp[b, a:z]
            if has_velocity:
                vel_out[klo:khi] = vp[b, a:z]
        if bar is not None:
            bar.update(1)
        if report is not None:
            done[0] += 1
            report(done[0] / len(groups))

    with contextlib.ExitStack() as closing:
        if bar is not None:
            closing.callback(bar.close)
        pool = closing.enter_context(_one_thread_per_block(workers))
        pending: deque = deque()
        for group in groups:
            width = max(hi - lo for lo, hi, _, _ in group)
            x = np.full((len(group), n_mels, width), features.silence, dtype=np.float32)
            for b, (lo, hi, klo, khi) in enumerate(group):
                block = _as_cached(mel[:, lo:hi]).astype(np.float32)
                x[b, :, : hi - lo] = block
                if gate is not None:
                    # the gate of the kept frames needs +-dilate frames around them, inside the track
                    a, z = max(lo, klo - settings.gate_dilate), min(hi, khi + settings.gate_dilate)
                    mask = loud_frames(block[:, a - lo : z - lo], gate, settings.gate_dilate)
                    loud[klo:khi] = mask[klo - a : khi - a]
            lengths = [hi - lo for lo, hi, _, _ in group]
            mask_np = None
            if min(lengths) < width:  # only a batch with a short last block needs padding and a mask
                mask_np = np.arange(width)[None, :] < np.array(lengths)[:, None]
            args = (model, x, mask_np, device, fine, has_velocity)
            if pool is None:
                stitch(group, _forward(*args))
                continue
            pending.append((group, pool.submit(_forward, *args)))
            while len(pending) > workers:  # at most `workers` blocks held: memory does not grow with the track
                stitch(*_result(pending.popleft()))
        while pending:
            stitch(*_result(pending.popleft()))
    if gate is not None and not loud.all():
        fine_out, vel_out = _shut(loud, acts, fine_out, vel_out)
    present = drum_present(acts, settings, fps)  # on the silence-gated activations
    if present is not None and not present.all():
        fine_out, vel_out = _shut(present, acts, fine_out, vel_out)
    n_loud = int(loud.sum())
    drumless = 0.0 if present is None or n_loud == 0 else float((loud & ~present).sum()) / n_loud
    return Activations({i: (acts[i], variations[i]) for i in insts}, fine_out, vel_out,
                       silent_share=1.0 - n_loud / n_frames, drumless_share=drumless)


#: At most this many blocks at once: each in flight holds its activations (the packaged model,
#: 30 s blocks: peak +85-107 MB with 2 at once, experiments/bench/README.md "Blocks side by
#: side"), so a 64-thread machine would otherwise hold dozens for one track.
MAX_BLOCK_WORKERS = 8
#: torch's thread count is process-wide: two threads inside :func:`activations` at once would set
#: and restore it over each other, so they take turns (each one already uses every core).
_THREADS_LOCK = threading.Lock()


def block_workers(device: torch.device, batch_size: int, n_groups: int) -> int:
    """How many blocks :func:`activations` runs at once: on a CPU with one block per forward
    pass, as many as torch's threads (``torch.get_num_threads()``), at most one per block and
    :data:`MAX_BLOCK_WORKERS`, at least 1, each on one thread; else 0: no pool (a GPU, or batched
    blocks: the calling thread runs each pass on torch's threads).

    Why: the BiLSTM steps through a block's frames one at a time, and with two intra-op threads
    each step waits for the other thread, so a second thread bought nothing for one block at a
    time (2-core Zen 5 VM: network stage 4.6 s wall with 1 thread, 4.1 s with 2 at 1.8x the
    CPU; experiments/bench/README.md). Blocks are independent, so running them side by side
    uses every core, and each block's arithmetic is then that of one thread whatever the thread
    count: the activations are the same to the bit with any ``torch.set_num_threads``. The cost:
    a track of one block (<= 30 s) runs on one thread (~0.2 s for 30 s on that VM), and memory
    grows with the blocks in flight (+85-107 MB peak with 2).
    """
    if device.type != "cpu" or batch_size != 1:
        return 0
    return max(1, min(torch.get_num_threads(), n_groups, MAX_BLOCK_WORKERS))


@contextlib.contextmanager
def _one_thread_per_block(workers: int):
    """A thread pool of ``workers`` with torch's intra-op threads at 1 while it runs (the number
    is process-wide: put back after, and one caller at a time, :data:`_THREADS_LOCK`). Yields
    None for ``workers`` 0 (no pool: the calling thread runs each block on torch's threads, as
    before). On an error or Ctrl-C, blocks not yet started are dropped; running ones finish."""
    if workers < 1:
        yield None
        return
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drumtx-block")
        failed = True
        try:
            yield pool
            failed = False
        finally:
            pool.shutdown(wait=True, cancel_futures=failed)
            torch.set_num_threads(before)


def _forward(model, x: np.ndarray, mask: np.ndarray | None, device: torch.device, fine: bool, velocity: bool):
    """One forward pass over blocks ``x`` (B, n_mels, W) float32: instrument -> (activation,
    variations) arrays (B, W) / (B, W, V), fine-class and velocity probabilities (B, W, C) or
    None. Runs in a pool thread too (inference mode is per thread, hence set here)."""
    with torch.inference_mode():
        mask_t = None if mask is None else torch.from_numpy(mask).to(device)
        logits = model(torch.from_numpy(x).to(device), mask_t)
        probs = {i: (act.float().cpu().numpy(), var.float().cpu().numpy())
                 for i, (act, var) in model.instrument_probs(logits).items()}
        fp = model.fine_probs(logits).float().cpu().numpy() if fine else None
        vp = model.velocity_probs(logits).float().cpu().numpy() if velocity else None
    return probs, fp, vp


def _result(item):
    """``(group, future)`` -> ``(group, the future's result)`` (re-raises the block's error)."""
    group, future = item
    return group, future.result()


def _shut(open_: np.ndarray, acts: dict, fine: np.ndarray | None, velocity: np.ndarray | None):
    """Zero every output outside the frames ``open_`` (T,) bool: ``acts`` in place, then the
    fine-class and velocity arrays (each (T, C) or None) returned."""
    for i in acts:
        acts[i] = np.where(open_, acts[i], 0.0).astype(np.float32)
    if fine is not None:
        fine = np.where(open_[:, None], fine, 0.0).astype(np.float32)
    if velocity is not None:
        velocity = np.where(open_[:, None], velocity, 0.0).astype(np.float32)
    return fine, velocity


class _EdgeSilence:
    """``mel`` (n_mels, T) with ``edge`` frames of ``silence`` before it and ``tail`` (default
    ``edge``) after it, sliced ``[:, lo:hi]`` as :func:`activations` reads it (a
    :class:`SpooledMel` stays on disk)."""

    def __init__(self, mel, edge: int, silence: float, tail: int | None = None):
        self.mel, self.edge, self.silence = mel, int(edge), float(silence)
        self.n_frames = int(mel.shape[1])
        self.shape = (int(mel.shape[0]), self.edge + self.n_frames + (self.edge if tail is None else int(tail)))

    def __getitem__(self, key) -> np.ndarray:
        rows, cols = key
        if rows != slice(None) or cols.step not in (None, 1):
            raise IndexError("only [:, lo:hi] slices")
        lo, hi = cols.start, cols.stop
        out = np.full((self.shape[0], hi - lo), self.silence, dtype=MEL_DTYPE)
        a, z = max(lo, self.edge), min(hi, self.edge + self.n_frames)
        if a < z:
            out[:, a - lo : z - lo] = _as_cached(self.mel[:, a - self.edge : z - self.edge])
        return out


def _as_cached(block) -> np.ndarray:
    """A block as the feature cache stores it (float16)."""
    block = np.asarray(block)
    return block if block.dtype == MEL_DTYPE else block.astype(MEL_DTYPE)


# ------------------------------------------------------------------------------------- audio files
class SpooledMel:
    """A track's float16 log-mel (n_mels, T) kept in an anonymous temporary file and read back
    a block at a time, so that transcribing an hour of audio holds no hour of features in memory.

    Supports what :func:`activations` needs: ``shape``, ``max()`` and ``[:, lo:hi]``.

    Attributes:
        level_db, gain_db: the track's level before levelling and the gain applied (dB), where
            the writer (:func:`file_mel`) set them; else None.
        truncated: why only the first part of the file is here (a cut-off file), e.g. ``"only
            9.9 s of its 20.0 s decode (...)"`` or ``"truncated: its header promises …"``; None
            for a whole file.
    """

    def __init__(self, n_mels: int, directory: str | os.PathLike | None = None):
        self.n_mels = int(n_mels)
        self._file = tempfile.TemporaryFile(dir=directory)  # deleted when closed
        self.n_frames = 0
        self._max = -np.inf
        self.level_db: float | None = None
        self.gain_db: float | None = None
        self.truncated: str | None = None

    def append(self, piece: np.ndarray) -> None:
        """Add frames (n_mels, k) of any float dtype (rounded to float16)."""
        piece = _as_cached(piece)
        if piece.ndim != 2 or piece.shape[0] != self.n_mels:
            raise ValueError(f"expected ({self.n_mels}, k) frames, got {piece.shape}")
        if piece.shape[1]:
            self._max = max(self._max, float(piece.max()))
        self._file.seek(0, os.SEEK_END)
        self._file.write(np.ascontiguousarray(piece.T).tobytes())  # frame-major: a block is one read
        self.n_frames += piece.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_mels, self.n_frames)

    def max(self) -> np.float16:
        return MEL_DTYPE(self._max)

    def __getitem__(self, key) -> np.ndarray:
        rows, cols = key
        if rows != slice(None) or not isinstance(cols, slice) or cols.step not in (None, 1):
            raise IndexError("SpooledMel supports [:, lo:hi] only")
        lo, hi, _ = cols.indices(self.n_frames)
        hi = max(lo, hi)
        width = self.n_mels * np.dtype(MEL_DTYPE).itemsize
        self._file.seek(lo * width)
        raw = self._file.read((hi - lo) * width)
        return np.frombuffer(raw, dtype=MEL_DTYPE).reshape(hi - lo, self.n_mels).T

    def to_array(self) -> np.ndarray:
        return self[:, 0 : self.n_frames]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SpooledMel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def file_mel(path: str | Path, features, block_seconds: float = 10.0,
             progress: Callable[[float], None] | None = None) -> SpooledMel:
    """The levelled float16 log-mel of an audio file, streamed: the array the feature cache would
    hold for it (:func:`drumtx.features.levelled_log_mel` of the whole file, rounded to float16;
    the same frames bit for bit), spooled to disk.

    Two passes over the file (:func:`drumtx.features.iter_log_mel`): the first finds its loudest
    bin, the second scales the samples by the levelling gain. Memory stays flat in file length:
    ``block_seconds`` of audio at a time (decode stage of a 10-minute 44.1 kHz stereo file: peak
    RSS +50 MB over the loaded model for 10 s blocks, +190 MB for 60 s; experiments/bench). Any
    block size gives the same frames: the last block is resampled to the whole file's resampled
    length (:func:`drumtx.audio.resample_tail`).
    With levelling off (``features.level_db`` None) one pass.

    A cut-off file gives the log-mel of what decodes, as if the file ended there, and
    ``spool.truncated`` says why: a FLAC or MP3 whose decoding fails partway
    (:class:`drumtx.audio.PartlyDecodable`), or a WAV, AIFF or Ogg that libsndfile reads without
    an error up to where it ends (:func:`drumtx.audio.truncation`).

    ``progress``, if given, is called with the share of the work done (0-1, by frames over both
    passes, reckoned from the file's header) after each block.

    Raises:
        drumtx.audio.AudioError: the file is missing, unreadable, empty or not finite (one line).
    """
    from drumtx.audio import PartlyDecodable, truncation

    spool = SpooledMel(features.n_mels)
    try:
        try:
            _stream_into(spool, path, features, block_seconds, None, progress)
            spool.truncated = truncation(path)
        except PartlyDecodable as cut:
            spool.close()
            spool = SpooledMel(features.n_mels)
            spool.truncated = cut.note
            _stream_into(spool, path, features, block_seconds, cut.frames, progress)
    except BaseException:
        spool.close()
        raise
    return spool


def _stream_into(spool: SpooledMel, path, features, block_seconds: float, frames: int | None,
                 progress: Callable[[float], None] | None = None) -> None:
    """:func:`file_mel`'s passes over the file's first ``frames`` samples (None: all of it)."""
    from drumtx.features import iter_log_mel, level_gain_db, mel_level_db

    passes = 1 if features.level_db is None else 2
    tick = _progress_ticker(path, features, frames, passes, progress)
    gain = 0.0
    if features.level_db is not None:
        loudest = -np.inf
        for piece in iter_log_mel(path, features, block_seconds, frames=frames):
            if piece.size:
                loudest = max(loudest, float(piece.max()))
            tick(piece.shape[-1])
        if not np.isfinite(loudest):
            raise ValueError(f"{path}: no log-mel frames")  # (iter_log_mel refuses empty audio first)
        spool.level_db = mel_level_db(loudest, features)
        gain = level_gain_db(spool.level_db, features)
    spool.gain_db = gain
    for piece in iter_log_mel(path, features, block_seconds, gain_db=gain, frames=frames):
        spool.append(piece)
        tick(piece.shape[-1])


def _progress_ticker(path, features, frames: int | None, passes: int,
                     progress: Callable[[float], None] | None) -> Callable[[int], None]:
    """A function of the frames just made that calls ``progress`` with the share done over
    ``passes`` passes; the total is reckoned from the file's header (a no-op without one)."""
    if progress is None:
        return lambda k: None
    import soundfile as sf

    try:
        info = sf.info(str(path))
        samples = info.frames if frames is None else min(info.frames, frames)
        total = passes * max(1.0, samples / info.samplerate * float(features.fps))
    except Exception:  # (a header soundfile cannot read: the caller's other stages still report)
        return lambda k: None
    made = [0]

    def tick(k: int) -> None:
        made[0] += k
        progress(min(1.0, made[0] / total))

    return tick
