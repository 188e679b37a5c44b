"""Are the aims met? A model's evaluation reports read against accuracy aims given as data.

    python -m drumtx.evaluation.aims -o experiments/default_model_v2/aims \\
        "v2=outputs/default_model_v2/music_w4_s42/eval_b_unseen_sampled_kits" \\
        "v2=outputs/default_model_v2/music_w4_s42/eval_c_unseen_kits_with_music" \\
        "v2=outputs/default_model_v2/music_w4_s42/eval_d_music_alone"  "7k s42=..." ...

The aims (``--aims``, default ``conf/aims/default_model_v2.yaml``, issue 16's; its comments
give the schema, and every key is checked) name the kits they hold on (``kits``: unseen or
not, sampled or not, of which kinds, ``conf/kits/*.yaml``) and, per condition, the least onset F,
precision or recall per instrument (``drum_only``: the kits' drum-only tracks; ``with_music``:
their ``+music`` twins) and the onsets per minute to stay below on music without drums
(``music_alone``: the ``none+music`` tracks, held-out music where ``kits.unseen`` is true). Rungs
mix kits (rung (b) holds an electronic kit beside two acoustic ones), so the aims are read from
each report's per-kit slices (``slices.groups.kit_name`` of ``drumtx.evaluate``'s metrics.json):
the matching slices of all of a model's reports are pooled (onset counts summed, then P / R / F
over the pool). A model is given as several ``NAME=REPORT`` with the same NAME; a kit slice
found in two of one model's reports is refused (its tracks would count twice). No model is run.
A warning line names a model whose reports match nothing, and kits not in ``conf/kits`` (of no
known kind: left out).

Writes ``aims.md`` (a table: aim, target, each model's value with ✓ or ✗, the kits pooled) and
``aims.json``. Raises (one line, exit 2): a spec that is not NAME=METRICS_JSON, an unreadable
report, an aims file that is unreadable or holds an unknown key or a bad value, a report or
kit slice twice in one model, an output path that is not a folder.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from drumtx.atomic import atomic_write_text, write_json
from drumtx.cli import EXIT_USAGE, error, fail
from drumtx.evaluation.commands import output_folder, parser, read_reports
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


KIT_RULES = ("unseen", "sampled", "kinds")
KIT_KINDS = ("acoustic", "electronic", "general-midi")  # drumtx.synth.kits.Kit.kind
MEASURES = ("f", "precision", "recall")


def load_aims(path: str | Path) -> dict:
    """The aims file as a dict, checked, so that a typo cannot change what is measured.

    Raises:
        AimsError: unreadable; not a mapping; no aim; an unknown key anywhere (top level,
            ``kits``, a condition's measure, an instrument, ``music_alone``); ``unseen`` or
            ``sampled`` not true, false or null (either); a kind not among :data:`KIT_KINDS`;
            a target that is not a number in [0, 1] (a rate: not a number above 0); a key given
            twice.
    """
    import yaml

    from drumtx.vocab import INSTRUMENTS

    class _Strict(yaml.SafeLoader):  # a key given twice is an error, not the last one silently
        def construct_mapping(self, node, deep=False):
            keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
            twice = sorted({str(k) for k in keys if keys.count(k) > 1})
            if twice:
                raise yaml.constructor.ConstructorError(None, None, f"keys given twice: {twice}", node.start_mark)
            return super().construct_mapping(node, deep=deep)

    try:  # plain YAML: OmegaConf reads a bare string as a mapping with that key
        aims = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Strict)  # noqa: S506 (a SafeLoader)
    except Exception as exc:  # OSError, YAML errors: one line
        raise AimsError(f"{path}: cannot read the aims ({type(exc).__name__}: {exc})") from None
    if not isinstance(aims, dict):
        raise AimsError(f"{path}: not a mapping of aims (kits, drum_only, with_music, music_alone)")
    unknown = sorted(set(aims) - {"kits", *CONDITIONS, "music_alone"})
    if unknown:
        raise AimsError(f"{path}: unknown keys {unknown} (kits, drum_only, with_music, music_alone)")
    rule = aims.get("kits") or {}
    if not isinstance(rule, dict) or set(rule) - set(KIT_RULES):
        raise AimsError(f"{path}: kits: expected a mapping with keys among {list(KIT_RULES)}, got {rule!r}")
    for key in ("unseen", "sampled"):
        if rule.get(key) not in (True, False, None):
            raise AimsError(f"{path}: kits.{key}: {rule[key]!r} is not true, false or null (either)")
    kinds = rule.get("kinds")
    if kinds is not None and (not isinstance(kinds, list) or not kinds or set(kinds) - set(KIT_KINDS)):
        raise AimsError(f"{path}: kits.kinds: {kinds!r} is not a non-empty list of {list(KIT_KINDS)}")
    n_aims = 0
    for cond in CONDITIONS:
        block = aims.get(cond) or {}
        if not isinstance(block, dict):
            raise AimsError(f"{path}: {cond}: expected a mapping of {list(MEASURES)}")
        for what, targets in block.items():
            if what not in MEASURES or not isinstance(targets, dict):
                raise AimsError(f"{path}: {cond}.{what}: expected one of {list(MEASURES)}, each a mapping "
                                "instrument -> least value")
            for inst, v in targets.items():
                if inst not in INSTRUMENTS:
                    raise AimsError(f"{path}: {cond}.{what}.{inst}: not an instrument ({', '.join(INSTRUMENTS)})")
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise AimsError(f"{path}: {cond}.{what}.{inst}: {v!r} is not a number")
                if not 0 <= v <= 1:
                    raise AimsError(f"{path}: {cond}.{what}.{inst}: {v!r} is not between 0 and 1")
                n_aims += 1
    alone = aims.get("music_alone") or {}
    if not isinstance(alone, dict) or set(alone) - {"onsets_per_minute_below"}:
        raise AimsError(f"{path}: music_alone: expected a mapping with the key onsets_per_minute_below, got {alone!r}")
    if "onsets_per_minute_below" in alone:
        v = alone["onsets_per_minute_below"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise AimsError(f"{path}: music_alone.onsets_per_minute_below: {v!r} is not a number above 0")
        n_aims += 1
    if not n_aims:
        raise AimsError(f"{path}: no aim in it")
    return aims


def kit_matches(name: KitName, rule: Mapping, kits: Mapping) -> bool:
    """Whether a kit slice is one the aims hold on: ``rule`` is the aims' ``kits`` block (a key
    that is absent or null asks nothing), ``kits`` :func:`drumtx.synth.kits.load_kits`'s table (a
    kit not in it matches no rule that asks for sampled or a kind)."""
    if rule.get("unseen") is not None and bool(rule["unseen"]) != name.unseen:
        return False
    kit = kits.get(name.kit)
    if rule.get("sampled") is not None and (kit is None or kit.sampled != bool(rule["sampled"])):
        return False
    return not (rule.get("kinds") and (kit is None or kit.kind not in rule["kinds"]))


def pool(slices: Mapping[str, dict]) -> dict[str, dict]:
    """Per instrument, the summed onset counts of ``slices`` (kit name -> slice) and P / R / F
    over them (None where undefined). Raises :class:`AimsError`: a count that is not one."""
    out: dict[str, dict] = {}
    for key, g in slices.items():
        for c, v in (g.get("classes") or {}).items():
            acc = out.setdefault(c, {"tp": 0, "n_ref": 0, "n_est": 0})
            for k in acc:
                n = v.get(k)
                if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                    raise AimsError(f"kit slice {key!r}, {c}: {k} is {n!r}, not a count")
                acc[k] += n
    for acc in out.values():
        tp, n_ref, n_est = acc["tp"], acc["n_ref"], acc["n_est"]
        acc["precision"] = tp / n_est if n_est else None
        acc["recall"] = tp / n_ref if n_ref else None
        acc["f"] = 2 * tp / (n_ref + n_est) if n_ref + n_est else None
    return out


def _minutes(key: str, g: dict, report: dict) -> float | None:
    """Minutes of audio behind the slice ``key``: stored since slices carry them; for older
    reports the summed lengths of its tracks (the report's ``tracks`` rows), else from its false
    positives per minute (None when it has none)."""
    ov = g.get("overall") or {}
    if ov.get("minutes") is not None:
        return float(ov["minutes"])
    rows = [r for r in report.get("tracks") or [] if isinstance(r, dict) and r.get("kit_name") == key]
    if rows and all(r.get("duration_s") is not None for r in rows):
        return sum(float(r["duration_s"]) for r in rows) / 60
    micro = ov.get("micro") or {}
    fp, rate = (micro.get("n_est") or 0) - (micro.get("tp") or 0), ov.get("fp_per_minute")
    return fp / rate if fp and rate else None


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
    paths = [path for path, _ in reports]
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        raise AimsError(f"{twice[0]} is given twice for one model")
    unknown: set[str] = set()
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
            if name.kit == "none":  # music alone: unseen music is the held-out music
                if name.music and (rule.get("unseen") is None or bool(rule["unseen"]) == name.unseen):
                    alone[key] = (g, _minutes(key, g, m))
                continue
            if kit_matches(name, rule, kits):
                chosen["with_music" if name.music else "drum_only"][key] = g
            elif name.kit not in kits and (rule.get("unseen") is None or bool(rule["unseen"]) == name.unseen):
                unknown.add(key)  # left out only for want of its kind
    out = {"kits": {c: sorted(chosen[c]) for c in CONDITIONS}, "unknown_kits": sorted(unknown)}
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
    most = (aims.get("music_alone") or {}).get("onsets_per_minute_below")
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

    def tally(n: str) -> str:
        measured = [r["models"][n]["met"] for r in rows if r["models"][n]["met"] is not None]
        left = len(rows) - len(measured)
        return f"**{n}** {sum(measured)} of {len(measured)}" + (f" ({left} not measured)" if left else "")

    md = ["# Aims", "", f"Aims: `{_shown(aims_path)}`; kits: {json.dumps(rule)}. Onset counts of the matching kit "
          "slices are summed over each model's reports, then P / R / F; – means not measured (no matching "
          "kit slice in the model's reports, or none with that instrument).", "",
          md_table(["aim", "target", *names], table), "",
          "Aims met: " + ", ".join(tally(n) for n in names) + ".", "", "## Kits pooled", ""]

    def pooled(n: str) -> str:
        k = models[n]["kits"]
        return (f"drum-only {', '.join(k['drum_only']) or 'none'}; with music {', '.join(k['with_music']) or 'none'}; "
                f"music alone {', '.join(models[n]['music_alone']['slices']) or 'none'}")

    lines = {n: pooled(n) for n in names}
    if len(set(lines.values())) == 1:
        md.append(f"- every model: {lines[names[0]]}")
    else:
        md += [f"- **{n}**: {line}" for n, line in lines.items()]
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
    def needs(m: dict) -> None:  # per-kit slices scored per instrument (evaluate's default slice level)
        m["slices"]["groups"]
        if m.get("slice_level", "instrument") != "instrument":
            raise ValueError(f"its slices are scored per {m['slice_level']}, the aims per instrument")

    for name, path, metrics in read_reports(PROG, args.reports, needs,
                                            "a drumtx.evaluate metrics.json with per-instrument slices"):
        grouped.setdefault(name, []).append((path, metrics))
    kits = load_kits()
    try:
        models = {n: read_model(r, aims, kits) for n, r in grouped.items()}
    except AimsError as exc:
        fail(PROG, exc)
    for name, standing in models.items():  # measured nothing, or kits it cannot place: say so
        if standing["unknown_kits"]:
            error(PROG, f"warning: {name}: kits not in conf/kits, so of no known kind, left out: "
                        f"{', '.join(standing['unknown_kits'])}")
        if not any(standing["kits"].values()) and not standing["music_alone"]["slices"]:
            error(PROG, f"warning: {name}: no kit slice of its reports matches the aims' kits "
                        f"{json.dumps(aims.get('kits') or {})}: nothing measured")
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
