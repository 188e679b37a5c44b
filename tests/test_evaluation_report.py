"""Report and comparison files from hand-made evaluations with known answers (no model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drumtx.evaluation.compare import main as compare_main
from drumtx.evaluation.matching import default_levels
from drumtx.evaluation.report import flat_metrics, write_report
from drumtx.evaluation.scores import EvalSettings, Evaluation, TrackEval
from drumtx.targets import Onset
from drumtx.vocab import Vocabulary

VOCAB = Vocabulary()
KICKS = [1.0, 2.0, 3.0, 4.0]


def evaluation(found_kicks: int, false_crashes: int) -> Evaluation:
    """One 60 s track: four kicks, of which ``found_kicks`` are found, and some false crashes."""
    T = 6001
    probs = {c: np.zeros(T) for c in VOCAB.fine_classes}
    for t in KICKS[:found_kicks]:
        probs["kick"][int(t * 100)] = 0.9
    acts = {i: np.max([probs[c] for c in fine], axis=0) for i, fine in VOCAB.instruments.items()}
    ref = [Onset(t, "kick", 100) for t in KICKS] + [Onset(5.0, "hihat_open", 30)]
    est = [Onset(t, "kick") for t in KICKS[:found_kicks]] + [Onset(5.0, "hihat_closed")]
    est += [Onset(10.0 + k, "crash") for k in range(false_crashes)]
    track = TrackEval("song", 60.0, ref, est, fine_probs=probs, activations=acts, meta={"beat_type": "fill"})
    return Evaluation([track], default_levels(VOCAB), EvalSettings())


def test_report_files_and_contents(tmp_path):
    ev = evaluation(found_kicks=2, false_crashes=3)
    paths = write_report(tmp_path, ev, {"model": "m", "checkpoint": "x.safetensors"}, pianorolls=1)
    md = paths["report"].read_text()
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["levels"]["fine"]["classes"]["kick"]["recall"] == 0.5
    assert metrics["levels"]["fine"]["classes"]["crash"]["fp_per_minute"] == pytest.approx(3.0)
    assert metrics["variation_accuracy"]["hihat"]["accuracy"] == 0.0  # open hi-hat called closed
    assert "| Kick | 4 | 2 | 100.0% | 50.0% | 66.7% |" in md
    assert "Tier-1 recall: Kick 50.0%" in md
    assert "## Worst tracks" in md and "`song`" in md
    assert (tmp_path / "figures" / "pianoroll_1.png").stat().st_size > 1000
    assert (tmp_path / "figures" / "confusion_cymbal.png").is_file()
    assert paths["tracks"].read_text().splitlines()[0].startswith("track,duration_s,f_measure")
    flat = flat_metrics(metrics)
    assert flat["test/fine/kick/recall"] == 0.5 and flat["test/tier1/kick/recall"] == 0.5
    curves = json.loads(paths["curves"].read_text())
    assert curves["fine"]["kick"]["precision"][0] == 1.0


def test_comparison_table_from_saved_runs(tmp_path, capsys):
    write_report(tmp_path / "base", evaluation(found_kicks=2, false_crashes=3), {"model": "flat"}, pianorolls=0)
    write_report(tmp_path / "cand", evaluation(found_kicks=4, false_crashes=1), {"model": "five_branch"}, pianorolls=0)
    assert compare_main([str(tmp_path / "base"), str(tmp_path / "cand"), "-o", str(tmp_path / "cmp")]) == 0
    cmp = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    kick = next(r for r in cmp["table"] if r["label"] == "Kick")
    assert kick["baseline"]["recall"] == 0.5 and kick["candidate"]["recall"] == 1.0
    assert kick["delta"]["recall"] == pytest.approx(0.5) and kick["delta"]["precision"] == 0.0
    crash = cmp["fp_per_minute"]["crash"]
    assert (crash["baseline"], crash["candidate"], crash["delta"]) == pytest.approx((3.0, 1.0, -2.0))
    assert cmp["tier1_recall"]["kick"]["delta"] == pytest.approx(0.5)
    assert cmp["largest_improvements"][0]["track"] == "song" and cmp["largest_regressions"] == []
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| Kick | 50.0% | 100.0% | 66.7% | 100.0% | 100.0% | 100.0% | +50.0 | +0.0 | +33.3 | 4 |" in md
    assert "\n" + "Kick".ljust(22) + "  50%  100%   67%   100%  100%  100%   +50.0   +0.0  +33.3\n" in md
    assert "\n" + " " * 22 + "  Rec  Prec    F1    Rec  Prec    F1    ΔRec  ΔPrec    ΔF1\n" in md
    assert (tmp_path / "cmp" / "figures" / "pr_curves_fine.png").is_file()
    assert compare_main([str(tmp_path / "nothing"), str(tmp_path / "cand"), "-o", str(tmp_path / "x")]) == 2
    assert "no metrics.json" in capsys.readouterr().err


def test_undefined_scores_show_as_undefined_in_report_and_comparison(tmp_path, capsys):
    """Crash and ride with support 0 and no estimate were P/R/F 100 % in report.md, and a class
    whose false alarms stopped read ΔF1 +100.0 in compare.md."""
    paths = write_report(tmp_path / "cand", evaluation(found_kicks=2, false_crashes=0), {"model": "c"}, figures=False)
    md = paths["report"].read_text()
    assert "| Crash | 0 | 0 | – | – | – | – |" in md and "| Ride | 0 | 0 | – | – | – | – |" in md
    metrics = json.loads(paths["metrics"].read_text())
    crash = metrics["levels"]["instrument"]["classes"]["crash"]
    assert (crash["precision"], crash["recall"], crash["f_measure"]) == (None, None, None)  # null in metrics.json
    assert "test/instrument/crash/f1" not in flat_metrics(metrics)
    write_report(tmp_path / "base", evaluation(found_kicks=2, false_crashes=3), {"model": "b"}, figures=False)
    assert compare_main([str(tmp_path / "base"), str(tmp_path / "cand"), "-o", str(tmp_path / "cmp")]) == 0
    cmp = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    row = next(r for r in cmp["table"] if r["label"] == "Crash")
    assert row["baseline"]["f_measure"] == 0.0 and row["candidate"]["f_measure"] is None
    assert row["delta"] == {"recall": None, "precision": None, "f_measure": None}
    cmd = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| Crash | – | 0.0% | 0.0% | – | – | – | – | – | – | 0 |" in cmd and "+100.0" not in cmd
    assert "\n" + "Crash".ljust(22) + "    –    0%    0%      –     –     –       –      –      –\n" in cmd


def test_comparison_reads_older_reports_undefined_as_undefined(tmp_path):
    """A metrics.json written before undefined scores were null stored 1.0 for them."""
    for name, crashes in (("base", 3), ("cand", 0)):
        paths = write_report(tmp_path / name, evaluation(2, crashes), {"model": name}, figures=False)
        m = json.loads(paths["metrics"].read_text())
        for level in m["levels"].values():
            for row in level["classes"].values():
                for k in ("precision", "recall", "f_measure"):
                    if row[k] is None:
                        row[k] = 1.0 if not (row["n_ref"] or row["n_est"]) else 0.0
        paths["metrics"].write_text(json.dumps(m))
    assert compare_main([str(tmp_path / "base"), str(tmp_path / "cand"), "-o", str(tmp_path / "cmp")]) == 0
    cmp = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert next(r for r in cmp["table"] if r["label"] == "Crash")["delta"]["f_measure"] is None


def test_report_labels_its_two_overall_figures(tmp_path):
    """The summary's fine-class F1 and false positives per minute sat beside the branch table's
    higher 'Overall (micro)' with nothing to tell them apart."""
    md = write_report(tmp_path, evaluation(found_kicks=4, false_crashes=0), {"model": "m"}, figures=False)["report"].read_text()
    assert "- Onset F1 over all fine classes (micro): **80.0%**" in md  # the open hi-hat called closed: missed
    assert "- Onset F1 over all instruments (micro): **100.0%**" in md  # ... but found as a hi-hat
    assert "- False positives per minute: 1.00 over all fine classes, 0.00 over all instruments" in md
    assert "an open hi-hat heard as closed is both a miss and a false alarm among the fine classes" in md
    for level in ("branches", "instruments", "fine classes"):
        assert f"| **All {level} (micro)** |" in md
    assert "Overall (micro)" not in md


@pytest.mark.parametrize("args", [["-o", "{file}"], ["-o", "{file}/sub"], []])
def test_compare_usage_and_output_errors_are_one_line(args, tmp_path, capsys):
    """-o naming a file gave a NotADirectoryError traceback; argparse's errors had another prefix."""
    write_report(tmp_path / "a", evaluation(2, 0), {"model": "a"}, figures=False)
    (tmp_path / "file").write_text("x")
    argv = [str(tmp_path / "a"), str(tmp_path / "a"), *(a.format(file=tmp_path / "file") for a in args)]
    code = None
    try:
        code = compare_main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("drumtx.evaluation.compare: "), err
    assert (tmp_path / "file").read_text() == "x"


def test_the_report_says_which_drum_presence_gate_was_applied(tmp_path):
    gated = {"presence_confidence": 0.8, "presence_seconds": 3.0, "presence_instruments": ["kick", "snare"]}
    md = write_report(tmp_path / "on", evaluation(2, 0), {"model": "m", "inference": gated}, pianorolls=0)["report"]
    assert "- **drum presence gate**: an onset needs one of kick, snare at 0.8 within 3 s" in md.read_text()
    off = {**gated, "presence_confidence": 0.0}
    md = write_report(tmp_path / "off", evaluation(2, 0), {"model": "m", "inference": off}, pianorolls=0)["report"]
    assert "- **drum presence gate**: none" in md.read_text()
    md = write_report(tmp_path / "old", evaluation(2, 0), {"model": "m"}, pianorolls=0)["report"]
    assert "drum presence gate" not in md.read_text()  # a report from before the gate says nothing


def test_many_series_become_a_table_of_cells_without_layout_warnings(tmp_path):
    """A report sliced by kit (44 kits) drew 44 bars per instrument and a legend taller than the
    figure (matplotlib: "constrained_layout not applied"); more than MAX_BAR_SERIES series are
    drawn as one row each, the figure growing with them."""
    import warnings

    import matplotlib.image as mpimg

    from drumtx.evaluation import plots

    classes = ["kick", "snare", "tom", "hihat", "ride", "crash"]
    few = {f"kit_{i}": [0.5] * 6 for i in range(plots.MAX_BAR_SERIES)}
    many = {f"kit_{i}": [0.5, None, 0.7, 0.1, 1.0, 0.0] for i in range(44)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.bars(tmp_path / "few.png", "Onset F1 by kit_name", classes, few)
        plots.bars(tmp_path / "many.png", "Onset F1 by kit_name", classes, many)
        plots.bars(tmp_path / "delta.png", "ΔF", classes, {k: [-0.2] * 6 for k in many}, ylim=None)
    assert mpimg.imread(tmp_path / "few.png").shape[0] == 400  # bars: 4 inches at 100 dpi
    assert mpimg.imread(tmp_path / "many.png").shape[0] > 44 * 20  # a row per kit
