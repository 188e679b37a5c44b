"""``python -m drumtx.synth.kits`` / ``drumtx-synth-kits``: list, check and measure the kits.

The command only; the kit tables are read by the library, :mod:`drumtx.synth.kits`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from omegaconf import OmegaConf

from drumtx.atomic import atomic_write_text
from drumtx.cli import EXIT_SOME_FAILED, EXIT_USAGE, error, module_parser
from drumtx.synth.kits import (
    KITS_DIR,
    LATENCY_FILE,
    Kit,
    KitError,
    describe_kit,
    generate_missing,
    kit_offsets_in_file,
    kit_problem,
    load_distractor_kits,
    load_kits,
    read_table,
)


def _renderable(
    kits: dict[str, Kit], names: list[str] | None, skipped: str, failed: list[str]
) -> Iterator[Kit]:
    """The kits named in ``names`` (all when None), in table order, that can be rendered here; for
    each one that cannot (:func:`drumtx.synth.kits.kit_problem`: a sound font not installed, a sampled
    kit's unreadable or incomplete files) prints ``skipped`` formatted with ``name`` and ``problem``
    instead and appends its name to ``failed`` (the command then exits 1: some inputs failed)."""
    for kit in kits.values():
        if names and kit.name not in names:
            continue
        try:
            generate_missing(kit)  # a synthesised kit is written before it is measured or checked
            problem = kit_problem(kit)
        except KitError as exc:
            problem = str(exc)
        if problem:
            print(skipped.format(name=kit.name, problem=problem))
            failed.append(kit.name)
            continue
        yield kit


def main(argv: list[str] | None = None) -> int:
    """``python -m drumtx.synth.kits``: list every kit (sound-font and sampled) with its format,
    source, licence, instruments and what it lacks; ``--measure-latency --write`` refreshes
    latency.yaml (all kits, or those named with ``--kits``)."""

    parser = module_parser("drumtx.synth.kits", main.__doc__)
    parser.add_argument("--kits-dir", default=str(KITS_DIR))
    parser.add_argument("--brief", action="store_true", help="one line per kit")
    parser.add_argument(
        "--measure-latency", action="store_true", help="measure each kit key's sample start latency"
    )
    parser.add_argument(
        "--kits", nargs="+", metavar="NAME", help="measure only these kits (others keep their values)"
    )
    parser.add_argument(
        "--write", action="store_true", help=f"write the measurement to <kits-dir>/{LATENCY_FILE}"
    )
    parser.add_argument(
        "--check-onsets",
        action="store_true",
        help="render six reference grooves (seed 3: every Roland note) per kit and report how many "
        "notes have an audio onset within 10 ms of their label, and the median error",
    )
    args = parser.parse_args(argv)
    try:
        kits = load_kits(args.kits_dir)
        distractors = load_distractor_kits(args.kits_dir)
    except (KitError, OSError) as exc:  # a bad or missing kit table: one line, exit 2 (drumtx.cli)
        error("drumtx.synth.kits", exc)
        return EXIT_USAGE
    unknown = sorted(set(args.kits or []) - set(kits))
    if unknown:
        error("drumtx.synth.kits", KitError(f"--kits: unknown kits {unknown}"))
        return EXIT_USAGE
    if args.check_onsets:
        from drumtx.synth.check import Agreement, onset_agreement, reference_grooves
        from drumtx.synth.render import KitRenderer

        renderer, grooves, worst = KitRenderer(), reference_grooves(seed=3), 1.0  # seed 3 plays all 22 notes
        not_checked: list[str] = []
        for kit in _renderable(kits, args.kits, "{name}: not checked: {problem}", not_checked):
            total = Agreement(kit.name)
            for groove in grooves:
                total.update(onset_agreement(renderer, kit, groove.notes))
            worst = min(worst, total.recall)
            print(total.summary(), flush=True)
        return 0 if worst == 1.0 and not not_checked else EXIT_SOME_FAILED
    if not args.measure_latency:
        for kit in kits.values():
            if args.brief:
                font = kit.soundfont or (f"synthesised on first use ({kit.soundfont_candidates[0]})"
                                         if kit.generator_seed is not None else f"MISSING ({kit.soundfont_candidates[0]})")
                print(
                    f"{kit.name:24s} {kit.format:8s} {kit.kind:12s} {kit.split:5s} {kit.licence:14s} {font}"
                )
            else:
                print(describe_kit(kit))
        for d in distractors.values():
            font = d.file or f"MISSING ({d.file_candidates[0]})"
            print(
                f"{d.name}  [{d.format}, percussion distractor: unlabelled]  {font}\n"
                f"    source:  {d.author}; licence: {d.licence or 'unstated'}\n"
                f"    parts:   {', '.join(d.parts)}"
                if not args.brief
                else f"{d.name:24s} {d.format:8s} {'distractor':12s} {'-':5s} {d.licence:14s} {font}"
            )
        return 0
    from dataclasses import replace

    from drumtx.synth.check import measure_latency, measure_offset, reference_grooves
    from drumtx.synth.render import KitRenderer

    renderer = KitRenderer()
    grooves = reference_grooves(seed=1)
    target = Path(args.kits_dir) / LATENCY_FILE
    latency, offsets = {}, {}
    if args.kits and target.is_file():  # keep the other kits' measurements
        table = read_table(target)
        latency, offsets = dict(table.get("latency_ms") or {}), dict(table.get("offset_ms") or {})
    not_measured: list[str] = []
    for kit in _renderable(kits, args.kits, "# {name}: not measured: {problem}", not_measured):
        manual = kit.offset_ms - kit_offsets_in_file(args.kits_dir).get(kit.name, 0.0)
        if kit.sampled:  # the sample player aligns every sample on its own attack: only the residual
            latency.pop(kit.name, None)
            offsets[kit.name] = measure_offset(
                renderer, replace(kit, latency_ms={}, offset_ms=manual), grooves
            )
            print(f"# {kit.name}: residual offset {offsets[kit.name]} ms")
            continue
        latency[kit.name] = dict(sorted(measure_latency(renderer, kit).items()))
        offsets[kit.name] = measure_offset(
            renderer, replace(kit, latency_ms=latency[kit.name], offset_ms=manual), grooves
        )
        worst = max(latency[kit.name].items(), key=lambda kv: kv[1])
        print(
            f"# {kit.name}: key latency max {worst[1]} ms (key {worst[0]}), residual offset {offsets[kit.name]} ms"
        )
    text = (
        "# Measured by `python -m drumtx.synth.kits --measure-latency --write`; do not edit by hand.\n"
        "# latency_ms: per kit and kit key, note-on to the first sample above 10% of the hit's peak\n"
        "#   (velocity 100, hit out of silence); the renderer strikes each key this much earlier.\n"
        "#   Sampled kits have none: the sample player aligns every sample on its own attack.\n"
        "# offset_ms: per kit, the median spectral-flux onset error left in generated grooves\n"
        "#   (drumtx.synth.check.reference_grooves(seed=1)); every note of the kit moves by it.\n"
        + OmegaConf.to_yaml({"latency_ms": latency, "offset_ms": offsets})
    )
    if args.write:
        atomic_write_text(target, text)
        print(f"wrote {target}")
    else:
        print(text)
    return EXIT_SOME_FAILED if not_measured else 0


if __name__ == "__main__":
    raise SystemExit(main())
