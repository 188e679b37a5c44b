"""Figures of the evaluation and comparison reports (matplotlib, Agg canvas, no pyplot state).

Figures are built as :class:`matplotlib.figure.Figure` objects on an explicit Agg canvas rather
than through pyplot, so that report writing works headless, in worker processes and in tests,
and never changes the caller's pyplot backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from drumtx.atomic import atomic_output
from drumtx.evaluation.matching import ClassScheme, match_track
from drumtx.evaluation.scores import TrackEval

_DISPLAY = {"hihat": "Hi-hat", "hihat_closed": "Hi-hat closed", "hihat_open": "Hi-hat open", "ride": "Ride",
            "ride_bell": "Ride bell", "cymbal": "Cymbal (hi-hat + ride)", "hihat_pedal": "Hi-hat pedal"}


def pretty(name: str) -> str:
    """Display name of a class: ``snare_rim`` -> ``Snare rim``."""
    return _DISPLAY.get(name, name.replace("_", " ").replace("+", " + ").capitalize())


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Write a PNG atomically (tmp file, then os.replace)."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def _v(x) -> float:
    return float("nan") if x is None else float(x)


def bars(
    path: Path,
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    ylabel: str = "",
    ylim: tuple[float, float] | None = (0.0, 1.0),
    annotate: Sequence[str] | None = None,
) -> Path:
    """Grouped bars: one group per category, one bar per series (None shows as a gap); with more
    than :data:`MAX_BAR_SERIES` series (a report sliced by kit), a table of coloured cells
    instead (:func:`heat_table`): 40 bars per group and a legend of 40 kits could not be read."""
    if len(series) > MAX_BAR_SERIES:
        return heat_table(path, title, categories, series, label=ylabel, limits=ylim, annotate=annotate)
    n, k = len(categories), max(1, len(series))
    fig = new_figure(max(6.0, min(16.0, 0.3 * n * (k + 1) + 2.0)), 4.0)
    ax = fig.add_subplot()
    width = 0.8 / k
    x = np.arange(n)
    for i, (label, values) in enumerate(series.items()):
        ax.bar(x + (i - (k - 1) / 2) * width, [_v(v) for v in values], width, label=label)
    ax.set_xticks(x, [pretty(c) for c in categories], rotation=30, ha="right")
    if annotate:
        for xi, text in zip(x, annotate, strict=False):
            ax.annotate(text, (xi, 0), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=7, color="0.3")
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return save_figure(fig, path)


#: the most series :func:`bars` draws as bars; more become a :func:`heat_table`
MAX_BAR_SERIES = 10


def heat_table(
    path: Path,
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    label: str = "",
    limits: tuple[float, float] | None = (0.0, 1.0),
    annotate: Sequence[str] | None = None,
) -> Path:
    """One row per series, one column per category, each cell coloured by its value and written
    in it (– for None); the figure grows with the rows. ``limits`` None: a diverging scale
    around 0 (differences)."""
    rows = list(series)
    values = np.array([[_v(v) for v in series[r]] for r in rows], dtype=float).reshape(len(rows), len(categories))
    n, k = len(categories), len(rows)
    fig = new_figure(3.0 + 1.0 * n, 1.2 + 0.26 * k)
    ax = fig.add_subplot()
    if limits:
        vmin, vmax, cmap = limits[0], limits[1], "viridis"
    else:
        top = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
        vmin, vmax, cmap = -(top or 1.0), top or 1.0, "RdBu"
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    for i in range(k):
        for j in range(n):
            v = values[i, j]
            shade = (v - vmin) / (vmax - vmin) if np.isfinite(v) and vmax > vmin else 0.5
            dark = shade < 0.55 if cmap == "viridis" else abs(shade - 0.5) > 0.35
            ax.text(j, i, "–" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if dark and np.isfinite(v) else "black")
    names = [pretty(c) for c in categories]
    if annotate:
        names = [f"{c}\n{a}" for c, a in zip(names, annotate, strict=False)] + names[len(annotate):]
    ax.set_xticks(range(n), names, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(k), rows, fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03, label=label)
    return save_figure(fig, path)


def confusion(path: Path, title: str, labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> Path:
    """Onset confusion heatmap: colour = share of the row (reference), text = counts."""
    M = np.asarray(matrix, dtype=float)
    rows = M.sum(axis=1, keepdims=True)
    share = np.divide(M, rows, out=np.zeros_like(M), where=rows > 0)
    n = len(labels)
    fig = new_figure(1.2 + 0.75 * n, 1.0 + 0.65 * n)
    ax = fig.add_subplot()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if i == n - 1 and j == n - 1:
                continue
            ax.text(j, i, f"{int(M[i, j])}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.6 else "black")
    names = [pretty(lab) for lab in labels]
    ax.set_xticks(range(n), names, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    ax.set_xlabel("estimated")
    ax.set_ylabel("reference")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of reference row")
    return save_figure(fig, path)


def pr_curves(path: Path, title: str, curves_by_model: Mapping[str, Mapping[str, Mapping]], classes: Sequence[str]) -> Path:
    """PR curves, one panel per class, one line per model (or one panel, one line per class)."""
    classes = [c for c in classes if any(c in cur for cur in curves_by_model.values())]
    if len(curves_by_model) == 1:
        curves = next(iter(curves_by_model.values()))
        fig = new_figure(6.0, 4.5)
        ax = fig.add_subplot()
        for c in classes:
            ax.plot(curves[c]["recall"], curves[c]["precision"], label=pretty(c))
        _pr_axes(ax, title)
        ax.legend(fontsize=7, ncol=2)
        return save_figure(fig, path)
    cols = min(3, max(1, len(classes)))
    nrows = max(1, int(np.ceil(len(classes) / cols)))
    fig = new_figure(4.0 * cols, 3.2 * nrows)
    for i, c in enumerate(classes):
        ax = fig.add_subplot(nrows, cols, i + 1)
        for model, curves in curves_by_model.items():
            if c in curves:
                ax.plot(curves[c]["recall"], curves[c]["precision"], label=model)
        _pr_axes(ax, pretty(c))
        ax.legend(fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


def _pr_axes(ax, title: str) -> None:
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)


def lines(path: Path, title: str, xlabels: Sequence[str], series: Mapping[str, Sequence[float | None]], ylabel: str) -> Path:
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(xlabels))
    for label, values in series.items():
        ax.plot(x, [_v(v) for v in values], marker="o", label=pretty(label))
    ax.set_xticks(x, list(xlabels))
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)


def error_window(track: TrackEval, scheme: ClassScheme, window_s: float, seconds: float) -> tuple[float, float]:
    """The ``seconds``-long stretch of a track with the most errors (misses + false alarms),
    or with the most reference onsets when there are none: where failure analysis should look."""
    m = match_track(track.reference, track.estimate, scheme, window_s)
    errors = [o.time for o, hit, c in zip(track.reference, m.ref_hit, m.ref_class, strict=True) if c and not hit]
    errors += [o.time for o, hit, c in zip(track.estimate, m.est_hit, m.est_class, strict=True) if c and not hit]
    times = np.sort(np.array(errors or [o.time for o in track.reference] or [0.0]))
    if track.duration <= seconds:
        return 0.0, max(track.duration, seconds)
    ends = np.searchsorted(times, times + seconds, side="right")
    best = int(np.argmax(ends - np.arange(len(times))))
    t0 = float(np.clip(times[best] - 0.1 * seconds, 0.0, max(0.0, track.duration - seconds)))
    return t0, t0 + seconds


def pianoroll(
    path: Path,
    title: str,
    panels: Mapping[str, TrackEval],
    scheme: ClassScheme,
    window_s: float,
    span: tuple[float, float],
) -> Path:
    """Prediction against truth for one excerpt, one panel per model.

    Background: the model's frame probability per class; open circles: reference onsets
    (black = found, red = missed); crosses: estimated onsets (green = correct, red = false alarm).
    """
    classes = list(scheme.classes)
    t0, t1 = span
    fig = new_figure(11.0, 0.9 + (0.32 * len(classes) + 0.8) * len(panels))
    for k, (name, track) in enumerate(panels.items()):
        ax = fig.add_subplot(len(panels), 1, k + 1)
        probs = [scheme.frame_prob(c, track.fine_probs, track.activations) for c in classes]
        if all(p is not None for p in probs) and probs:
            f0, f1 = int(t0 * track.fps), int(np.ceil(t1 * track.fps)) + 1
            img = np.stack([p[f0:f1] for p in probs])
            ax.imshow(img, aspect="auto", origin="lower", cmap="Greys", vmin=0, vmax=1, alpha=0.6,
                      extent=(f0 / track.fps, (f0 + img.shape[1]) / track.fps, -0.5, len(classes) - 0.5))
        m = match_track(track.reference, track.estimate, scheme, window_s)
        row = {c: i for i, c in enumerate(classes)}
        for onsets, hits, cls, marker, ok, bad in (
            (track.reference, m.ref_hit, m.ref_class, "o", "black", "red"),
            (track.estimate, m.est_hit, m.est_class, "x", "green", "red"),
        ):
            pts = [(o.time, row[c], hit) for o, hit, c in zip(onsets, hits, cls, strict=True)
                   if c in row and t0 <= o.time <= t1]
            for hit_value, colour in ((True, ok), (False, bad)):
                xs = [t for t, _, h in pts if h == hit_value]
                ys = [r for _, r, h in pts if h == hit_value]
                if marker == "o":
                    ax.scatter(xs, ys, s=46, facecolors="none", edgecolors=colour, linewidths=1.2)
                else:
                    ax.scatter(xs, ys, s=30, marker="x", c=colour, linewidths=1.2)
        ax.set_yticks(range(len(classes)), [pretty(c) for c in classes], fontsize=7)
        ax.set_xlim(t0, t1)
        ax.set_ylim(-0.5, len(classes) - 0.5)
        ax.set_title(f"{name}: {track.key}", fontsize=9)
        ax.grid(axis="x", alpha=0.2)
    fig.axes[-1].set_xlabel("time (s)  -  o reference (red: missed), x estimate (red: false alarm)")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
