"""Unfinished trainings carried across a fresh checkout (experiments/scripts/default_model_v2_common.sh:
stash_run, restore_run, train_args; make default-model-v2-stash). The shell functions run on a fake
run folder: which files go into the stash, and that the recipe resumes from them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
COMMON = REPO / "experiments" / "scripts" / "default_model_v2_common.sh"


def _bash(tmp_path: Path, script: str) -> subprocess.CompletedProcess:
    prelude = (f'set -euo pipefail; source "{REPO}/experiments/scripts/common.sh"; '
               f'source "{COMMON}"; cd "{tmp_path}"; ')
    # absolute: common.sh works from the repository root (pinned_v1 writes to $V2/v1 too)
    env = {"PATH": "/usr/bin:/bin", "V2": str(tmp_path / "v2"), "STASH": str(tmp_path / "stash"),
           "HOME": str(tmp_path), "PY": sys.executable}
    return subprocess.run(["bash", "-c", prelude + script], env=env, capture_output=True, text=True)


@pytest.fixture
def run_dir(tmp_path):
    if subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", "61abc86"], capture_output=True).returncode:
        pytest.skip("needs the repository's history (the recipe pins v1 from 61abc86)")
    run = tmp_path / "v2" / "cand_s42"
    (run / "checkpoints").mkdir(parents=True)
    for name in ["epoch003-prauc0.4100.ckpt", "epoch009-prauc0.5570.ckpt", "epoch012-prauc0.5570.ckpt"]:
        # a tie in the names (9, 12): Lightning's choice wins
        torch.save({"state_dict": {"w": torch.ones(2)}, "optimizer_states": [{"m": torch.ones(2)}], "name": name},
                   run / "checkpoints" / name)
    # the best as Lightning recorded it, at the absolute path of the checkout that trained it
    callback = {"best_model_path": "/elsewhere/v2/cand_s42/checkpoints/epoch009-prauc0.5570.ckpt"}
    torch.save({"callbacks": {"Checkpoints{'monitor': 'val/pr_auc_mean'}": callback}, "global_step": 900},
               run / "checkpoints" / "last.ckpt")
    (run / "csv" / "version_0").mkdir(parents=True)
    (run / "csv" / "version_0" / "metrics.csv").write_text("step,val\n")
    (tmp_path / "v2" / "cand_s42.log").write_text("log\n")
    return run


def test_stash_keeps_last_best_and_logs(tmp_path, run_dir):
    r = _bash(tmp_path, "stash_run $V2/cand_s42")
    assert r.returncode == 0, r.stderr
    stash = tmp_path / "stash" / "cand_s42"
    # the best that last.ckpt names (epoch 9, not the later tie), moved by file name, without its optimizer state
    assert sorted(p.name for p in (stash / "checkpoints").iterdir()) == ["epoch009-prauc0.5570.ckpt", "last.ckpt"]
    best = torch.load(stash / "checkpoints" / "epoch009-prauc0.5570.ckpt", weights_only=True)
    assert best["name"] == "epoch009-prauc0.5570.ckpt" and "optimizer_states" not in best and "state_dict" in best
    assert (stash / "csv" / "version_0" / "metrics.csv").exists()
    assert (stash / "train.log").read_text() == "log\n"
    assert not (tmp_path / "stash" / "cand_s42.tmp").exists()


def test_fresh_checkout_resumes_from_the_stash(tmp_path, run_dir):
    assert _bash(tmp_path, "stash_run $V2/cand_s42").returncode == 0
    subprocess.run(["rm", "-rf", str(tmp_path / "v2")], check=True)  # a new checkout: outputs/ gone
    r = _bash(tmp_path, 'train_args $V2/cand_s42 - "seed=42"')
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["seed=42", f"ckpt_path={tmp_path}/v2/cand_s42/checkpoints/last.ckpt"]
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 900
    assert (run_dir / "checkpoints" / "epoch009-prauc0.5570.ckpt").is_file()
    assert (tmp_path / "v2" / "cand_s42.log").exists() and "restored" in r.stderr


def test_the_checkout_wins_and_a_finished_run_drops_its_stash(tmp_path, run_dir):
    assert _bash(tmp_path, "stash_run $V2/cand_s42").returncode == 0
    (run_dir / "checkpoints" / "last.ckpt").write_text("newer")  # trained on in this checkout
    r = _bash(tmp_path, 'train_args $V2/cand_s42 - "seed=42"')
    assert (run_dir / "checkpoints" / "last.ckpt").read_text() == "newer" and "restored" not in r.stderr
    # finished and tuned: the stash keeps its bundle, not its last.ckpt (nothing continues it)
    (run_dir / "best.safetensors").write_text("weights")
    (run_dir / "best.json").write_text("{}")
    (run_dir / "best.validation.probs.npz").write_text("tuning's cache")  # remade if needed: not stashed
    (run_dir / "thresholds").mkdir()
    (run_dir / "thresholds" / "done_wilson").write_text("")
    assert _bash(tmp_path, "stash_run $V2/cand_s42").returncode == 0
    stash = tmp_path / "stash" / "cand_s42"
    assert (stash / "best.safetensors").read_text() == "weights" and (stash / "thresholds" / "done_wilson").exists()
    assert not any((stash / "checkpoints").iterdir())
    assert not (stash / "best.validation.probs.npz").exists()
    # ... unless a recipe continues it
    assert _bash(tmp_path, "CONTINUED='other cand_s42'; stash_run $V2/cand_s42").returncode == 0
    assert sorted(p.name for p in (stash / "checkpoints").iterdir()) == ["last.ckpt"]
    subprocess.run(["rm", "-rf", str(tmp_path / "v2")], check=True)
    r = _bash(tmp_path, 'one $V2/cand_s42 - "seed=42"')  # restored finished: nothing is trained
    assert r.returncode == 0 and "restored" in r.stderr, r.stderr
    assert (run_dir / "best.safetensors").read_text() == "weights" and (run_dir / "thresholds" / "done_wilson").exists()
    assert not (tmp_path / "v2" / "cand_s42.log").read_text().count("drumtx.train")


def test_a_continuation_of_a_missing_run_stops_the_recipe(tmp_path, run_dir):
    r = _bash(tmp_path, 'one $V2/cont $V2/gone "seed=42"; echo still here')
    assert r.returncode == 1 and "gone/checkpoints/last.ckpt: missing" in r.stderr and "still here" not in r.stdout


def test_no_run_no_stash(tmp_path, run_dir):
    r = _bash(tmp_path, 'train_args $V2/other - "seed=43"; stash_run $V2/other')
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["seed=43"]
    assert not (tmp_path / "stash").exists()


def test_score_lanes_tunes_before_scoring_and_a_failing_lane_fails_the_recipe(tmp_path):
    """score_lanes: every run tuned before it is evaluated, the first in this shell and the others
    alternating between a second lane and this one, every run's comparison at the end; a failure
    in the second lane stops the recipe instead of being lost in the background."""
    stubs = (
        'tune() { echo "tune $1" >> calls; }; '
        'evaluate_rungs() { sleep 0.2; echo "eval $(basename "$(dirname "$1")")" >> calls; '
        '  [[ $BASHPID == $$ ]] && echo "$(basename "$(dirname "$1")")" >> here || true; }; '
        'score() { echo "score $1" >> calls; }; '
    )
    r = _bash(tmp_path, stubs + "score_lanes a b c")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "here").read_text().split() == ["c"]  # b in the second lane, c in this shell
    calls = (tmp_path / "calls").read_text().splitlines()
    for run in "bc":
        assert calls.index(f"tune {run}") < calls.index(f"eval {run}") < calls.index(f"score {run}")
    assert calls.index("tune a") < calls.index("score a")
    assert calls[-2:] == ["score b", "score c"] and sorted(calls) == sorted(
        ["tune a", "score a", "tune b", "tune c", "eval b", "eval c", "score b", "score c"])
    for failing in "bc":  # in the second lane, in this shell
        r = _bash(tmp_path, stubs.replace('tune() { echo "tune $1" >> calls; }',
                                          f'tune() {{ [[ $1 == {failing} ]] && return 3; echo "tune $1" >> calls; }}')
                  + "score_lanes a b c; echo after")
        assert r.returncode != 0 and "after" not in r.stdout, failing


def test_tune_takes_its_data_and_kits_from_the_recipe(tmp_path, run_dir):
    """tune RUN: data=$TUNE_DATA (synth_songs when unset) and the tracks of $TUNE_KITS, as the
    held-out-kit recipe sets them; a tuned run is left alone."""
    fake = tmp_path / "fakepy"
    fake.write_text('#!/bin/bash\necho "$@" >> "$(dirname "$0")/args"; mkdir -p "$V2/cand_s42/thresholds"\n')
    fake.chmod(0o755)
    r = _bash(tmp_path, f'PY={fake}; tune cand_s42; TUNE_DATA=synth_songs_heldout; '
                        "TUNE_KITS='data.fit_kit_names=[unseen:*,none+music]'; rm \"$V2/cand_s42/thresholds/done_wilson\"; "
                        "tune cand_s42; tune cand_s42")
    assert r.returncode == 0, r.stderr
    first, second = (tmp_path / "args").read_text().splitlines()
    assert "data=synth_songs " in first + " " and "data.fit_kit_names=[h2_*,sfz_*,none+music]" in first
    assert "data=synth_songs_heldout" in second and "data.fit_kit_names=[unseen:*,none+music]" in second


def test_a_crash_tuned_by_the_old_f_half_fallback_is_tuned_again_and_rescored(tmp_path, run_dir):
    """tune RUN: a run marked tuned whose crash missed its floor and took the best F0.5 (the rule
    before the surest setting) is tuned again and its reports removed; one whose sidecar records
    today's rule is left alone; scored says the first needs work."""
    fake = tmp_path / "fakepy"
    fake.write_text('#!/bin/bash\necho "$@" >> "$(dirname "$0")/args"; mkdir -p "$V2/cand_s42/thresholds"\n')
    fake.chmod(0o755)
    run = tmp_path / "v2" / "cand_s42"
    (run / "thresholds").mkdir(parents=True, exist_ok=True)
    (run / "thresholds" / "done_wilson").write_text("")
    (run / "eval_b_unseen_sampled_kits").mkdir(parents=True)
    (run / "eval_b_unseen_sampled_kits" / "metrics.json").write_text("{}")
    note = "no threshold holds precision >= 0.85 (the lower end of its 95% Wilson interval); {} (precision 0.528)"
    (run / "best.json").write_text(json.dumps({"note": note.format("took the best F0.5")}))
    r = _bash(tmp_path, f"PY={fake}; scored cand_s42 && echo scored; tune cand_s42")
    assert r.returncode == 0, r.stderr
    assert "scored" not in r.stdout and len((tmp_path / "args").read_text().splitlines()) == 1
    assert not (run / "eval_b_unseen_sampled_kits").exists()
    (run / "best.json").write_text(json.dumps({"note": note.format("took the surest setting (lower end 0.811)")}))
    r = _bash(tmp_path, f"PY={fake}; tune cand_s42")
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "args").read_text().splitlines()) == 1  # left alone


def test_heldout_arm_trains_both_seeds_and_tunes_on_the_held_out_kits(tmp_path, run_dir):
    """heldout_arm NAME OVERRIDES: the long arm's recipe on synth_songs_heldout plus OVERRIDES for
    seeds 42 and 43, then both runs tuned on the held-out kits (make default-model-v2-heldout)."""
    stubs = ('pair() { printf "%s\\n" "$@" > pair_args; }; pinned_v2() { :; }; '
             'score_lanes() { echo "$TUNE_DATA $TUNE_KITS $*" > lanes; }; ')
    r = _bash(tmp_path, stubs + "heldout_arm hardneg loss.crash_cymbal_negative_weight=5 trainer.x=1")
    assert r.returncode == 0, r.stderr
    args = (tmp_path / "pair_args").read_text().splitlines()
    assert args[0].endswith("/hardneg_w4_s42") and args[3].endswith("/hardneg_w4_s43") and args[1] == args[4] == "-"
    for seed, a in (("42", args[2]), ("43", args[5])):
        assert a.startswith(f"seed={seed} init_weights=null") and "max_steps=7000 data=synth_songs_heldout" in a
        assert a.endswith("loss.crash_cymbal_negative_weight=5")
    assert args[6:] == ["trainer.x=1"]
    assert (tmp_path / "lanes").read_text().split() == [
        "synth_songs_heldout", "data.fit_kit_names=[unseen:*,none+music]", "hardneg_w4_s42", "hardneg_w4_s43"]


def test_hardneg_continues_the_long_arm_with_a_control(tmp_path):
    """make default-model-v2-hardneg: each seed of the long arm continued from its last.ckpt to
    8,000 steps with the hard negatives and, as the control, without; all four tuned as the long
    arm was (synth_songs, the sampled kits), every run of the summary scored."""
    for seed in (42, 43):
        run = tmp_path / "v2" / f"long_w4_s{seed}"
        (run / "checkpoints").mkdir(parents=True)
        (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
        (run / "best.safetensors").write_bytes(b"x")
    script = REPO / "experiments" / "scripts" / "default_model_v2_hardneg.sh"
    # the recipe's commands stubbed: what it would train, tune and summarise
    stubs = ('pair() { printf "%s\\n" "$@" >> pair_args; echo --- >> pair_args; }; pinned_v2() { :; }; '
             'score_lanes() { echo "${TUNE_DATA:-synth_songs} $TUNE_KITS $*" > lanes; }; '
             'rung_summary() { printf "%s\\n" "$@" > summary; }; ')
    body = script.read_text().split('source "$(dirname "$0")/default_model_v2_common.sh"', 1)[1]
    body = body.replace('"$PY" -m drumtx.', ': ')
    r = _bash(tmp_path, stubs + body.replace('"$@"', "trainer.x=1"))
    assert r.returncode == 0, r.stderr
    pairs = [p.strip().splitlines() for p in (tmp_path / "pair_args").read_text().split("---") if p.strip()]
    assert [(Path(p[0]).name, Path(p[1]).name, Path(p[3]).name, Path(p[4]).name) for p in pairs] == [
        ("hardneg_w4_s42", "long_w4_s42", "hardneg_w4_s43", "long_w4_s43"),
        ("long8k_w4_s42", "long_w4_s42", "long8k_w4_s43", "long_w4_s43")]
    hard, control = pairs
    for p in pairs:
        assert p[2].endswith("max_steps=8000") or "max_steps=8000 " in p[2]
        assert "synth_songs_heldout" not in p[2] and p[6:] == ["trainer.x=1"]
    assert hard[2].endswith("loss.crash_cymbal_negative_weight=5") and "negative_weight" not in control[2]
    assert (tmp_path / "lanes").read_text().split() == [
        "synth_songs", "data.fit_kit_names=[h2_*,sfz_*,none+music]",
        "hardneg_w4_s42", "hardneg_w4_s43", "long8k_w4_s42", "long8k_w4_s43",
        "long_w4_s42", "long_w4_s43", "music_w4_s42"]  # every run of its summary (a fresh clone has no reports)
    assert "8k s42|long8k_w4_s42" in (tmp_path / "summary").read_text()
    # without the long arm (a clone whose stash lacks it) the recipe stops before training
    for seed in (42, 43):
        (tmp_path / "v2" / f"long_w4_s{seed}" / "best.safetensors").unlink()
    (tmp_path / "pair_args").unlink()
    r = _bash(tmp_path, stubs + body.replace('"$@"', "trainer.x=1"))
    assert r.returncode != 0 and "make default-model-v2-long first" in r.stderr
    assert not (tmp_path / "pair_args").exists()


def _beside_recipe(tmp_path: Path, name: str, base: str, env: str = ""):
    """A beside_arm recipe (default_model_v2_<name>.sh) ready to run on a fresh clone whose stash
    holds BASE's two seeds: its commands stubbed (pair, pinned_v2 and the scoring log what they
    would do), its python a logger. ENV: shell assignments before it (``DISTIL_WEIGHT=20``).
    Returns a function running it with one user override."""
    for seed in (42, 43):
        run = tmp_path / "stash" / f"{base}_w4_s{seed}"
        run.mkdir(parents=True)
        (run / "best.safetensors").write_bytes(b"x")
    stubs = ('pair() { echo pair >> order; printf "%s\\n" "$@" > pair_args; }; pinned_v2() { echo pinned >> order; }; '
             'score_lanes() { echo "$*" > lanes; }; rung_summary() { printf "%s\\n" "$@" > summary; }; '
             'rung_e() { echo "$1" > rung_e; }; ')
    fake = tmp_path / "fakepy"
    fake.write_text('#!/bin/bash\necho "$@" >> "$(dirname "$0")/py_calls"\n')
    fake.chmod(0o755)
    script = REPO / "experiments" / "scripts" / f"default_model_v2_{name}.sh"
    body = script.read_text().split('source "$(dirname "$0")/default_model_v2_common.sh"', 1)[1]
    return lambda: _bash(tmp_path, f"{env} PY={fake}; " + stubs + body.replace('"$@"', "trainer.x=1"))


@pytest.mark.parametrize("name, base, label, words", [
    ("warm", "electronic_long", "warm", {"optimizer.lr=3e-4", "callbacks.step_budget.max_steps=1200"}),
    ("filter", "electronic", "filter", {"callbacks.step_budget.max_steps=3500", "init_weights=null",
                                        "augmentation.filter_augment={gain_db:6,min_bands:3,max_bands:5,min_bandwidth:6}"}),
    ("leadsil", "electronic", "lead silence", {"callbacks.step_budget.max_steps=3500", "init_weights=null",
                                               "data.lead_silence_prob=0.1"}),
    ("distil", "electronic_long", "distil", {"optimizer.lr=3e-4", "callbacks.step_budget.max_steps=800",
                                             "distillation.heads=[crash]", "distillation.weight=5",
                                             "distillation.kits=[fluidr3_*,musescore_*,avl_*]",
                                             "distillation.skip_kits=[*+music]",
                                             "callbacks.model_checkpoint.monitor=time/train_seconds"})])
def test_an_arm_beside_a_trained_one_on_a_fresh_clone(tmp_path, name, base, label, words):
    """make default-model-v2-warm / -filter / -leadsil on a fresh clone: BASE's bundles come back
    from the stash (without them the recipe stops before any work); v2 is pinned before the
    trainings; both seeds train the electronic recipe with the arm's change, its data rendered
    and prepared only while a seed is untrained; v2, the new runs (one lane each) and BASE are
    scored and summarised, rung (e) too; finished runs in the stash are restored, not retrained."""
    run = _beside_recipe(tmp_path, name, base)
    r = run()
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "v2" / f"{base}_w4_s43" / "best.safetensors").is_file()  # restored
    assert (tmp_path / "order").read_text().split() == ["pinned", "pair"]
    args = (tmp_path / "pair_args").read_text().splitlines()
    assert [Path(args[0]).name, args[1], Path(args[3]).name, args[4]] == [f"{name}_w4_s42", "-", f"{name}_w4_s43", "-"]
    for seed, a in (("42", args[2]), ("43", args[5])):
        assert a.split()[0] == f"seed={seed}" and words <= set(a.split())
        assert {"data=synth_songs_electronic", "data.train_kit_weights={none+music:4}"} <= set(a.split())
    assert args[6:] == ["trainer.x=1"]
    assert (tmp_path / "lanes").read_text().split() == [
        "music_w4_s42", f"{name}_w4_s42", f"{name}_w4_s43", f"{base}_w4_s42", f"{base}_w4_s43"]
    assert f"{label} s43|{name}_w4_s43" in (tmp_path / "summary").read_text()
    assert (tmp_path / "rung_e").read_text().strip() == name
    calls = (tmp_path / "py_calls").read_text().splitlines()
    assert calls[:2] == ["-m drumtx.synth data=synth_songs_electronic workers=2", "-m drumtx.prepare data=synth_songs_electronic"]
    # both seeds trained and stashed: restored, and their training data neither rendered nor prepared
    for seed in (42, 43):
        (tmp_path / "stash" / f"{name}_w4_s{seed}").mkdir(parents=True)
        (tmp_path / "stash" / f"{name}_w4_s{seed}" / "best.safetensors").write_bytes(b"x")
    (tmp_path / "py_calls").unlink()
    r = run()
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "v2" / f"{name}_w4_s42" / "best.safetensors").is_file()
    assert "-m drumtx.synth data=synth_songs_electronic workers=2" not in (tmp_path / "py_calls").read_text().splitlines()
    # without BASE's stash the recipe stops before pinning or training
    for seed in (42, 43):
        for where in ("v2", "stash"):
            for run_name in (base, name):
                (tmp_path / where / f"{run_name}_w4_s{seed}" / "best.safetensors").unlink()
    (tmp_path / "order").unlink()
    r = run()
    assert r.returncode != 0 and f"make default-model-v2-{base.replace('_', '-')} first" in r.stderr
    assert not (tmp_path / "order").exists()


def test_warm_starts_from_the_pinned_v2(tmp_path):
    """The warm arm's one change: both seeds start from v2's pinned bundle, not from scratch."""
    r = _beside_recipe(tmp_path, "warm", "electronic_long")()
    assert r.returncode == 0, r.stderr
    for a in (tmp_path / "pair_args").read_text().splitlines()[2:6:3]:
        assert "init_weights=null" not in a.split()
        assert f"init_weights={tmp_path}/v2/music_w4_s42/best.safetensors" in a.split()


def test_distil_starts_each_seed_from_its_own_base_and_is_taught_by_the_pinned_v2(tmp_path):
    """The distillation arm: each seed's init_weights is its own electronic-long bundle (Hydra fills
    in ${seed}), the teacher v2's pinned bundle; the crash compared threshold-free at the end."""
    r = _beside_recipe(tmp_path, "distil", "electronic_long")()
    assert r.returncode == 0, r.stderr
    for a in (tmp_path / "pair_args").read_text().splitlines()[2:6:3]:
        assert "init_weights=null" not in a.split()
        assert f"init_weights={tmp_path}/v2/electronic_long_w4_s${{seed}}/best.safetensors" in a.split()
        assert f"distillation.teacher={tmp_path}/v2/music_w4_s42/best.safetensors" in a.split()
    calls = (tmp_path / "py_calls").read_text().splitlines()
    assert calls[-1] == (f"experiments/scripts/crash_pr_auc.py --root {tmp_path}/v2 music_w4_s42 electronic_long_w4_s42 "
                         "electronic_long_w4_s43 distil_w4_s42 distil_w4_s43")


def test_distil_with_another_weight_is_another_arm(tmp_path):
    """make default-model-v2-distil20: the same recipe with distillation.weight=20, its runs,
    summary and crash table named distil20 (the weight-5 arm's stay as they are)."""
    r = _beside_recipe(tmp_path, "distil", "electronic_long", env="DISTIL_WEIGHT=20")()
    assert r.returncode == 0, r.stderr
    args = (tmp_path / "pair_args").read_text().splitlines()
    assert [Path(args[0]).name, Path(args[3]).name] == ["distil20_w4_s42", "distil20_w4_s43"]
    for a in args[2:6:3]:
        assert "distillation.weight=20" in a.split() and "distillation.weight=5" not in a.split()
    assert "distil20 s43|distil20_w4_s43" in (tmp_path / "summary").read_text()
    assert (tmp_path / "rung_e").read_text().strip() == "distil20"
    calls = (tmp_path / "py_calls").read_text().splitlines()
    assert calls[-1].endswith("distil20_w4_s42 distil20_w4_s43")
    assert (tmp_path / "experiments" / "default_model_v2" / "distil20" / "crash_pr_auc.md").is_file()


def test_filter_compares_the_crash_threshold_free(tmp_path):
    r = _beside_recipe(tmp_path, "filter", "electronic")()
    assert r.returncode == 0, r.stderr
    calls = (tmp_path / "py_calls").read_text().splitlines()
    assert calls[-1] == (f"experiments/scripts/crash_pr_auc.py --root {tmp_path}/v2 music_w4_s42 electronic_w4_s42 "
                         "electronic_w4_s43 filter_w4_s42 filter_w4_s43")
    assert (tmp_path / "experiments" / "default_model_v2" / "filter" / "crash_pr_auc.md").is_file()


@pytest.mark.parametrize("name, data, extra", [
    ("tuned", "synth_songs_tuned", []), ("hybrid", "synth_songs_hybrid", []), ("ring", "synth_songs_ring", []),
    ("ring_nocrash", "synth_songs_ring_nocrash", []), ("electronic", "synth_songs_electronic", []),
    ("hardneg_scratch", "synth_songs", ["loss.crash_cymbal_negative_weight=5"])])
def test_a_data_arm_restores_the_candidate_and_trains_both_seeds_on_its_data(tmp_path, name, data, extra):
    """make default-model-v2-tuned / -hybrid / … on a fresh clone: the candidate's bundles come back
    from the stash, both seeds train from scratch on the arm's data (with the arm's own overrides
    before the user's), and all four runs are scored (score_lanes skips the rungs whose reports
    are here or stashed) before the summary beside the candidate."""
    for seed in (42, 43):
        run = tmp_path / "stash" / f"scratch_w4_s{seed}"
        run.mkdir(parents=True)
        (run / "best.safetensors").write_bytes(b"x")
    script = REPO / "experiments" / "scripts" / f"default_model_v2_{name}.sh"
    stubs = ('pair() { printf "%s\\n" "$@" > pair_args; }; pinned_v2() { :; }; '
             'score_lanes() { echo "$*" > lanes; }; rung_summary() { printf "%s\\n" "$@" > summary; }; ')
    fake = tmp_path / "fakepy"  # the recipe's python: each call logged, nothing run
    fake.write_text('#!/bin/bash\necho "$@" >> "$(dirname "$0")/py_calls"\n')
    fake.chmod(0o755)
    body = script.read_text().split('source "$(dirname "$0")/default_model_v2_common.sh"', 1)[1]
    r = _bash(tmp_path, f"PY={fake}; " + stubs + body.replace('"$@"', "trainer.x=1"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "v2" / "scratch_w4_s42" / "best.safetensors").is_file()  # restored
    args = (tmp_path / "pair_args").read_text().splitlines()
    assert [Path(args[0]).name, args[1], Path(args[3]).name, args[4]] == [f"{name}_w4_s42", "-", f"{name}_w4_s43", "-"]
    for seed, a in (("42", args[2]), ("43", args[5])):
        assert a.startswith(f"seed={seed} init_weights=null") and a.endswith(f"max_steps=3500 data={data}")
    assert args[6:] == [*extra, "trainer.x=1"]
    assert (tmp_path / "lanes").read_text().split() == [
        f"{name}_w4_s42", f"{name}_w4_s43", "scratch_w4_s42", "scratch_w4_s43"]
    calls = [c for c in (tmp_path / "py_calls").read_text().splitlines() if c.startswith("-m drumtx.")]
    assert calls[:4] == [f"-m drumtx.synth data={data} workers=2", f"-m drumtx.prepare data={data}",
                         "-m drumtx.synth data=synth_songs workers=2 splits=[validation,test]",  # to tune and score on
                         "-m drumtx.prepare data=synth_songs"]
    assert f"{name} s43|{name}_w4_s43" in (tmp_path / "summary").read_text()
    if name in ("tuned", "ring", "ring_nocrash", "hardneg_scratch"):  # a checkout with a synth_songs
        # render: the arm's tracks alike there are linked from it (not when the arm's data is
        # synth_songs itself); ring_nocrash prefers a synth_songs_ring render where there is one
        for folder in ("synth_songs", "synth_songs_ring"):
            recipe = tmp_path / "data" / folder / "synth_recipe.yaml"
            recipe.parent.mkdir(parents=True)
            recipe.write_text(f"name: {folder}\n")
            (tmp_path / "py_calls").unlink()
            r = _bash(tmp_path, f"PY={fake}; " + stubs + body.replace('"$@"', "trainer.x=1"))
            assert r.returncode == 0, r.stderr
            first = (tmp_path / "py_calls").read_text().splitlines()[0]
            reuse = f" reuse={tmp_path}/data/synth_songs" if name in ("tuned", "ring", "ring_nocrash") else ""
            if name == "ring_nocrash" and folder == "synth_songs_ring":
                reuse = f" reuse={tmp_path}/data/synth_songs_ring"
            assert first == f"-m drumtx.synth data={data} workers=2{reuse}"
    # both seeds trained (their bundles stashed): the arm's data is neither rendered nor prepared
    for seed in (42, 43):
        (tmp_path / "stash" / f"{name}_w4_s{seed}").mkdir(parents=True, exist_ok=True)
        (tmp_path / "stash" / f"{name}_w4_s{seed}" / "best.safetensors").write_bytes(b"x")
    (tmp_path / "py_calls").unlink()
    r = _bash(tmp_path, f"PY={fake}; " + stubs + body.replace('"$@"', "trainer.x=1"))
    assert r.returncode == 0, r.stderr
    data_calls = [c for c in (tmp_path / "py_calls").read_text().splitlines()
                  if c.split()[:3] in (["-m", "drumtx.synth", f"data={data}"], ["-m", "drumtx.prepare", f"data={data}"])]
    if data == "synth_songs":  # (its validation and test tracks, to tune and score on)
        assert data_calls == [f"-m drumtx.synth data={data} workers=2 splits=[validation,test]",
                              f"-m drumtx.prepare data={data}"]
    elif name == "electronic":  # its own rung's test split only
        assert data_calls == [f"-m drumtx.synth data={data} workers=2 splits=[test]",
                              f"-m drumtx.prepare data={data} splits=[test]"]
    else:
        assert data_calls == []
    if name != "electronic":
        assert len(calls) == 4
        return
    # rung (e), the unseen drum machines, drum-only and with music, for the shipped v2 (the ship
    # rule's reference) and the four runs; then C08
    evals = [c for c in calls if c.startswith("-m drumtx.evaluate")]
    assert len(evals) == 10 and all("data=synth_songs_electronic split=test" in c for c in evals)
    assert sum("kit_names=[unseen:gen_t*+music]" in c for c in evals) == 5
    assert sum("exclude_kit_names=[*+music]" in c for c in evals) == 5
    assert {Path(c.split("out_dir=")[1].split()[0]).parent.name for c in evals} == {
        "music_w4_s42", "scratch_w4_s42", "scratch_w4_s43", "electronic_w4_s42", "electronic_w4_s43"}
    assert calls[-1].startswith("-m drumtx.evaluation.summary -o experiments/default_model_v2/electronic/rung_e")
    cases = (tmp_path / "py_calls").read_text().splitlines()[-1]
    assert cases.startswith("experiments/cases/score_models.py") and "--only C08" in cases
    assert cases.count("--model") == 5


def test_candidate16k_trains_the_candidate_recipe_at_16_khz_and_scores_each_arm_at_its_rate(tmp_path):
    """make default-model-v2-candidate16k on a fresh clone: the 11 kHz candidate's bundles come
    back from the stash (and it stops, before any render, without them); both seeds train the
    candidate's recipe on synth_songs_32k with the 16 kHz features and nothing else changed; the
    16 kHz seeds are tuned and scored on synth_songs_32k (its training split rendered only while a
    seed trains); the 11 kHz arm joins the summary where its reports are at hand, and is scored on
    synth_songs only with SCORE_11K=1."""
    script = REPO / "experiments" / "scripts" / "default_model_v2_candidate16k.sh"
    stubs = ('pair() { printf "%s\\n" "$@" > pair_args; }; pinned_v2() { :; }; '
             'rung_summary() { printf "%s\\n" "$@" > summary; }; '
             'tune() { echo "tune $*" >> scored; }; '
             'evaluate_rungs() { echo "rungs $(basename "$(dirname "$1")") $3" >> scored; }; ')
    fake = tmp_path / "fakepy"  # the recipe's python: each call logged, nothing run
    fake.write_text('#!/bin/bash\necho "$@" >> "$(dirname "$0")/py_calls"\n')
    fake.chmod(0o755)
    body = script.read_text().split('source "$(dirname "$0")/default_model_v2_common.sh"', 1)[1]
    body = body.replace('"$@"', "trainer.x=1")

    def run(env=""):
        for f in ("py_calls", "scored", "summary"):
            (tmp_path / f).unlink(missing_ok=True)
        r = _bash(tmp_path, f"PY={fake}; {env} " + stubs + body)
        calls = (tmp_path / "py_calls").read_text().splitlines() if (tmp_path / "py_calls").exists() else []
        scored = sorted((tmp_path / "scored").read_text().splitlines()) if (tmp_path / "scored").exists() else []
        summary = (tmp_path / "summary").read_text().splitlines() if (tmp_path / "summary").exists() else []
        return r, calls, scored, summary

    def stash_bundles(prefix):  # both seeds' finished bundles in the stash
        for seed in (42, 43):
            d = tmp_path / "stash" / f"{prefix}_s{seed}"
            d.mkdir(parents=True, exist_ok=True)
            (d / "best.safetensors").write_bytes(b"x")

    def stash_reports(name, rungs):  # a run's rung reports in the stash
        for rung in rungs:
            (tmp_path / "stash" / name / f"eval_{rung}").mkdir(parents=True)
            (tmp_path / "stash" / name / f"eval_{rung}" / "metrics.json").write_text("{}")

    r, calls, _, _ = run()
    assert r.returncode != 0 and "make default-model-v2-candidate first" in r.stderr
    assert not calls and not (tmp_path / "pair_args").exists()
    stash_bundles("scratch_w4")
    r, calls, scored, summary = run()
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "v2" / "scratch_w4_s43" / "best.safetensors").is_file()  # restored
    args = (tmp_path / "pair_args").read_text().splitlines()
    assert [Path(args[0]).name, args[1], Path(args[3]).name, args[4]] == ["candidate16k_w4_s42", "-", "candidate16k_w4_s43", "-"]
    for seed, a in (("42", args[2]), ("43", args[5])):
        assert a.startswith(f"seed={seed} init_weights=null")
        assert a.endswith("max_steps=3500 data=synth_songs_32k features=logmel_16k features.n_fft=1350")
    assert args[6:] == ["trainer.x=1"]
    assert calls[:2] == ["-m drumtx.synth data=synth_songs_32k workers=2",
                         "-m drumtx.prepare data=synth_songs_32k features=logmel_16k features.n_fft=1350"]
    assert not any("data=synth_songs " in c or c.endswith("data=synth_songs") for c in calls)  # the 11 kHz arm's data: not without SCORE_11K
    sixteen = ["rungs candidate16k_w4_s42 synth_songs_32k", "rungs candidate16k_w4_s43 synth_songs_32k",
               "tune candidate16k_w4_s42 synth_songs_32k", "tune candidate16k_w4_s43 synth_songs_32k"]
    assert scored == sixteen
    arms16 = ["16 kHz s42|candidate16k_w4_s42", "16 kHz s43|candidate16k_w4_s43"]
    assert summary[0] == "candidate16k" and "beside" not in summary[1] and summary[2:] == arms16
    cases = calls[-1]
    assert cases.startswith("experiments/cases/score_models.py") and "--only C07,C08,C12" in cases
    assert cases.count("--model") == 4 and "candidate16k_w4_s43=" in cases
    # both 16 kHz seeds finished (stashed bundles): only validation and test are rendered
    stash_bundles("candidate16k_w4")
    r, calls, scored, summary = run()
    assert r.returncode == 0, r.stderr
    assert calls[:2] == ["-m drumtx.synth data=synth_songs_32k workers=2 splits=[validation,test]",
                         "-m drumtx.prepare data=synth_songs_32k features=logmel_16k features.n_fft=1350 splits=[validation,test]"]
    # SCORE_11K=1: synth_songs' validation and test rendered, the 11 kHz seeds scored there, four arms
    r, calls, scored, summary = run("SCORE_11K=1;")
    assert r.returncode == 0, r.stderr
    assert calls[2:4] == ["-m drumtx.synth data=synth_songs workers=2 splits=[validation,test]",
                          "-m drumtx.prepare data=synth_songs splits=[validation,test]"]
    assert scored == sorted(sixteen + ["rungs scratch_w4_s42 synth_songs", "rungs scratch_w4_s43 synth_songs",
                                       "tune scratch_w4_s42 synth_songs", "tune scratch_w4_s43 synth_songs"])
    arms11 = ["11 kHz s42|scratch_w4_s42", "11 kHz s43|scratch_w4_s43"]
    assert "beside the 11 kHz candidate" in summary[1] and summary[2:] == arms11 + arms16
    # the candidate's reports stashed on every rung (and tuned): in the summary, neither rendered nor scored
    rungs = _bash(tmp_path, 'for r in "${RUNGS[@]}"; do echo "${r%%|*}"; done').stdout.split()
    for name in ("scratch_w4_s42", "scratch_w4_s43"):
        stash_reports(name, rungs)
        (tmp_path / "v2" / name / "thresholds").mkdir()
        (tmp_path / "v2" / name / "thresholds" / "done_wilson").write_text("")
    r, calls, scored, summary = run()
    assert r.returncode == 0, r.stderr
    assert not any("data=synth_songs " in c or c.endswith("data=synth_songs") for c in calls) and scored == sixteen
    assert summary[2:] == arms11 + arms16
    assert (tmp_path / "v2" / "scratch_w4_s42" / "eval_b_unseen_sampled_kits" / "metrics.json").is_file()  # restored
    # the 16 kHz seeds tuned and scored too (their stash): nothing rendered, the summary written again
    for name in ("candidate16k_w4_s42", "candidate16k_w4_s43"):
        stash_reports(name, rungs)
        (tmp_path / "stash" / name / "thresholds").mkdir()
        (tmp_path / "stash" / name / "thresholds" / "done_wilson").write_text("")
        shutil.rmtree(tmp_path / "v2" / name)  # a fresh checkout
    r, calls, scored, summary = run()
    assert r.returncode == 0, r.stderr
    assert not any(c.startswith(("-m drumtx.synth", "-m drumtx.prepare")) for c in calls), calls
    assert summary[2:] == arms11 + arms16 and calls[-1].startswith("experiments/cases/score_models.py")


def test_a_finished_run_and_v1_stash_their_reports_without_figures(tmp_path, run_dir):
    for run in (run_dir, tmp_path / "v2" / "v1"):
        for rung in ("b_unseen_sampled_kits", "d_music_alone"):
            e = run / f"eval_{rung}"
            (e / "figures").mkdir(parents=True)
            for f in ("metrics.json", "curves.json", "report.md", "tracks.csv", "figures/pr.png"):
                (e / f).write_text(f"{run.name} {rung} {f}")
    (run_dir / "eval_half_done").mkdir()  # an evaluation that did not finish: no metrics.json
    (run_dir / "eval_half_done" / "tracks.csv").write_text("")
    # unfinished: no reports (they would score weights that are still training)
    assert _bash(tmp_path, "stash_run $V2/cand_s42").returncode == 0
    assert not list((tmp_path / "stash" / "cand_s42").glob("eval_*"))
    (run_dir / "best.safetensors").write_text("weights")
    r = _bash(tmp_path, "bash experiments/scripts/default_model_v2_stash.sh"
              .replace("experiments", f"{REPO}/experiments"))
    assert r.returncode == 0, r.stderr + r.stdout
    for run in ("cand_s42", "v1"):
        e = tmp_path / "stash" / run / "eval_b_unseen_sampled_kits"
        assert sorted(p.name for p in e.iterdir()) == ["curves.json", "metrics.json", "report.md", "tracks.csv"]
    assert not (tmp_path / "stash" / "cand_s42" / "eval_half_done").exists()
    assert not (tmp_path / "stash" / "v1" / "checkpoints").exists()
    # a fresh checkout: the run and v1's reports come back; a report here wins over the stash
    subprocess.run(["rm", "-rf", str(tmp_path / "v2")], check=True)
    (tmp_path / "v2" / "v1" / "eval_d_music_alone").mkdir(parents=True)
    (tmp_path / "v2" / "v1" / "eval_d_music_alone" / "metrics.json").write_text("here")
    r = _bash(tmp_path, 'restore_run $V2/cand_s42; scored v1 cand_s42 && echo scored || echo not')
    assert r.returncode == 0 and r.stdout.split() == ["not"], r.stderr  # (two rungs of five)
    assert (run_dir / "eval_d_music_alone" / "report.md").read_text() == "cand_s42 d_music_alone report.md"
    assert (tmp_path / "v2" / "v1" / "eval_b_unseen_sampled_kits" / "metrics.json").is_file()
    assert (tmp_path / "v2" / "v1" / "eval_d_music_alone" / "metrics.json").read_text() == "here"
    r = _bash(tmp_path, 'RUNGS=("b_unseen_sampled_kits|x" "d_music_alone|y"); scored v1 cand_s42 && echo scored')
    assert r.stdout.split() == [], "cand_s42 was never tuned"
    (run_dir / "thresholds").mkdir()
    (run_dir / "thresholds" / "done_wilson").write_text("")
    r = _bash(tmp_path, 'RUNGS=("b_unseen_sampled_kits|x" "d_music_alone|y"); scored v1 cand_s42 && echo scored')
    assert r.stdout.split() == ["scored"], r.stderr
    # stashing again from a checkout that holds fewer reports than the stash keeps the stash's
    subprocess.run(["rm", "-rf", str(tmp_path / "v2" / "v1" / "eval_b_unseen_sampled_kits"),
                    str(run_dir / "eval_b_unseen_sampled_kits")], check=True)
    assert _bash(tmp_path, "stash_reports $V2/v1; stash_run $V2/cand_s42").returncode == 0
    for run in ("cand_s42", "v1"):
        assert (tmp_path / "stash" / run / "eval_b_unseen_sampled_kits" / "metrics.json").is_file()
    assert (tmp_path / "stash" / "v1" / "eval_d_music_alone" / "metrics.json").read_text() == "here"


def test_the_crash_tuned_on_every_kit_family_is_stashed_with_its_run_and_restored(tmp_path, run_dir):
    """crash_tune_kits.sh's RUN/crash_all_kits (its setting and rung reports) travels with a finished
    run, so ship_rows.py and the script itself find it on a fresh clone (neither re-tunes nor re-scores)."""
    (run_dir / "best.safetensors").write_text("weights")
    out = run_dir / "crash_all_kits"
    (out / "thresholds").mkdir(parents=True)
    (out / "thresholds" / "thresholds.json").write_text('{"thresholds": {"crash": {"threshold": 0.5, "min_gap_s": 0.01}}}')
    (out / "validation.probs.npz").write_text("cache")  # (remade if ever needed: not stashed)
    (out / "eval_b_unseen_sampled_kits" / "figures").mkdir(parents=True)
    for f in ("metrics.json", "report.md", "figures/pr.png"):
        (out / "eval_b_unseen_sampled_kits" / f).write_text(f)
    assert _bash(tmp_path, "stash_run $V2/cand_s42").returncode == 0
    stash = tmp_path / "stash" / "cand_s42" / "crash_all_kits"
    assert sorted(str(p.relative_to(stash)) for p in stash.rglob("*") if p.is_file()) == [
        "eval_b_unseen_sampled_kits/metrics.json", "eval_b_unseen_sampled_kits/report.md", "thresholds/thresholds.json"]
    subprocess.run(["rm", "-rf", str(tmp_path / "v2")], check=True)
    # the script on a fresh clone: run and setting restored, only the rungs without a report scored
    # (its commands stubbed: what it would tune and evaluate)
    script = REPO / "experiments" / "scripts" / "crash_tune_kits.sh"
    body = script.read_text().split('source "$(dirname "$0")/default_model_v2_common.sh"', 1)[1]
    body = body.replace('"$PY" -m drumtx.', "rec drumtx.")
    r = _bash(tmp_path, 'rec() { echo "$1 $(printf "%s\\n" "$@" | grep out_dir=)" >> calls; }; '
                        'RUNGS=("b_unseen_sampled_kits|x" "d_music_alone|y"); '
                        f"crash_tune_kits() {{ {body}\n}}; crash_tune_kits cand_s42")
    assert r.returncode == 0, r.stderr
    assert "crash tuned on every kit family: {crash: {threshold: 0.5, min_gap_s: 0.01}}" in r.stdout
    assert (run_dir / "best.safetensors").read_text() == "weights"
    assert (out / "eval_b_unseen_sampled_kits" / "metrics.json").read_text() == "metrics.json"
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [f"drumtx.evaluate out_dir={out}/eval_d_music_alone"], calls  # no tuning, no rung (b)
    # a checkout that has the run but lost the folder: the folder alone comes back
    subprocess.run(["rm", "-rf", str(out), str(tmp_path / "calls")], check=True)
    r = _bash(tmp_path, 'rec() { echo "$1" >> calls; }; RUNGS=("b_unseen_sampled_kits|x"); '
                        f"crash_tune_kits() {{ {body}\n}}; crash_tune_kits cand_s42")
    assert r.returncode == 0 and not (tmp_path / "calls").exists(), r.stderr
    # a run neither here nor stashed: one line, exit 1, nothing run
    r = _bash(tmp_path, f"crash_tune_kits() {{ {body}\n}}; crash_tune_kits nosuch")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "nosuch: no trained bundle" in r.stderr
    assert not (tmp_path / "calls").exists()


def test_v1_is_pinned_only_where_used(tmp_path, run_dir):
    """Sourcing the recipes' library writes nothing (a usage error leaves no v1 folder); pinned_v1
    writes v1's bundle as it shipped at 61abc86."""
    shutil.rmtree(tmp_path / "v2")
    assert _bash(tmp_path, ":").returncode == 0 and not (tmp_path / "v2").exists()
    r = _bash(tmp_path, "pinned_v1; pinned_v1")
    assert r.returncode == 0, r.stderr
    v1 = tmp_path / "v2" / "v1"
    assert sorted(p.name for p in v1.iterdir()) == ["default_model.json", "default_model.safetensors"]
    shipped = subprocess.run(["git", "-C", str(REPO), "show", "61abc86:drumtx/assets/default_model.safetensors"],
                             capture_output=True, check=True).stdout
    assert (v1 / "default_model.safetensors").read_bytes() == shipped


def test_distil_on_sampled_kits_too_is_another_arm(tmp_path):
    """DISTIL_SAMPLED=1: the teacher also on the sampled kits' drum-only crops (h2_*, sfz_*), an
    arm of its own (distil80sampled), the sound-font arm's runs left as they are."""
    r = _beside_recipe(tmp_path, "distil", "electronic_long", env="DISTIL_WEIGHT=80 DISTIL_SAMPLED=1")()
    assert r.returncode == 0, r.stderr
    args = (tmp_path / "pair_args").read_text().splitlines()
    assert [Path(args[0]).name, Path(args[3]).name] == ["distil80sampled_w4_s42", "distil80sampled_w4_s43"]
    for a in args[2:6:3]:
        assert {"distillation.weight=80", "distillation.kits=[fluidr3_*,musescore_*,avl_*,h2_*,sfz_*]",
                "distillation.skip_kits=[*+music]"} <= set(a.split())
    assert "distil80sampled s43|distil80sampled_w4_s43" in (tmp_path / "summary").read_text()
    assert (tmp_path / "rung_e").read_text().strip() == "distil80sampled"


def test_distil_ship_restores_the_chosen_seed_gates_it_and_ships_it_with_the_gate(tmp_path):
    """make default-model-v2-distil-ship on a fresh clone: the chosen seed comes back from the
    stash, is scored with v2's presence gate on every rung, and is shipped with that gate; without
    the run it stops before anything is scored or shipped."""
    run = tmp_path / "stash" / "distil80sampled_w4_s43"
    run.mkdir(parents=True)
    (run / "best.safetensors").write_bytes(b"x")
    for kind in ("eval", "presence_eval"):  # (the scoring is stubbed: its music-alone reports as written)
        (run / f"{kind}_d_music_alone").mkdir()
        (run / f"{kind}_d_music_alone" / "report.md").write_text(f"False positives per minute: {kind}\n")
    stubs = ('pinned_v2() { echo pinned >> order; }; evaluate_rungs() { echo "evaluate $*" >> order; }; '
             'ship() { printf "%s\\n" "$@" > ship_args; echo ship >> order; }; ')
    fake = tmp_path / "fakepy"
    fake.write_text('#!/bin/bash\necho "$@" >> "$(dirname "$0")/py_calls"\n')
    fake.chmod(0o755)
    body = (REPO / "experiments" / "scripts" / "default_model_v2_distil_ship.sh").read_text()
    body = body.split('source "$(dirname "$0")/default_model_v2_common.sh"', 1)[1]
    script = f"PY={fake}; " + stubs + body
    r = _bash(tmp_path, script)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "v2" / "distil80sampled_w4_s43" / "best.safetensors").is_file()  # restored
    order = (tmp_path / "order").read_text().splitlines()
    assert order[0] == "pinned" and order[-1] == "ship"
    assert order[1].startswith(f"evaluate {tmp_path}/v2/distil80sampled_w4_s43/best.safetensors "
                               f"{tmp_path}/v2/distil80sampled_w4_s43/presence_eval synth_songs "
                               "inference.presence_confidence=0.8")
    args = (tmp_path / "ship_args").read_text().splitlines()
    assert args[0] == f"{tmp_path}/v2/distil80sampled_w4_s43" and "--presence" in args and "0.8" in args
    assert "False positives per minute: presence_eval" in (
        tmp_path / "experiments" / "default_model_v2" / "distil80sampled" / "presence" / "music_alone.txt").read_text()
    # without the run (a stash that lacks it) the recipe stops before scoring or shipping
    for where in ("v2", "stash"):
        (tmp_path / where / "distil80sampled_w4_s43" / "best.safetensors").unlink()
    (tmp_path / "order").unlink()
    r = _bash(tmp_path, script)
    assert r.returncode != 0 and "make default-model-v2-distil (DISTIL_WEIGHT=80 DISTIL_SAMPLED=1) first" in r.stderr
    assert not (tmp_path / "order").exists()


def test_distil_with_more_steps_is_another_arm(tmp_path):
    """DISTIL_STEPS=4000: the shipped recipe (weight 80, taught on the sampled kits too) trained
    4,000 steps, its runs named distil80sampled4k; a count that is not a number stops the recipe."""
    r = _beside_recipe(tmp_path, "distil", "electronic_long",
                       env="DISTIL_WEIGHT=80 DISTIL_SAMPLED=1 DISTIL_STEPS=4000")()
    assert r.returncode == 0, r.stderr
    args = (tmp_path / "pair_args").read_text().splitlines()
    assert [Path(args[0]).name, Path(args[3]).name] == ["distil80sampled4k_w4_s42", "distil80sampled4k_w4_s43"]
    for a in args[2:6:3]:
        assert "callbacks.step_budget.max_steps=4000" in a.split() and "distillation.weight=80" in a.split()
    (tmp_path / "b").mkdir()
    r = _beside_recipe(tmp_path / "b", "distil", "electronic_long", env="DISTIL_STEPS=4k")()
    assert r.returncode == 2 and "DISTIL_STEPS must be a whole number of steps, got '4k'" in r.stderr
