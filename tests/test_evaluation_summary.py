"""drumtx.evaluation.summary lines up evaluation reports against the first one."""

import json

import pytest

from drumtx.evaluation import summary


def report(kick_f: float, crash_p: float, kit_f: dict[str, float]) -> dict:
    def level(f):
        return {"classes": {"kick": {"f_measure": f, "precision": f}, "crash": {"f_measure": 0.5, "precision": crash_p}},
                "overall": {"micro": {"f_measure": f}}}

    return {
        "info": {"checkpoint": "run/best.safetensors"}, "n_tracks": 3, "settings": {"window_s": 0.05},
        "levels": {"instrument": level(kick_f)},
        "variation_accuracy": {"hihat": {"accuracy": 0.9}},
        "slices": {"groups": {"kit_name": {k: {"overall": {"micro": {"f_measure": f}}} for k, f in kit_f.items()}}},
    }


def test_deltas_are_against_the_first_report():
    md, numbers, series = summary.summarize(
        {"base": report(0.60, 0.70, {"unseen:a": 0.5}), "arm": report(0.65, 0.60, {"unseen:a": 0.4, "unseen:b": 0.3})},
        "t")
    assert "| kick F | 60.0% | 65.0% (+5.0) |" in md
    assert "| crash precision | 70.0% | 60.0% (-10.0) |" in md
    assert "| unseen:a | 50.0% | 40.0% (-10.0) |" in md
    assert "| unseen:b | – | 30.0% |" in md  # a kit only one report has
    assert numbers["reference"] == "base" and numbers["rows"]["arm"]["hihat variation accuracy"] == 0.9
    assert series["instruments"][0] == ["kick", "crash", "all instruments"]


def test_cli_writes_table_and_figures(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report(0.6, 0.7, {"k": 0.5})))
    b.write_text(json.dumps(report(0.7, 0.7, {"k": 0.6})))
    assert summary.main(["-o", str(tmp_path / "out"), f"base={a}", f"arm={b}"]) == 0
    assert (tmp_path / "out" / "summary.md").read_text().count("figures/") == 2
    assert (tmp_path / "out" / "figures" / "kit_f.png").stat().st_size > 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["kits"]["arm"]["k"] == 0.6


@pytest.mark.parametrize("spec", ["no-equals-sign", "x={missing}", "x={notjson}"])
def test_cli_refuses_bad_reports_in_one_line(spec, tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    spec = spec.format(missing=tmp_path / "nope.json", notjson=tmp_path / "bad.json")
    with pytest.raises(SystemExit) as exc:
        summary.main(["-o", str(tmp_path / "out"), spec])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error:" in err
