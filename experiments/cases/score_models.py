"""Score models on the model-accuracy user-report cases (issue 16): C07, C08, C12, C13, C17.

    python experiments/cases/score_models.py WORK_DIR --model v1=default --model v2=PATH.safetensors
        [--cases DIR] [--only C07,C12] [--out experiments/cases/models.md]

For each case the generator ``DIR/make_<id>.py`` (default ``../shared/cases`` beside the
repository) writes its inputs into ``WORK_DIR/<id>`` once (skipped when that folder exists). For
each ``--model NAME=CKPT`` the command of the generator's docstring (its ``Then:`` line,
``python -m drumtx.transcribe OUTDIR... -o OUTDIR/out --format ... --threads 1``) is run with
this interpreter, ``OUTDIR/out`` replaced by ``WORK_DIR/<id>/out-<NAME>`` (removed first) and
``--ckpt CKPT`` added; ``default`` omits ``--ckpt`` (the packaged model).

The JSON outputs (``onsets``: time, class, variation, velocity) are read back and scored
against ``truth.json`` (``onsets``: ``[time_s, class, ...]``) with mir_eval's onset matching
(``drumtx.metrics``; the scores of ``mir_eval.onset.f_measure``, 50 ms window) per instrument: precision, recall, F, truth / found / hit counts, the classes
found that the truth does not hold ("invented"), and the case's own right values:

* C07: each mix / stem file against the truth and against the drums_only transcription;
  no_drums and only_* in onsets per 10 s (issue 16's aim: fewer than 1 per 10 s).
* C08: kick, snare (clap = snare), hi-hat found; toms invented.
* C12: hi-hats found, and of them the 16 that coincide with a snare.
* C13: MIDI velocity (the JSON's ``velocity``) of the found snares played as ghosts (input
  velocity 32) against the backbeats (122): medians and the share of (ghost, backbeat) pairs in
  the right order; the same for the soft (55) and accented (110) hi-hats.
* C17: per level, the onsets identical (time, variation, velocity) to the loudest take's, and F.

Prints one markdown table per case (a row per file and class group, a column pair per model),
writes them to ``--out`` and every number to the same path with ``.json``. Exit status 0 (a
report, not a check); 1 when a generator or a transcription fails, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shlex
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from drumtx.metrics import DEFAULT_WINDOW_S, match_onsets, onset_counts
from drumtx.vocab import INSTRUMENTS as VOCAB_INSTRUMENTS

REPO = Path(__file__).resolve().parents[2]
#: case id -> generator file name in the cases folder
CASES = {
    "C07": "make_C07_full_mix.py",
    "C08": "make_C08_electronic.py",
    "C12": "make_C12_hat_under_snare.py",
    "C13": "make_C13_chart_dynamics.py",
    "C17": "make_C17_quiet.py",
}
#: the instruments drumtx outputs, in table order
INSTRUMENTS = tuple(VOCAB_INSTRUMENTS)
#: labels a truth.json or an output row may use -> instrument (a variation is not an instrument):
#: drumtx's instruments and fine classes, plus the cases' own names for a snare
LABELS = {
    **{inst: inst for inst in VOCAB_INSTRUMENTS},
    **{fine: inst for inst, fines in VOCAB_INSTRUMENTS.items() for fine in fines},
    "cross_stick": "snare",
    "clap": "snare",
}
GHOST_MAX_VELOCITY = 64  # C13: input velocity at or below this is a ghost snare / a soft hat


class CaseError(Exception):
    """A case cannot be run or read (one line)."""


# ---------------------------------------------------------------------------------------------
# pure scoring functions (tests/test_score_cases.py)


def instrument(label: str) -> str:
    """The drumtx instrument of a truth or output label (``hihat_open`` -> ``hihat``).

    Raises:
        CaseError: an unknown label.
    """
    try:
        return LABELS[label]
    except KeyError:
        raise CaseError(f"unknown drum class {label!r}; known: {sorted(LABELS)}") from None


def truth_by_class(onsets: Iterable[Sequence]) -> dict[str, np.ndarray]:
    """truth.json onsets (``[time_s, class, ...]``) -> instrument -> sorted times (s)."""
    out: dict[str, list[float]] = {}
    for row in onsets:
        out.setdefault(instrument(str(row[1])), []).append(float(row[0]))
    return {k: np.sort(np.asarray(v, float)) for k, v in out.items()}


def output_by_class(rows: Iterable[dict]) -> dict[str, np.ndarray]:
    """drumtx JSON onset rows (``time``, ``class``, ``variation``) -> instrument -> sorted times (s).

    The instrument is the row's ``class``; its ``variation`` must agree with it.
    """
    out: dict[str, list[float]] = {}
    for row in rows:
        inst = instrument(row["class"])
        if "variation" in row and instrument(row["variation"]) != inst:
            raise CaseError(f"output row at {row['time']} s: variation {row['variation']!r} is not a {inst}")
        out.setdefault(inst, []).append(float(row["time"]))
    return {k: np.sort(np.asarray(v, float)) for k, v in out.items()}


def score(ref: np.ndarray, est: np.ndarray, window: float = DEFAULT_WINDOW_S) -> dict:
    """Onset P/R/F of one class (mir_eval's matching: :func:`drumtx.metrics.onset_counts`) with counts.

    Returns:
        ``{"p", "r", "f", "truth", "found", "hit"}``; p/r/f are None where undefined (nothing
        in the truth and nothing found), 0 where only one side is empty.
    """
    c = onset_counts(np.asarray(ref, float), np.asarray(est, float), window)
    counts = {"truth": c.n_ref, "found": c.n_est, "hit": c.tp}
    if c.n_ref == 0 and c.n_est == 0:
        return {"p": None, "r": None, "f": None, **counts}
    if c.n_ref == 0 or c.n_est == 0:
        return {"p": 0.0, "r": 0.0, "f": 0.0, **counts}
    return {"p": c.precision, "r": c.recall, "f": c.f_measure, **counts}


def score_all(truth: dict[str, np.ndarray], found: dict[str, np.ndarray], window: float = DEFAULT_WINDOW_S) -> dict:
    """Per instrument of the truth: :func:`score`; ``invented``: instrument -> count of the found
    classes absent from the truth; ``all``: P/R/F of the hits summed over classes (micro)."""
    empty = np.zeros(0)
    out = {c: score(truth[c], found.get(c, empty), window) for c in truth}
    out["invented"] = {
        c: len(found[c]) for c in INSTRUMENTS if c in found and c not in truth and len(found[c])
    }
    hit = sum(out[c]["hit"] for c in truth)
    n_ref = sum(len(v) for v in truth.values())
    n_est = sum(len(v) for v in found.values())
    p = hit / n_est if n_est else None
    r = hit / n_ref if n_ref else None
    f = 2 * hit / (n_ref + n_est) if n_ref + n_est else None
    out["all"] = {"p": p, "r": r, "f": f, "truth": n_ref, "found": n_est, "hit": hit}
    return out


def onsets_per_10s(n_onsets: int, duration_s: float) -> float:
    """Onset rate in onsets per 10 s (issue 16's measure for music without drums).

    Raises:
        CaseError: a duration that is not positive.
    """
    if not duration_s > 0:
        raise CaseError(f"duration must be > 0 s, got {duration_s}")
    return 10.0 * n_onsets / duration_s


def coincident_found(
    hats: np.ndarray,
    snares: np.ndarray,
    found_hats: np.ndarray,
    window: float = DEFAULT_WINDOW_S,
    together: float = 0.001,
) -> tuple[int, int]:
    """C12: of the true hi-hats struck with a true snare (within ``together`` s), how many are found.

    A true hat counts as found when mir_eval's one-to-one matching of all true hats against the
    found hats (``window`` s) pairs it, so a found hat is never credited to two true hats.

    Returns:
        (found, total) over the coinciding hats.
    """
    hats, snares = np.sort(np.asarray(hats, float)), np.asarray(snares, float)  # match_onsets' order
    with_snare = {i for i, t in enumerate(hats) if len(snares) and np.min(np.abs(snares - t)) <= together}
    hit = {i for i, _ in match_onsets(hats, np.asarray(found_hats, float), window)}
    return len(with_snare & hit), len(with_snare)


def velocity_separation(
    truth: Iterable[tuple[float, int]],
    found: Iterable[tuple[float, int]],
    soft_max: int = GHOST_MAX_VELOCITY,
    window: float = DEFAULT_WINDOW_S,
) -> dict:
    """C13: output velocities of the found onsets played soft (input velocity <= ``soft_max``) and loud.

    Args:
        truth: (time s, input MIDI velocity) of one class.
        found: (time s, output MIDI velocity) of the same class.

    Returns:
        ``soft`` / ``loud``: {"n" matched, "of" in the truth, "median" output velocity (None when
        none matched)}; ``ordered``: share of (soft, loud) pairs with the soft one's output velocity
        below the loud one's, ties counting half (1 perfect separation, 0.5 none; None when a side
        has no match).
    """
    truth, found = sorted(truth), sorted(found)
    t_times = np.array([t for t, _ in truth], float)
    f_times = np.array([t for t, _ in found], float)
    got: dict[str, list[int]] = {"soft": [], "loud": []}
    for i, j in match_onsets(t_times, f_times, window):
        got["soft" if truth[i][1] <= soft_max else "loud"].append(int(found[j][1]))
    out = {}
    for kind in ("soft", "loud"):
        of = sum(1 for _, v in truth if (v <= soft_max) == (kind == "soft"))
        vals = got[kind]
        out[kind] = {"n": len(vals), "of": of, "median": float(statistics.median(vals)) if vals else None}
    if got["soft"] and got["loud"]:
        soft, loud = np.array(got["soft"])[:, None], np.array(got["loud"])[None, :]
        out["ordered"] = float(np.mean((soft < loud) + 0.5 * (soft == loud)))
    else:
        out["ordered"] = None
    return out


def level_db(name: str) -> float:
    """C17: the peak level in a file name (``peak-40dBFS_s24`` -> -40.0).

    Raises:
        CaseError: no ``peak-<N>dBFS`` in the name.
    """
    m = re.search(r"peak-(\d+(?:\.\d+)?)dBFS", name)
    if not m:
        raise CaseError(f"no peak-<N>dBFS level in file name {name!r}")
    return -float(m.group(1))


def identical_onsets(reference: Iterable[dict], other: Iterable[dict]) -> dict:
    """C17: onset rows of ``other`` identical to ``reference``'s.

    Returns:
        ``same``: rows equal in time, variation and velocity (as multisets); ``same_time_class``:
        equal in time and class only; ``reference`` / ``other``: row counts.
    """
    from collections import Counter

    reference, other = list(reference), list(other)

    def common(key) -> int:
        return sum((Counter(map(key, reference)) & Counter(map(key, other))).values())

    return {
        "same": common(lambda r: (round(float(r["time"]), 6), r["variation"], int(r["velocity"]))),
        "same_time_class": common(lambda r: (round(float(r["time"]), 6), r["class"])),
        "reference": len(reference),
        "other": len(other),
    }


# ---------------------------------------------------------------------------------------------
# running the cases


def docstring_command(generator: Path) -> list[str]:
    """The ``Then:`` command of a generator's docstring, as argv (``python -m drumtx.transcribe ...``).

    Raises:
        CaseError: no docstring or no ``Then: python -m drumtx.transcribe ...`` line.
    """
    doc = ast.get_docstring(ast.parse(generator.read_text(encoding="utf-8"))) or ""
    m = re.search(r"^Then:\s*(python -m drumtx\.transcribe .+)$", doc, re.MULTILINE)
    if not m:
        raise CaseError(f"{generator}: no 'Then: python -m drumtx.transcribe ...' line in its docstring")
    return shlex.split(m.group(1))


def model_command(template: Sequence[str], case_dir: Path, out_dir: Path, ckpt: str) -> list[str]:
    """The docstring's command for one case folder and model: ``OUTDIR/out`` -> ``out_dir``,
    ``OUTDIR`` -> ``case_dir``, this interpreter for ``python``, ``--ckpt`` unless ``default``.

    Raises:
        CaseError: the command has no ``-o OUTDIR/out``.
    """
    argv = list(template)
    if "-o" not in argv or argv[argv.index("-o") + 1] != "OUTDIR/out":
        raise CaseError(f"expected '-o OUTDIR/out' in the docstring command {shlex.join(template)}")
    argv[argv.index("-o") + 1] = str(out_dir)
    argv = [str(case_dir) + a[len("OUTDIR") :] if a.startswith("OUTDIR") else a for a in argv]
    argv[0] = sys.executable if argv[0] == "python" else argv[0]
    return argv + ([] if ckpt == "default" else ["--ckpt", ckpt])


def run(argv: Sequence[str]) -> None:
    """Run a command from the repository root; CaseError with its stderr's last line on failure."""
    proc = subprocess.run(list(argv), cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        last = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise CaseError(f"exit {proc.returncode}: {shlex.join(argv)}: {last}")


def read_outputs(out_dir: Path) -> dict[str, dict]:
    """File stem -> the transcription JSON, for every ``*.json`` in ``out_dir``."""
    docs = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(out_dir.glob("*.json"))}
    if not docs:
        raise CaseError(f"{out_dir}: the transcription wrote no JSON")
    return docs


def score_case(case: str, truth: list, docs: dict[str, dict]) -> dict:
    """All numbers of one case for one model: file stem -> {"classes": score_all, case values}."""
    ref = truth_by_class(truth)
    out: dict[str, dict] = {}
    for stem, doc in docs.items():
        found = output_by_class(doc["onsets"])
        res: dict = {"duration_s": doc["duration"], "velocity_source": doc.get("velocity_source")}
        drums = not (case == "C07" and (stem == "no_drums" or stem.startswith("only_")))
        if drums:
            res["classes"] = score_all(ref, found)
        else:
            n = sum(len(v) for v in found.values())
            res["no_drums"] = {
                "onsets": n,
                "per_10s": onsets_per_10s(n, doc["duration"]),
                "by_class": {c: len(found[c]) for c in INSTRUMENTS if c in found},
            }
        if case == "C12":
            hats = coincident_found(ref["hihat"], ref["snare"], found.get("hihat", np.zeros(0)))
            res["hats_with_snare"] = {"found": hats[0], "of": hats[1]}
        if case == "C13":
            res["velocity"] = {}
            for cls in ("snare", "hihat"):
                t = [(float(r[0]), int(r[2])) for r in truth if instrument(r[1]) == cls]
                f = [
                    (float(r["time"]), int(r["velocity"]))
                    for r in doc["onsets"]
                    if instrument(r["class"]) == cls
                ]
                res["velocity"][cls] = velocity_separation(t, f)
        out[stem] = res
    if case == "C07" and "drums_only" in docs:
        base = output_by_class(docs["drums_only"]["onsets"])
        for stem, doc in docs.items():
            if stem != "drums_only" and "classes" in out[stem]:
                out[stem]["vs_drums_only"] = score_all(base, output_by_class(doc["onsets"]))["all"]
    if case == "C17":
        loudest = max(docs, key=lambda s: (level_db(s), s.endswith("dBFS")))
        for stem, doc in docs.items():
            out[stem]["vs_loudest"] = {
                "take": loudest,
                **identical_onsets(docs[loudest]["onsets"], doc["onsets"]),
            }
    return out


# ---------------------------------------------------------------------------------------------
# the report


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _prf(s: dict) -> str:
    return f"{_num(s['f'])} ({_num(s['p'])}/{_num(s['r'])})"


def _counts(s: dict) -> str:
    return f"{s['hit']}/{s['truth']} hit, {s['found']} found"


def _invented(inv: dict) -> str:
    return ", ".join(f"{c} {n}" for c, n in inv.items()) or "none"


def file_rows(case: str, stem: str, res: dict) -> list[tuple[str, str, str]]:
    """(what, value, detail) rows of one file for one model."""
    rows = []
    if "no_drums" in res:
        nd = res["no_drums"]
        rows.append(
            (
                "onsets per 10 s (aim < 1)",
                _num(nd["per_10s"], 1),
                f"{nd['onsets']} in {res['duration_s']:.1f} s: {_invented(nd['by_class'])}",
            )
        )
    if "classes" in res:
        cls = res["classes"]
        for c in INSTRUMENTS:
            if c in cls:
                rows.append((c, _prf(cls[c]), _counts(cls[c])))
        rows.append(("invented (class not in truth)", _invented(cls["invented"]), ""))
    if "vs_drums_only" in res:
        rows.append(("all vs drums_only's onsets", _prf(res["vs_drums_only"]), _counts(res["vs_drums_only"])))
    if "hats_with_snare" in res:
        h = res["hats_with_snare"]
        rows.append(("hi-hats with a snare found", f"{h['found']}/{h['of']}", ""))
    for cls, v in res.get("velocity", {}).items():
        soft, loud = ("ghost", "backbeat") if cls == "snare" else ("soft", "accent")
        rows.append(
            (
                f"{cls} velocity: median {soft} / {loud}",
                f"{_num(v['soft']['median'], 0)} / {_num(v['loud']['median'], 0)}",
                f"n {v['soft']['n']}/{v['soft']['of']}, {v['loud']['n']}/{v['loud']['of']}; "
                f"{soft} below {loud} {_num(v['ordered'])}",
            )
        )
    if "vs_loudest" in res and stem != res["vs_loudest"]["take"]:
        v = res["vs_loudest"]
        rows.append(
            (
                f"identical to {v['take']}",
                f"{v['same']}/{v['reference']}",
                f"{v['other']} onsets; same time+class {v['same_time_class']}",
            )
        )
    return rows


def stem_order(stem: str) -> tuple:
    """Table order of a case's files: C07 drums_only, mixes and stems by dB, then no-drums files;
    C17 loudest first; others by name."""
    db = re.search(r"([+-]\d+)dB", stem)
    if stem.startswith("peak-"):
        return (0, -level_db(stem), stem)
    group = (
        0 if stem == "drums_only" else 1 if stem.startswith("mix_") else 2 if stem.startswith("stem_") else 3
    )
    return (group, float(db.group(1)) if db else 0.0, stem)


def summary_rows(case: str, res: dict[str, dict]) -> list[tuple[str, str]]:
    """(what, value) headline rows of one case for one model (``res``: file stem -> numbers)."""

    def hits(cls: str, files: Iterable[str]) -> str:
        s = [res[f]["classes"][cls] for f in files if cls in res[f].get("classes", {})]
        return f"{sum(x['hit'] for x in s)}/{sum(x['truth'] for x in s)} ({sum(x['found'] for x in s)} found)"

    def f_all(files: Iterable[str]) -> str:
        fs = [res[f]["classes"]["all"]["f"] for f in files]
        return f"{_num(min(fs))} / {_num(float(np.mean(fs)))}" if fs else "–"

    def invented(cls: str) -> int:
        return sum(r["classes"]["invented"].get(cls, 0) for r in res.values() if "classes" in r)

    drums = [f for f in sorted(res, key=stem_order) if "classes" in res[f]]
    rows: list[tuple[str, str]] = []
    if case == "C07":
        mixes = [f for f in drums if f != "drums_only"]
        nd = {f: r["no_drums"]["per_10s"] for f, r in res.items() if "no_drums" in r}
        if "drums_only" in res:
            rows.append(("drums_only: F all classes", _num(res["drums_only"]["classes"]["all"]["f"])))
        rows.append((f"{len(mixes)} mixes/stems: F all classes vs truth, min / mean", f_all(mixes)))
        vs = [res[f]["vs_drums_only"]["f"] for f in mixes if "vs_drums_only" in res[f]]
        if vs:
            rows.append(("mixes/stems: F vs drums_only's onsets, min", _num(min(vs))))
        if nd:
            worst = max(nd, key=nd.get)
            rows.append(
                (
                    f"{len(nd)} files without drums: onsets per 10 s, max (aim < 1)",
                    f"{nd[worst]:.1f} ({worst})",
                )
            )
    if case == "C08":
        for cls in ("kick", "snare", "hihat"):
            rows.append((f"{cls} hit/truth, {len(drums)} kits", hits(cls, drums)))
        snare = {f: res[f]["classes"]["snare"]["hit"] for f in drums}
        rows.append(("snare (clap) hit per kit", ", ".join(f"{f} {n}" for f, n in snare.items())))
        rows.append(("toms invented, all kits", str(invented("tom"))))
    if case == "C12":
        h = [res[f]["hats_with_snare"] for f in drums]
        rows.append(
            (
                f"hi-hats with a snare found, {len(drums)} kits",
                f"{sum(x['found'] for x in h)}/{sum(x['of'] for x in h)}",
            )
        )
        rows.append(("  per kit", ", ".join(f"{f} {res[f]['hats_with_snare']['found']}" for f in drums)))
        rows.append(("hi-hat hit/truth, all kits", hits("hihat", drums)))
    if case == "C13":
        for f in drums:
            v = res[f]["velocity"]["snare"]
            rows.append(
                (
                    "snare velocity, median ghost / backbeat (played 32 / 122)",
                    f"{_num(v['soft']['median'], 0)} / {_num(v['loud']['median'], 0)} (ordered {_num(v['ordered'])})",
                )
            )
    if case == "C17":
        loud = [r["vs_loudest"] for f, r in res.items() if f != r["vs_loudest"]["take"]]
        same = sum(x["same"] == x["reference"] == x["other"] for x in loud)
        rows.append((f"takes identical to the loudest ({len(loud)})", str(same)))
        rows.append((f"{len(drums)} takes: F all classes vs truth, min / mean", f_all(drums)))
    return rows


def summary(results: dict[str, dict], cases: Sequence[str]) -> list[str]:
    """The headline table: case | what | one column per model."""
    models = list(results)
    per_model = {
        m: {(c, w): v for c in cases if c in results[m] for w, v in summary_rows(c, results[m][c])}
        for m in models
    }
    keys: list[tuple[str, str]] = []
    for m in models:
        keys += [k for k in per_model[m] if k not in keys]
    lines = ["| case | what | " + " | ".join(models) + " |", "|" + "---|" * (2 + len(models))]
    lines += [
        "| " + " | ".join([c, w, *(per_model[m].get((c, w), "") for m in models)]) + " |" for c, w in keys
    ]
    return lines + [""]


def markdown(results: dict[str, dict], cases: Sequence[str]) -> str:
    """The headline table, then one table per case: file | what | per model (value, detail)."""
    models = list(results)
    lines = ["### Summary", "", *summary(results, cases)]
    for case in cases:
        stems: list[str] = []
        for m in models:
            stems += [s for s in results[m].get(case, {}) if s not in stems]
        stems.sort(key=stem_order)
        head = ["file", "what"] + [h for m in models for h in (f"{m}: F (P/R) or value", f"{m}: counts")]
        lines += [f"### {case}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for stem in stems:
            per_model = [
                dict((w, (v, d)) for w, v, d in file_rows(case, stem, results[m][case][stem])) for m in models
            ]
            whats: list[str] = []
            for pm in per_model:
                whats += [w for w in pm if w not in whats]
            for what in whats:
                cells = [c for pm in per_model for c in pm.get(what, ("", ""))]
                lines.append("| " + " | ".join([stem, what, *cells]) + " |")
        lines.append("")
    return "\n".join(lines)


def parse_models(specs: Sequence[str]) -> dict[str, str]:
    """``NAME=CKPT`` specs -> {name: ckpt}; ``default`` is the packaged model.

    Raises:
        CaseError: a spec without ``=``, a repeated or odd name, a checkpoint that is not a file.
    """
    models: dict[str, str] = {}
    for spec in specs:
        name, sep, ckpt = spec.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or not ckpt:
            raise CaseError(f"--model {spec!r}: expected NAME=CKPT (NAME of letters, digits, _ . -)")
        if name in models:
            raise CaseError(f"--model {name} given twice")
        if ckpt != "default" and not Path(ckpt).is_file():
            raise CaseError(f"--model {spec}: no such file {ckpt}")
        models[name] = ckpt if ckpt == "default" else str(Path(ckpt).resolve())
    return models


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work_dir", type=Path, metavar="WORK_DIR", help="case inputs and outputs go here")
    parser.add_argument("--model", action="append", required=True, metavar="NAME=CKPT", help="repeatable")
    parser.add_argument("--cases", type=Path, default=REPO.parent / "shared" / "cases", help="generators")
    parser.add_argument("--only", default=",".join(CASES), help="comma-separated case ids")
    parser.add_argument("--out", type=Path, default=None, help="markdown report (and .json beside it)")
    args = parser.parse_args(argv)
    try:
        models = parse_models(args.model)
        cases = [c.strip() for c in args.only.split(",") if c.strip()]
        if not cases or any(c not in CASES for c in cases):
            raise CaseError(f"--only {args.only!r}: expected ids among {','.join(CASES)}")
        missing = [CASES[c] for c in cases if not (args.cases / CASES[c]).is_file()]
        if missing:
            raise CaseError(f"--cases {args.cases}: missing {', '.join(missing)}")
    except CaseError as exc:
        print(f"score_models: error: {exc}", file=sys.stderr)
        return 2
    work = args.work_dir.resolve()
    results: dict[str, dict] = {m: {} for m in models}
    commands: dict[str, dict[str, str]] = {m: {} for m in models}
    try:
        for case in cases:
            generator = (args.cases / CASES[case]).resolve()
            case_dir = work / case
            if not case_dir.exists():
                run([sys.executable, str(generator), str(case_dir)])
            truth = json.loads((case_dir / "truth.json").read_text(encoding="utf-8"))["onsets"]
            template = docstring_command(generator)
            for name, ckpt in models.items():
                out_dir = case_dir / f"out-{name}"
                shutil.rmtree(out_dir, ignore_errors=True)
                cmd = model_command(template, case_dir, out_dir, ckpt)
                print(f"{case} {name}: {shlex.join(cmd)}", file=sys.stderr, flush=True)
                run(cmd)
                commands[name][case] = shlex.join(cmd)
                results[name][case] = score_case(case, truth, read_outputs(out_dir))
    except (CaseError, OSError, KeyError, ValueError) as exc:
        print(f"score_models: error: {exc}", file=sys.stderr)
        return 1
    text = markdown(results, cases)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        doc = {"window_s": DEFAULT_WINDOW_S, "models": models, "commands": commands, "results": results}
        args.out.with_suffix(".json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
