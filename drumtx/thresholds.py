"""Per-instrument peak-picking thresholds: the search, the model pass it scores, and where the
result is stored (library; the command is :mod:`drumtx.tune_thresholds`).

A model's activations are not calibrated alike across branches (a rare crash head peaks lower
than the kick's), so one global 0.5 costs onsets. :func:`run_model` runs the model once over a
split, as transcribe runs it (:func:`drumtx.inference.activations`); :class:`SplitProbs` keeps
those activations and the reference onsets (an npz cache, so that other search settings need no
model or audio). :func:`tune_instrument` searches one instrument's (threshold, min gap) with
Optuna for the best onset F-measure (micro over tracks, 50 ms), scored with the same decoder and
matching as evaluation (:func:`drumtx.decode.decode_onsets`, :mod:`drumtx.metrics`), or for the
best recall under a precision floor (held by its 95 % Wilson interval). :func:`write_thresholds` stores the result where
:func:`drumtx.checkpoint.load_transcriber` reads it; :func:`plot_curve` draws P/R/F against the
threshold.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import optuna

from drumtx.atomic import atomic_output
from drumtx.decode import DEFAULT_THRESHOLDS, decode_onsets
from drumtx.inference import InferenceSettings, activations
from drumtx.metrics import DEFAULT_WINDOW_S, OnsetCounts, onset_counts, precision_lower_bound
from drumtx.vocab import Vocabulary

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: activations of drumtx.inference (context, levelling, gate)


# --------------------------------------------------------------------------- the search
@dataclass
class TuneResult:
    """Chosen settings of one instrument, their scores, and the curve at the chosen gap."""

    instrument: str
    threshold: float
    min_gap_s: float
    precision: float
    recall: float
    f_measure: float
    tp: int
    n_ref: int
    n_est: int
    objective: str
    min_precision: float | None = None
    constraint_met: bool | None = None
    #: where the floor was not held, the rule that chose: "surest" (the highest lower end of the
    #: precision's interval) or "F<beta>" (the best F-beta); None where it was held or there is none
    fallback: str | None = None
    n_trials: int = 0
    note: str = ""
    curve: dict[str, list[float]] = field(default_factory=dict)

    @property
    def settings(self) -> dict[str, float]:
        """What ``decode_onsets`` takes for this instrument."""
        return {"threshold": self.threshold, "min_gap_s": self.min_gap_s}

    def summary(self) -> dict:
        """Everything but the curve, for the sidecar and the logs."""
        d = asdict(self)
        d.pop("curve")
        return d


def score_text(value: float, count: int) -> str:
    """A precision or recall for a log line: ``–`` where it is undefined (no estimate, or no
    reference onset: ``count`` 0), as in the reports, not a 0.000 that reads as all wrong."""
    return "–" if count == 0 else f"{value:.3f}"


def _grid(low: float, high: float, step: float) -> np.ndarray:
    n = int(math.floor((high - low) / step + 1e-9))
    return np.round(low + step * np.arange(n + 1), 6)


# Defaults of conf/tune_thresholds.yaml's floor_confidence and fallback_beta: a precision floor
# holds when its 95 % Wilson interval's lower end reaches it (v2's first tuning took threshold
# 0.98, 1 of 729 validation crashes found, 1 estimate, as meeting a 0.85 floor; that interval's
# lower end is 0.21), and where no setting holds it the floor drops to what the model can hold:
# the setting with the highest lower end. The F0.5 taken there before jumped: of two seeds of one
# recipe with near-identical validation curves (experiments/default_model_v2/README.md, "A floor
# just missed"), the one whose best lower end was 0.831 took threshold 0.93 (precision 96 %, recall
# 7 %) and the one at 0.811 threshold 0.28 (precision 53 %, recall 40 %).
FLOOR_CONFIDENCE = 0.95
FALLBACK_BETA: float | None = None


def _objective_value(
    c: OnsetCounts,
    min_precision: float | None,
    floor_confidence: float = FLOOR_CONFIDENCE,
    fallback_beta: float | None = FALLBACK_BETA,
) -> float:
    """F-measure; or, under a precision floor, recall where the precision's Wilson interval (at
    ``floor_confidence``) lies above the floor (ties: precision), and where it does not, that
    interval's lower end - 1 (or the F-beta with ``fallback_beta`` - 1); < 0 either way, so any
    setting that holds the floor wins, and the next best is the surest."""
    if min_precision is None:
        return c.f_measure
    low = precision_lower_bound(c, floor_confidence)
    if low >= min_precision:
        return c.recall + 1e-6 * c.precision
    return (low if fallback_beta is None else _f_beta(c, fallback_beta)) - 1.0


def _f_beta(c: OnsetCounts, beta: float) -> float:
    p, r = c.precision, c.recall
    b2 = beta * beta
    return 0.0 if p + r == 0 else (1 + b2) * p * r / (b2 * p + r)


def instrument_counts(
    acts: Sequence[np.ndarray],
    refs: Sequence[np.ndarray],
    fps: float,
    instrument: str,
    settings: Mapping[str, float],
    *,
    vocab: Vocabulary,
    window: float = DEFAULT_WINDOW_S,
) -> OnsetCounts:
    """Onset counts of one instrument at one setting, summed over tracks: each track's activation
    (float (T,) in [0, 1] at ``fps``) decoded with ``settings`` (``{"threshold", "min_gap_s"}``) by
    :func:`drumtx.decode.decode_onsets` and matched to that track's reference onset times (s)
    within +-``window`` s. What :func:`tune_instrument` scores each trial by."""
    total = OnsetCounts()
    for a, r in zip(acts, refs, strict=True):
        probs = {instrument: (a, np.ones((len(a), 1), dtype=np.float32))}  # (the variation: no effect)
        est = [o.time for o in decode_onsets(probs, fps, vocab, {instrument: settings})]
        total = total + onset_counts(r, est, window)
    return total


def tune_instrument(
    probs_per_track: Sequence[np.ndarray | tuple[np.ndarray, np.ndarray]],
    refs_per_track: Sequence[Sequence[float]],
    fps: float,
    *,
    instrument: str = "kick",
    vocab: Vocabulary | None = None,
    min_precision: float | None = None,
    floor_confidence: float = FLOOR_CONFIDENCE,
    fallback_beta: float | None = FALLBACK_BETA,
    threshold_range: tuple[float, float, float] = (0.02, 0.98, 0.01),
    min_gap_range_s: tuple[float, float] = (0.01, 0.1),
    n_trials: int = 60,
    seed: int = 0,
    window: float = DEFAULT_WINDOW_S,
    start: Mapping[str, float] | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    progress: bool = False,
) -> TuneResult:
    """Best (threshold, min gap) of one instrument over all tracks (micro-summed counts).

    The thresholds are searched on a grid of ``threshold_range``, the gap in whole frames;
    ``start`` (e.g. the current settings) is tried first so the result is never worse on this
    data. Among settings of equal score the middle of the plateau of thresholds is taken: the
    safest for unseen data.

    Args:
        probs_per_track: the instrument's activation, float (T,) in [0, 1] at ``fps``, per track
            (or (activation, variation) tuples; the variation does not change instrument-level
            onsets).
        refs_per_track: the reference onset times (s) of that instrument, per track.
        fps: frames per second of the activations.
        instrument: the instrument's name in ``vocab``.
        vocab: the model's vocabulary (default: the standard one, with the hi-hat pedal when
            ``instrument`` is it).
        min_precision: maximise recall subject to precision >= it, held by the lower end of the
            precision's Wilson interval (:func:`drumtx.metrics.precision_lower_bound`); if no
            setting holds it, the setting whose lower end is highest (the floor lowered to what
            the model can hold), flagged by ``constraint_met=False`` and a ``note``; None
            maximises the F-measure.
        floor_confidence: the Wilson interval's confidence (0.95).
        fallback_beta: None (default) for that surest setting where no setting holds the floor;
            a number takes the best F-beta there instead (0.5: precision weighted twice as much
            as recall; drumtx before 2026-12-05).
        threshold_range: (low, high, step) of the threshold grid.
        min_gap_range_s: (low, high) of the minimum gap between onsets, in seconds.
        n_trials: Optuna trials (the ``start`` trial included).
        seed: the TPE sampler's seed.
        window: onset matching tolerance in seconds (+-).
        start: ``{"threshold", "min_gap_s"}`` tried first (default: ``DEFAULT_THRESHOLDS``).
        storage: an Optuna storage URL (a study shared by runs), or None (in memory).
        study_name: the study's name in ``storage``.
        progress: Optuna's progress bar.

    Returns:
        The chosen settings with their precision, recall, F-measure and counts, and the P/R/F
        curve over the threshold grid at the chosen gap. With no reference onset at all, the
        ``start`` settings, scored, with no curve and a ``note``.

    Raises:
        ValueError: the two lists differ in length, or ``instrument`` is not in ``vocab``.
    """
    if len(probs_per_track) != len(refs_per_track):
        raise ValueError(
            f"{instrument}: {len(probs_per_track)} probability tracks, {len(refs_per_track)} reference tracks"
        )
    vocab = vocab or Vocabulary(hihat_pedal=instrument == "hihat_pedal")
    if instrument not in vocab.instruments:
        raise ValueError(f"unknown instrument {instrument!r}; the vocabulary has {list(vocab.instruments)}")
    acts = [
        np.asarray(p[0] if isinstance(p, tuple) else p, dtype=np.float32).ravel() for p in probs_per_track
    ]
    refs = [np.asarray(r, dtype=float) for r in refs_per_track]
    objective = (
        "f_measure" if min_precision is None else f"recall_at_precision>={min_precision:g}_wilson{floor_confidence:g}"
    )
    low, high, step = (float(x) for x in threshold_range)
    grid = _grid(low, high, step)
    gap_lo = max(1, int(round(min_gap_range_s[0] * fps)))
    gap_hi = max(gap_lo, int(round(min_gap_range_s[1] * fps)))

    memo: dict[tuple[float, int], OnsetCounts] = {}

    def counts(threshold: float, gap: int) -> OnsetCounts:
        key = (round(float(threshold), 6), int(gap))
        if key not in memo:
            setting = {"threshold": key[0], "min_gap_s": key[1] / fps}
            memo[key] = instrument_counts(acts, refs, fps, instrument, setting, vocab=vocab, window=window)
        return memo[key]

    start = dict(start or DEFAULT_THRESHOLDS.get(instrument, {"threshold": 0.5, "min_gap_s": 0.03}))
    n_ref = sum(len(r) for r in refs)
    if n_ref == 0:
        c = counts(start["threshold"], max(1, int(round(start["min_gap_s"] * fps))))
        return TuneResult(
            instrument,
            float(start["threshold"]),
            float(start["min_gap_s"]),
            c.precision,
            c.recall,
            c.f_measure,
            c.tp,
            c.n_ref,
            c.n_est,
            objective,
            min_precision,
            None,
            0,
            note="no reference onsets in this split: kept the current settings",
        )

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(1, n_trials // 3)))
    study = optuna.create_study(
        direction="maximize", sampler=sampler, storage=storage, study_name=study_name, load_if_exists=True
    )
    start_t = float(grid[np.argmin(np.abs(grid - float(start["threshold"])))])
    start_g = int(np.clip(round(float(start["min_gap_s"]) * fps), gap_lo, gap_hi))
    study.enqueue_trial({"threshold": start_t, "min_gap_frames": start_g}, skip_if_exists=True)

    def objective_fn(trial: optuna.Trial) -> float:
        t = trial.suggest_float("threshold", low, float(grid[-1]), step=step)
        g = trial.suggest_int("min_gap_frames", gap_lo, gap_hi)
        c = counts(t, g)
        trial.set_user_attr("precision", c.precision)
        trial.set_user_attr("recall", c.recall)
        trial.set_user_attr("f_measure", c.f_measure)
        return _objective_value(c, min_precision, floor_confidence, fallback_beta)

    study.optimize(objective_fn, n_trials=n_trials, show_progress_bar=progress)
    gap = int(study.best_params["min_gap_frames"])

    # The full curve at the chosen gap: for the plot, and to centre the threshold on its plateau.
    curve_counts = [counts(t, gap) for t in grid]
    values = np.array([_objective_value(c, min_precision, floor_confidence, fallback_beta) for c in curve_counts])
    best = values.max()
    i_best = _plateau_middle(values >= best - 1e-12)
    c = curve_counts[i_best]
    result = TuneResult(
        instrument=instrument,
        threshold=float(grid[i_best]),
        min_gap_s=round(gap / fps, 6),
        **c.as_dict(),  # precision, recall, f_measure, tp, n_ref, n_est
        objective=objective,
        min_precision=min_precision,
        n_trials=len(study.trials),
        curve={
            "threshold": [float(t) for t in grid],
            "precision": [x.precision for x in curve_counts],
            "recall": [x.recall for x in curve_counts],
            "f_measure": [x.f_measure for x in curve_counts],
        },
    )
    if min_precision is not None:
        result.curve["precision_lower_bound"] = [precision_lower_bound(x, floor_confidence) for x in curve_counts]
        result.constraint_met = precision_lower_bound(c, floor_confidence) >= min_precision
        if not result.constraint_met:
            result.fallback = "surest" if fallback_beta is None else f"F{fallback_beta:g}"
            took = "took the surest setting" if fallback_beta is None else f"took the best F{fallback_beta:g}"
            perfect = OnsetCounts(tp=n_ref, n_ref=n_ref, n_est=n_ref)
            few = (
                f" (nor could it: {n_ref} reference onsets, all found and none false, give a lower end of "
                f"{precision_lower_bound(perfect, floor_confidence):.3f})"
                if precision_lower_bound(perfect, floor_confidence) < min_precision
                else ""
            )
            result.note = (
                f"no threshold holds precision >= {min_precision:g} (the lower end of its "
                f"{floor_confidence:.0%} Wilson interval){few}; {took}: {c.tp} of {c.n_est} estimates right, "
                f"lower end {precision_lower_bound(c, floor_confidence):.3f} "
                f"(precision {score_text(c.precision, c.n_est)}, recall {score_text(c.recall, c.n_ref)})"
            )
    return result


def _plateau_middle(mask: np.ndarray) -> int:
    """Index in the middle of the longest run of True (the first such run on ties)."""
    best_len, best_mid, i = 0, int(np.argmax(mask)), 0
    while i < len(mask):
        if mask[i]:
            j = i
            while j + 1 < len(mask) and mask[j + 1]:
                j += 1
            if j - i + 1 > best_len:
                best_len, best_mid = j - i + 1, (i + j) // 2
            i = j + 1
        else:
            i += 1
    return best_mid


# --------------------------------------------------------------------------- model pass + cache


@dataclass
class SplitProbs:
    """Activations (T, n_instruments) and reference onsets per track of one split."""

    instruments: list[str]
    fps: float
    tracks: list[str]
    activations: list[np.ndarray]
    ref_times: list[np.ndarray]
    ref_instruments: list[np.ndarray]  # index into ``instruments``, -1 for none of them

    def save(self, path: Path, key: str) -> None:
        arrays = {
            "cache_version": np.array(CACHE_VERSION),
            "key": np.array(key),
            "instruments": np.array(self.instruments),
            "fps": np.array(self.fps),
            "tracks": np.array(self.tracks),
        }
        for i in range(len(self.tracks)):
            arrays[f"act_{i}"] = self.activations[i].astype(
                np.float32
            )  # exact: a rerun tunes on the same values
            arrays[f"ref_t_{i}"] = self.ref_times[i].astype(np.float64)
            arrays[f"ref_i_{i}"] = self.ref_instruments[i].astype(np.int16)
        with atomic_output(path) as tmp:  # tmp keeps the .npz suffix, so numpy adds none
            np.savez_compressed(tmp, **arrays)

    @classmethod
    def load(cls, path: Path, key: str | None) -> SplitProbs | None:
        """The cached probabilities, or None when the file is missing, unreadable or stale (of
        another cache version, or of another ``key``; None: any key, for analyses of a run's cache)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["cache_version"]) != CACHE_VERSION or (key is not None and str(z["key"]) != key):
                    return None
                n = len(z["tracks"])
                return cls(
                    instruments=[str(s) for s in z["instruments"]],
                    fps=float(z["fps"]),
                    tracks=[str(s) for s in z["tracks"]],
                    activations=[z[f"act_{i}"].astype(np.float32) for i in range(n)],
                    ref_times=[z[f"ref_t_{i}"] for i in range(n)],
                    ref_instruments=[z[f"ref_i_{i}"] for i in range(n)],
                )
        except (OSError, KeyError, ValueError) as exc:
            if path.exists():
                log.warning("%s: unusable probability cache (%s), recomputing", path, exc)
            return None

    def for_instrument(self, instrument: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        k = self.instruments.index(instrument)
        return (
            [a[:, k] for a in self.activations],
            [t[i == k] for t, i in zip(self.ref_times, self.ref_instruments, strict=True)],
        )


def run_model(
    model,
    settings: InferenceSettings,
    datamodule,
    split: str,
    vocab: Vocabulary,
    device="cpu",
    progress: bool = True,
    prepare_workers: int = 0,
) -> SplitProbs:
    """The activations users get (:func:`drumtx.inference.activations`, as transcribe runs it:
    levelling, blocks with context, silence gate) of every track of ``split``, from its cached
    log-mel (prepared here when missing; only this split), with its reference onsets.

    Args:
        model: the transcriber model (eval mode is set).
        settings: the inference settings (``inference`` config group).
        datamodule: a :class:`drumtx.data.datamodule.DrumDataModule` whose features are the model's.
            Its ``fit_kit_names`` filter and ``val_max_tracks`` cap apply to the validation
            split, as in training.
        split: ``validation`` or ``test``.
        vocab: the model's vocabulary (references outside it get index -1).
        device: where the model runs.
        progress: progress bars.
        prepare_workers: feature-cache processes for tracks not cached yet (0: in this process).

    Returns:
        :class:`SplitProbs`, tracks sorted by key.

    Raises:
        ValueError: no track of ``split`` could be prepared.
    """
    from tqdm import tqdm

    from drumtx.data.cache import prepare_cache
    from drumtx.data.datasets import kit_filter

    tracks = datamodule.split_tracks(split)
    if split == "validation" and datamodule.fit_kit_names:
        tracks = [t for t in tracks if kit_filter(t.meta, datamodule.fit_kit_names, None)]
    keep = datamodule.validation_keys() if split == "validation" else None
    if keep is not None:  # the subset training validates on
        tracks = [t for t in tracks if t.key in keep]
    report = prepare_cache(
        datamodule.cache, tracks, None, num_workers=prepare_workers, retry_failed=False, progress=progress
    )
    for v in report.skipped.values():
        log.warning("left out: %s: %s", v["path"], v["reason"])
    manifest = datamodule.cache.manifest()
    keys = sorted(t.key for t in tracks if t.key in manifest)
    if not keys:
        raise ValueError(f"{datamodule.cache.directory}: no {split} track could be prepared")
    instruments = list(vocab.instruments)
    index = {inst: k for k, inst in enumerate(instruments)}
    acts, ref_t, ref_i = [], [], []
    for key in tqdm(keys, desc=f"model over {split}", unit="track", disable=not progress):
        cached = datamodule.cache.load(key)
        probs = activations(model, datamodule.features, cached.mel, settings, device=device, fine=False).probs
        acts.append(np.stack([probs[i][0] for i in instruments], axis=-1))
        onsets = cached.onsets()
        ref_t.append(np.array([o.time for o in onsets], dtype=np.float64))
        ref_i.append(
            np.array(
                [
                    index.get(vocab.instrument_of(o.fine_class), -1)
                    if o.fine_class in vocab.fine_classes
                    else -1
                    for o in onsets
                ],
                dtype=np.int16,
            )
        )
    return SplitProbs(instruments, float(datamodule.fps), keys, acts, ref_t, ref_i)


# --------------------------------------------------------------------------- outputs
def write_thresholds(
    ckpt: Path, thresholds: Mapping[str, Mapping[str, float]], report: Mapping
) -> list[Path]:
    """Store the tuned settings where ``load_transcriber`` reads them, atomically.

    A bundle (``.safetensors``) keeps them in its ``.json`` meta (``thresholds`` key, the
    tuning report under ``threshold_tuning``); a ``<stem>.thresholds.json`` beside it would
    override that, so an existing one is updated too. A Lightning ``.ckpt`` gets
    ``<stem>.thresholds.json`` (``{"thresholds": ..., "tuning": ...}``).

    Args:
        ckpt: the checkpoint (``.safetensors`` bundle or Lightning ``.ckpt``).
        thresholds: instrument -> ``{"threshold": float, "min_gap_s": seconds}``; merged into the
            settings stored there (other instruments keep theirs).
        report: the tuning report stored beside them.

    Returns:
        The files written.

    Raises:
        OSError: a bundle's ``.json`` is missing or a file cannot be written.
        json.JSONDecodeError: a bundle's ``.json`` is not JSON.
    """
    from drumtx.atomic import write_json
    from drumtx.checkpoint import thresholds_path

    written = []
    side = thresholds_path(ckpt)
    if ckpt.suffix == ".safetensors":
        meta_path = ckpt.with_suffix(".json")
        meta = json.loads(meta_path.read_text())
        meta.setdefault("thresholds", {})
        for inst, s in thresholds.items():
            meta["thresholds"][inst] = {**meta["thresholds"].get(inst, {}), **s}
        meta["threshold_tuning"] = dict(report)
        write_json(meta_path, meta)
        written.append(meta_path)
        if not side.is_file():
            return written
    old = {}
    if side.is_file():
        try:
            old = json.loads(side.read_text())
            old = old.get("thresholds", old)
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("%s: unreadable (%s), replacing it", side, exc)
            old = {}
    merged = {inst: dict(s) for inst, s in old.items() if isinstance(s, Mapping)}
    for inst, s in thresholds.items():
        merged[inst] = {**merged.get(inst, {}), **s}
    write_json(side, {"thresholds": merged, "tuning": dict(report)})
    written.append(side)
    return written


def plot_curve(result: TuneResult, path: Path) -> Path:
    """PNG of precision, recall and F-measure against the threshold at the chosen minimum gap."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.add_subplot()
    c = result.curve
    ax.plot(c["threshold"], c["f_measure"], label="F-measure", lw=2)
    ax.plot(c["threshold"], c["precision"], label="precision")
    ax.plot(c["threshold"], c["recall"], label="recall")
    ax.axvline(result.threshold, color="k", ls="--", lw=1, label=f"chosen {result.threshold:.2f}")
    if "precision_lower_bound" in c:
        ax.plot(c["threshold"], c["precision_lower_bound"], ls="--", lw=1, label="precision, Wilson lower bound")
    if result.min_precision is not None:
        ax.axhline(
            result.min_precision, color="r", ls=":", lw=1, label=f"precision floor {result.min_precision:g}"
        )
    ax.set(
        xlabel="threshold",
        ylabel="score",
        ylim=(0, 1.02),
        xlim=(0, 1),
        title=f"{result.instrument}: min gap {result.min_gap_s * 1000:.0f} ms, {result.objective}",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return path
