"""Are the aims met? A model's evaluation reports read against accuracy aims given as data.

    python -m drumtx.evaluation.aims -o experiments/default_model_v2/aims \\
        "v2=outputs/default_model_v2/music_w4_s42/eval_b_unseen_sampled_kits" \\
        "v2=outputs/default_model_v2/music_w4_s42/eval_c_unseen_kits_with_music" \\
        "v2=outputs/default_model_v2/music_w4_s42/eval_d_music_alone"  "7k s42=..." ...

The aims (``--aims``, default ``conf/aims/default_model_v2.yaml``, issue 16's) name the kits
they hold on (unseen, sampled, of some kinds: ``conf/kits/*.yaml``) and, per condition, the
least onset F or precision per instrument (``drum_only``: the kits' drum-only tracks;
``with_music``: their ``+music`` twins) and the most onsets per minute on music without drums
(``music_alone``: the ``none+music`` tracks). Rungs mix kits (rung (b) holds an electronic kit
beside two acoustic ones), so the aims are read from each report's per-kit slices
(``slices.groups.kit_name`` of ``drumtx.evaluate``'s metrics.json): the matching slices of all of
a model's reports are pooled (onset counts summed, then P / R / F over the pool). A model is
given as several ``NAME=REPORT`` with the same NAME; a kit slice found in two of one model's
reports is refused (its tracks would count twice). No model is run.

Writes ``aims.md`` (a table: aim, target, each model's value with ✓ or ✗, the kits pooled) and
``aims.json``. Raises (one line, exit 2): a spec that is not NAME=METRICS_JSON, an unreadable
report or aims file, a kit slice twice in one model, an output path that is not a folder.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from drumtx.atomic import atomic_write_text, write_json
from drumtx.cli import EXIT_USAGE, fail
from drumtx.evaluation.commands import output_folder, parser
from drumtx.evaluation.report import md_table, pct

PROG = "drumtx.evaluation.aims"
DEFAULT_AIMS = Path(__file__).resolve().parents[1] / "conf" / "aims" / "default_model_v2.yaml"
CONDITIONS = ("drum_only", "with_music")


class AimsError(ValueError):
    """A bad aims file or a report set that cannot be read against it."""


@dataclass(frozen=True)
class KitName:
    """A report's ``kit_name`` slice key, taken apart: ``[unseen:]<kit>[+music]``."""

    kit: str
    unseen: bool
    music: bool

    @classmethod
    def parse(cls, name: str) -> KitName:
        base = name.removeprefix("unseen:")
        return cls(base.removesuffix("+music"), base != name, base.endswith("+music"))


def load_aims(path: str | Path) -> dict:
    """The aims file as a dict, checked. Raises :class:`AimsError` (unreadable, or a key or
    value that is not one of the documented ones)."""
    from omegaconf import OmegaConf

    try:
        aims = OmegaConf.to_container(OmegaConf.load(path))
    except Exception as exc:  # OSError, YAML errors: one line
        raise AimsError(f"{path}: cannot read the aims ({type(exc).__name__}: {exc})") from None
    if not isinstance(aims, dict):
        raise AimsError(f"{path}: not a mapping of aims")
    unknown = sorted(set(aims) - {"kits", *CONDITIONS, "music_alone"})
    if unknown:
        raise AimsError(f"{path}: unknown keys {unknown} (kits, drum_only, with_music, music_alone)")
    for cond in CONDITIONS:
        for what, targets in (aims.get(cond) or {}).items():
            if what not in ("f", "precision", "recall") or not isinstance(targets, dict):
                raise AimsError(f"{path}: {cond}.{what}: expected f, precision or recall, each a mapping "
                                "instrument -> least value")
            bad = {k: v for k, v in targets.items() if not isinstance(v, (int, float)) or not 0 <= v <= 1}
            if bad:
                raise AimsError(f"{path}: {cond}.{what}: {bad} not between 0 and 1")
    return aims


def kit_matches(name: KitName, rule: Mapping, kits: Mapping) -> bool:
    """Whether a kit slice is one the aims hold on: ``rule`` is the aims' ``kits`` block,
    ``kits`` :func:`drumtx.synth.kits.load_kits`'s table (a kit not in it matches no rule that
    asks for sampled or a kind)."""
    if "unseen" in rule and bool(rule["unseen"]) != name.unseen:
        return False
    kit = kits.get(name.kit)
    if "sampled" in rule and (kit is None or kit.sampled != bool(rule["sampled"])):
        return False
    return not ("kinds" in rule and (kit is None or kit.kind not in rule["kinds"]))


def pool(slices: Mapping[str, dict]) -> dict[str, dict]:
    """Per instrument, the summed onset counts of ``slices`` (kit name -> slice) and P / R / F
    over them (None where undefined)."""
    out: dict[str, dict] = {}
    for g in slices.values():
        for c, v in (g.get("classes") or {}).items():
            acc = out.setdefault(c, {"tp": 0, "n_ref": 0, "n_est": 0})
            for k in acc:
                acc[k] += int(v.get(k) or 0)
    for acc in out.values():
        tp, n_ref, n_est = acc["tp"], acc["n_ref"], acc["n_est"]
        acc["precision"] = tp / n_est if n_est else None
        acc["recall"] = tp / n_ref if n_ref else None
        acc["f"] = 2 * tp / (n_ref + n_est) if n_ref + n_est else None
    return out


def _minutes(g: dict, report: dict, n_slices: int) -> float | None:
    """Minutes of audio behind a slice: stored since the slice rows carry them; for older
    reports from its false positives per minute, or the report's length when it has one slice."""
    ov = g.get("overall") or {}
    if ov.get("minutes") is not None:
        return float(ov["minutes"])
    fp, rate = (ov.get("micro") or {}).get("n_est", 0) - (ov.get("micro") or {}).get("tp", 0), ov.get("fp_per_minute")
    if fp and rate:
        return fp / rate
    if n_slices == 1 and report.get("duration_s"):
        return float(report["duration_s"]) / 60
    return None


def read_model(reports: list[tuple[str, dict]], aims: dict, kits: Mapping) -> dict:
    """One model's standing against ``aims`` from its reports ((path, metrics) pairs).

    Returns ``{"kits": {condition: [slice names]}, "drum_only"/"with_music": pooled counts,
    "music_alone": {"onsets", "minutes", "onsets_per_minute", "slices"}}``.

    Raises:
        AimsError: a kit slice in two of the reports.
    """
    rule = aims.get("kits") or {}
    chosen: dict[str, dict[str, dict]] = {c: {} for c in CONDITIONS}
    alone: dict[str, tuple[dict, float | None]] = {}
    seen: dict[str, str] = {}
    for path, m in reports:
        groups = ((m.get("slices") or {}).get("groups") or {}).get("kit_name") or {}
        for key, g in groups.items():
            if not g:
                continue
            if key in seen:
                raise AimsError(f"kit slice {key!r} is in two reports of one model ({seen[key]}, {path}): "
                                "its tracks would count twice")
            seen[key] = path
            name = KitName.parse(key)
            if name.kit == "none":
                if name.music and ("unseen" not in rule or bool(rule["unseen"]) == name.unseen):
                    alone[key] = (g, _minutes(g, m, len(groups)))
            elif kit_matches(name, rule, kits):
                chosen["with_music" if name.music else "drum_only"][key] = g
    out = {"kits": {c: sorted(chosen[c]) for c in CONDITIONS}}
    for c in CONDITIONS:
        out[c] = pool(chosen[c])
    onsets = sum(int(((g.get("overall") or {}).get("micro") or {}).get("n_est") or 0) for g, _ in alone.values())
    minutes = [mins for _, mins in alone.values()]
    total = sum(minutes) if alone and None not in minutes else None
    out["music_alone"] = {"slices": sorted(alone), "onsets": onsets, "minutes": total,
                          "onsets_per_minute": onsets / total if total else None}
    return out


def verdicts(aims: dict, models: dict[str, dict]) -> list[dict]:
    """One row per aim: ``aim``, ``target`` (text), and per model ``value`` and ``met`` (None:
    not measured, e.g. no matching kit in its reports)."""
    rows = []
    for cond in CONDITIONS:
        for what, targets in (aims.get(cond) or {}).items():
            for inst, least in targets.items():
                row = {"aim": f"{cond.replace('_', '-')}: {inst} {'F' if what == 'f' else what}",
                       "target": f">= {100 * least:.0f}%", "models": {}}
                for name, standing in models.items():
                    v = (standing[cond].get(inst) or {}).get(what)
                    row["models"][name] = {"value": v, "met": None if v is None else v >= least}
                rows.append(row)
    most = (aims.get("music_alone") or {}).get("max_onsets_per_minute")
    if most is not None:
        row = {"aim": "music alone: onsets per minute", "target": f"< {most:g}", "models": {}}
        for name, standing in models.items():
            v = standing["music_alone"]["onsets_per_minute"]
            row["models"][name] = {"value": v, "met": None if v is None else v < most}
        rows.append(row)
    return rows


def _shown(path: str) -> str:
    """``path`` relative to the working folder where it lies under it (the repository's
    ``conf/`` rather than the package's link to it)."""
    p = Path(path).absolute()
    for base in (Path.cwd(), DEFAULT_AIMS.parents[3]):
        if p.is_relative_to(base):
            rel = str(p.relative_to(base))
            return rel.replace("drumtx/conf/", "conf/", 1) if rel.startswith("drumtx/conf/") else rel
    return str(path)


def render(aims_path: str, rule: dict, models: dict[str, dict], rows: list[dict]) -> str:
    names = list(models)

    def cell(r: dict, n: str) -> str:
        v, met = r["models"][n]["value"], r["models"][n]["met"]
        if v is None:
            return "–"
        text = f"{v:.1f}" if r["aim"].startswith("music alone") else pct(v)
        return f"{text} {'✓' if met else '✗'}"

    table = [[r["aim"], r["target"]] + [cell(r, n) for n in names] for r in rows]
    met = {n: sum(bool(r["models"][n]["met"]) for r in rows) for n in names}
    md = ["# Aims", "", f"Aims: `{_shown(aims_path)}`; kits: {json.dumps(rule)}. Onset counts of the matching kit "
          "slices are summed over each model's reports, then P / R / F; – means no matching kit.", "",
          md_table(["aim", "target", *names], table), "",
          "Aims met: " + ", ".join(f"**{n}** {met[n]} of {len(rows)}" for n in names) + ".", "", "## Kits pooled", ""]
    for n in names:
        k = models[n]["kits"]
        md.append(f"- **{n}**: drum-only {', '.join(k['drum_only']) or 'none'}; with music "
                  f"{', '.join(k['with_music']) or 'none'}; music alone {', '.join(models[n]['music_alone']['slices']) or 'none'}")
    return "\n".join(md) + "\n"


def main(argv: list[str] | None = None) -> int:
    from drumtx.synth.kits import load_kits

    ap = parser(PROG, __doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="+", metavar="NAME=METRICS_JSON",
                    help="evaluation reports (drumtx.evaluate's metrics.json, or its report folder); give one model's "
                         "reports under the same NAME")
    ap.add_argument("-o", "--out", required=True, type=Path, help="folder for aims.md and aims.json")
    ap.add_argument("--aims", default=str(DEFAULT_AIMS), help="the aims (YAML; default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        aims = load_aims(args.aims)
    except AimsError as exc:
        fail(PROG, exc)
    grouped: dict[str, list[tuple[str, dict]]] = {}
    for spec in args.reports:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            fail(PROG, f"expected NAME=METRICS_JSON, got {spec!r}")
        if Path(path).is_dir():  # a report folder (evaluate's out_dir): its metrics.json
            path = str(Path(path) / "metrics.json")
        try:
            metrics = json.loads(Path(path).read_text())
            metrics["slices"]["groups"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fail(PROG, f"{path}: not a drumtx.evaluate metrics.json with slices ({type(exc).__name__}: {exc})")
        grouped.setdefault(name, []).append((path, metrics))
    kits = load_kits()
    try:
        models = {n: read_model(r, aims, kits) for n, r in grouped.items()}
    except AimsError as exc:
        fail(PROG, exc)
    rows = verdicts(aims, models)
    md = render(args.aims, aims.get("kits") or {}, models, rows)
    out = output_folder(PROG, args.out)
    try:
        atomic_write_text(out / "aims.md", md)
        write_json(out / "aims.json", {"aims": aims, "aims_file": str(args.aims), "models": models, "verdicts": rows})
    except OSError as exc:
        fail(PROG, f"{out}: cannot write the aims ({exc})", EXIT_USAGE)
    print(md)
    print(f"wrote {out / 'aims.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
