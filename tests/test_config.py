"""The Hydra config tree: every option of every group composes, and every _target_ exists."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_method
from omegaconf import OmegaConf

from drumtx import CONF_DIR, PROJECT_ROOT

# Groups whose options are chosen on the train command line: those of train.yaml's defaults
# list. `hydra` is Hydra's own group and `hparams_search` switches Hydra's sweeper; both are
# composed in their own tests. (conf/ also holds data tables such as kits/ and label_maps/.)
_TRAIN_DEFAULTS = OmegaConf.load(CONF_DIR / "train.yaml").defaults
GROUPS = sorted(
    next(iter(d)) for d in _TRAIN_DEFAULTS
    if OmegaConf.is_dict(d) and next(iter(d)) not in ("hydra", "hparams_search", "experiment")
    and not next(iter(d)).startswith("override ")  # `override hydra/help: train` picks the --help text
)
ENTRY_CONFIGS = sorted(p.stem for p in CONF_DIR.glob("*.yaml"))


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose_train(overrides: list[str], config_name: str = "train"):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


def resolved(cfg) -> dict:
    """The job config with every interpolation resolved (Hydra's own node left out: its sweep
    keys only exist inside a multirun)."""
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return OmegaConf.to_container(job, resolve=True, throw_on_missing=False)


def targets_in(node) -> list[str]:
    found = []
    if OmegaConf.is_dict(node):
        for key, value in node.items_ex(resolve=False) if hasattr(node, "items_ex") else node.items():
            if key == "_target_" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(targets_in(value))
    elif OmegaConf.is_list(node):
        for value in node:
            found.extend(targets_in(value))
    return found


CASES = [(g, o) for g in GROUPS for o in options(g)]


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_every_option_composes_and_its_targets_exist(group, option):
    cfg = compose_train([f"{group}={option}"])
    node = cfg[group]
    for target in targets_in(node):
        get_method(target)  # raises if the class or function does not exist
    # Interpolations resolve (required `???` values of templates like data/base excepted).
    container = resolved(cfg)
    assert group in container


def test_every_group_has_a_real_option():
    for group in [*GROUPS, "hparams_search", "hydra"]:
        assert options(group), f"conf/{group} has no option"


@pytest.mark.parametrize("name", ENTRY_CONFIGS)
def test_entry_configs_compose(name):
    resolved(compose_train([], config_name=name))


def test_experiment_presets_are_found_through_the_search_path():
    presets = sorted(p.stem for p in (PROJECT_ROOT / "experiments" / "experiment").glob("*.yaml"))
    assert presets, "experiments/experiment/ holds no preset"
    for preset in presets:
        compose_train([f"experiment={preset}"])


def test_loss_weight_override_lands():
    cfg = compose_train(["branches=five_branch", "loss.crash=0.6", "loss.kick=2.0"])
    assert cfg.loss.crash == 0.6 and cfg.loss.kick == 2.0


def run_train(*args):
    return subprocess.run(
        [sys.executable, "-m", "drumtx.train", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=180
    )


def test_cli_help_and_cfg_job():
    out = run_train("--help")
    assert out.returncode == 0, out.stderr
    assert "branches: flat, five_branch" in out.stdout or "five_branch" in out.stdout
    out = run_train("branches=five_branch", "loss.crash=0.6", "--cfg", "job")
    assert out.returncode == 0, out.stderr
    assert "crash: 0.6" in out.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [("init_weights=/nonexistent.safetensors", "drumtx.train: init_weights: /nonexistent.safetensors: no such checkpoint file"),
     ("data.root=/nonexistent", "drumtx.train: /nonexistent: dataset root missing (set data.root)"),
     # issue 20: was a bare AssertionError from Lightning, naming no key
     ("trainer.max_epochs=abc", "drumtx.train: trainer.max_epochs='abc': expected an integer >= -1 or null")],
)
def test_bad_input_to_train_is_one_line(override, message, tmp_path, egmd_fixture):
    # the data is checked first (the other cases' data is sound)
    out = run_train("data=egmd", f"data.root={egmd_fixture}", f"data.cache_dir={tmp_path / 'cache'}", "logger=none",
                    f"hydra.run.dir={tmp_path}", override)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == message and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [(["data.root=/nonexistent"], "/nonexistent: dataset root missing (set data.root)"),
     (["data.fit_kit_names=[nomatch_*]"], "data.fit_kit_names=['nomatch_*'] matches no train track's kit_name"),
     (["data.train_kit_weights={nomatch: 4}"], "data.train_kit_weights: ['nomatch'] match no training track's kit_name"),
     (["data.auto_prepare=false"], "run python -m drumtx.prepare")],
)
def test_bad_data_is_refused_before_the_model_and_loggers(overrides, message, egmd_fixture, tmp_path, monkeypatch):
    """A fresh user's trial: with the default W&B logger (offline) and the CSV log beside it, a
    refusal came after the parameter table and left a run folder holding wandb/ and csv/."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    run = tmp_path / "outputs" / "run"
    out = run_train("data=egmd", f"data.root={egmd_fixture}", f"data.cache_dir={tmp_path / 'cache'}",
                    f"hydra.run.dir={run}", *overrides)
    assert out.returncode == 2, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("drumtx.train: ") and message in last and "Traceback" not in out.stderr
    # no chatter before it (a new user's trial: Lightning's "Seed set to 42" came first); the
    # feature cache's progress bar is work done, kept for the rerun
    assert not [line for line in out.stderr.strip().splitlines()[:-1] if line.strip() and "track/s" not in line]
    assert "Seed set" not in out.stdout + out.stderr
    assert "parameters (" not in out.stdout and "wandb" not in out.stdout + out.stderr
    assert not run.exists() and not (tmp_path / "outputs").exists()


def test_a_synth_recipe_not_rendered_yet_says_how_to_render_it(tmp_path):
    """A new user's trial: train, prepare, stats and evaluate on data=synth_default before
    rendering it said "dataset root missing (set data.root)"."""
    from drumtx.data.datasets import DatasetError, build_index

    cfg = compose_train(["data=synth_default", f"paths.data_dir={tmp_path}"])
    with pytest.raises(DatasetError, match=rf"^{tmp_path}/synth_default: not rendered yet; render it with "
                                           r"python -m drumtx.synth data=synth_default \(or set data.root"):
        build_index(cfg.data)
    # and through the data module train builds (it dropped the recipe: "dataset root missing")
    from drumtx.train import build_datamodule

    with pytest.raises(DatasetError, match="not rendered yet; render it with python -m drumtx.synth data=synth_default"):
        build_datamodule(cfg).setup("fit")
    # a root of the user's own: the command renders there (a new user's try: it named the default root's)
    own = compose_train(["data=synth_default", f"data.root={tmp_path}/my renders/a"])
    with pytest.raises(DatasetError, match=rf"render it with python -m drumtx.synth data=synth_default "
                                           rf"data.root='{tmp_path}/my renders/a' \(or set"):
        build_index(own.data)


def test_lightnings_lines_come_after_the_data_is_set_up(egmd_fixture, tmp_path):
    """The Trainer is built before the data (its values are refused before the feature cache is
    built); its "GPU available: …" lines are held back until the data is set up, not lost."""
    out = run_train("data=egmd", f"data.root={egmd_fixture}", f"data.cache_dir={tmp_path / 'cache'}",
                    f"hydra.run.dir={tmp_path / 'run'}", "trainer.fast_dev_run=true", "evaluation.onset_metrics=false",
                    "logger=none", "csv_log=false")
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    assert "GPU available:" in text and text.index("GPU available:") > text.index("prepare ")


@pytest.mark.parametrize(
    ("override", "message"),
    [("branches=fivebranch", "Could not find 'branches/fivebranch'"), ("loss.crsh=0.6", "Could not override 'loss.crsh'")],
)
def test_typos_fail_with_hydras_message(override, message):
    out = run_train(override, "--cfg", "job")
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.max_epochs=abc", "trainer.max_epochs='abc': expected an integer >= -1 or null"),
        ("trainer.max_epochs=2.5", "trainer.max_epochs=2.5: expected an integer >= -1 or null"),
        # peak picking: the short form made a mapping; ranges as transcribe's --thresholds
        ("evaluation.thresholds={crash:{threshold:1.7}}", "evaluation.thresholds.crash threshold must be in (0, 1], got 1.7"),
        ("evaluation.thresholds={kick:{min_gap_s:-3}}", "evaluation.thresholds.kick min_gap_s must be in [0, 10) s, got -3"),
        ("evaluation.thresholds={kick:abc}", "evaluation.thresholds.kick must be a number or {threshold, min_gap_s}"),
        ("evaluation.thresholds=0.5", "evaluation.thresholds=0.5: expected a mapping {instrument: threshold"),
        # Lightning takes these, trains nothing and exits 0 without a model (a new user's trial)
        ("trainer.max_epochs=0", "trainer.max_epochs=0: trains nothing (-1: no limit)"),
        ("trainer.max_steps=0", "trainer.max_steps=0: trains nothing (-1: no limit)"),
        ("trainer.limit_train_batches=0", "trainer.limit_train_batches=0: trains nothing"),
        ("optimizer.lr=1e-3x", "optimizer.lr='1e-3x': expected a finite number > 0"),
        ("optimizer.lr=0", "optimizer.lr=0: expected a finite number > 0"),
        ("loss.crash=-1", "loss.crash=-1: expected a finite number >= 0"),
        ("loss.kick=abc", "loss.kick='abc': expected a finite number >= 0"),
        ("data.batch_size=0", "data.batch_size=0: expected an integer >= 1"),
        ("trainer.limit_train_batches=1.5", "trainer.limit_train_batches=1.5: expected a fraction in [0, 1]"),
        ("evaluation.onset_metrics=maybe", "evaluation.onset_metrics='maybe': expected true or false"),
        ("branches.velocity=1", "branches.velocity=1: expected true or false"),
        ("branches.hit_prior=1", "branches.hit_prior=1: expected a finite number > 0 and < 1 or null"),
        ("data.train_kit_weights={none+music:0}",
         "data.train_kit_weights={'none+music': 0}: expected a mapping {name: number} > 0 or null"),
        ("data.train_kit_weights=4", "data.train_kit_weights=4: expected a mapping {name: number} > 0 or null"),
        ("data.train_kit_weights={x:true}", "data.train_kit_weights={'x': True}: expected a mapping"),
        ("data.train_kit_weights={x:null}", "data.train_kit_weights={'x': None}: expected a mapping"),
        ("augmentation.filter_augment={gain_db:-3,min_bands:2,max_bands:4}",
         "augmentation.filter_augment.gain_db=-3: expected a finite number >= 0"),
        ("augmentation.filter_augment={gain_db:6,min_bands:0,max_bands:4}",
         "augmentation.filter_augment.min_bands=0: expected an integer >= 1"),
        ("augmentation.filter_augment={gain_db:6,min_bands:5,max_bands:4}",
         "augmentation.filter_augment={'gain_db': 6, 'min_bands': 5, 'max_bands': 4}: expected min_bands <= max_bands"),
        ("augmentation.filter_augment={gain_db:6,min_band:3,max_bands:4}",
         "augmentation.filter_augment={'gain_db': 6, 'min_band': 3, 'max_bands': 4}: unknown min_band; expected a mapping"),
        ("augmentation.filter_augment={gain_db:6}",
         "augmentation.filter_augment={'gain_db': 6}: missing max_bands; expected a mapping"),
        ("augmentation.filter_augment=6", "augmentation.filter_augment=6: expected a mapping of gain_db, min_bands"),
        ("augmentation.filter_augment=max_bands:5", "augmentation.filter_augment='max_bands:5': expected a mapping"),
        ("augmentation.band_limit={prob:1.5,min_hz:3500,max_hz:10500}",
         "augmentation.band_limit.prob=1.5: expected a finite number >= 0 and <= 1"),
        ("augmentation.band_limit={prob:0.2,min_hz:9000,max_hz:4000}",
         "augmentation.band_limit={'prob': 0.2, 'min_hz': 9000, 'max_hz': 4000}: expected min_hz <= max_hz"),
        ("augmentation.band_limit={prob:0.2,max_hz:4000}",
         "augmentation.band_limit={'prob': 0.2, 'max_hz': 4000}: missing min_hz"),
        # names from a fixed set (a typo was trained on, or failed deep in the data or the trainer)
        ("data.targets.collision=shfit", "data.targets.collision='shfit': expected one of shift, priority (did you mean shift?)"),
        ("data.targets.cross_stick=rim", "data.targets.cross_stick='rim': expected one of snare_rim, snare_head, ignore"),
        ("data.note_map=roland", "data.note_map='roland': expected one of roland_td17, general_midi (did you mean roland_td17?)"),
        ("scheduler.mode=maxx", "scheduler.mode='maxx': expected one of min, max (did you mean max?)"),
        ("callbacks.early_stopping.mode=maximum", "callbacks.early_stopping.mode='maximum': expected one of min, max"),
        ("loss.shared_weights.hihat_variation=cymbal_variaton", "loss.shared_weights.hihat_variation='cymbal_variaton': "
         "expected one of kick, snare, tom_primary, tom_variation, cymbal_primary, cymbal_variation, crash, hihat_pedal "
         "(did you mean cymbal_variation?)"),
        # an order that is not the slot's members: every track was skipped while the cache filled
        ("data.targets.priority.cymbal=[ride,hihat_opn]", "data.targets: priority.cymbal must list exactly "
         "['hihat_closed', 'hihat_open', 'ride', 'ride_bell'] in some order"),
        ("ckpt_path=/nonexistent/last.ckpt", "ckpt_path='/nonexistent/last.ckpt': no such file"),
        ("ckpt_path=lats", "ckpt_path='lats': no such file (did you mean last?)"),
        ("distillation.teacher=defualt", "distillation.teacher='defualt': no such file (did you mean default?)"),
        ("distillation.weight=0", "distillation.weight=0: expected a finite number > 0"),
        ("distillation.kits=3", "distillation.kits=3: expected a list of names or null"),
        # a metric nothing logs failed after the first epoch, in the checkpoint callback (44 lines)
        ("optimized_metric=val/pr_auc_meen", "optimized_metric='val/pr_auc_meen': not a metric the training logs "
         "(did you mean val/pr_auc_mean?)"),
        ("callbacks.early_stopping.monitor=val/los", "callbacks.early_stopping.monitor='val/los': not a metric the "
         "training logs (did you mean val/loss?)"),
        ("augmentation.filter_augment={gain_db:100,max_bands:4}",
         "augmentation.filter_augment.gain_db=100: expected a finite number >= 0 and <= 24"),
    ],
)
def test_config_values_are_typed_and_range_checked_naming_the_key(override, message):
    """Issue 20: bad values failed deep in Lightning/torch naming no key, or trained (loss.crash=-1)."""
    from drumtx.config_schema import ConfigValueError, validate

    with pytest.raises(ConfigValueError) as err:
        validate(compose_train([override]))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_peak_picking_overrides_take_transcribes_short_form():
    """A new user's trial: evaluate 'thresholds={kick: 0.4}' (the form transcribe --thresholds
    takes) crashed with AttributeError; a threshold of 1.7 was used without a word."""
    from drumtx.config_schema import validate

    cfg = validate(compose_train(["evaluation.thresholds={kick:0.4,crash:{threshold:0.7,min_gap_s:0.1}}"]))
    assert OmegaConf.to_container(cfg.evaluation.thresholds) == {
        "kick": {"threshold": 0.4}, "crash": {"threshold": 0.7, "min_gap_s": 0.1}}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("+data.typo=3", "data.typo: not a setting of drumtx.data.datamodule.DrumDataModule (it takes name, root,"),
        ("+data.crop_secnds=2",
         "data.crop_secnds: not a setting of drumtx.data.datamodule.DrumDataModule (did you mean data.crop_seconds?)"),
        ("+encoder.rnn_hiden=64", "encoder.rnn_hiden: not a setting of drumtx.models.encoder.CRNNEncoder (did you mean encoder.rnn_hidden?)"),
        ("+features.n_melz=64", "features.n_melz: not a setting of drumtx.features.LogMel (did you mean features.n_mels?)"),
        # nested sections (a new-user trial: these trained on with the defaults, or failed late)
        ("+augmentation.time_mask.max_widht=3", "augmentation.time_mask.max_widht: not a setting of the "
         "augmentation.time_mask section (did you mean augmentation.time_mask.max_width?)"),
        ("+branches.heads.kick.hiden=[64]", "branches.heads.kick.hiden: not a setting of the branches.heads.* section "
         "(did you mean branches.heads.kick.hidden?)"),
        ("+data.targets.hihat_pedl=true", "data.targets.hihat_pedl: not a setting of the data.targets section "
         "(did you mean data.targets.hihat_pedal?)"),
        ("+evaluation.onset_windw=0.1", "evaluation.onset_windw: not a setting of the evaluation section "
         "(did you mean evaluation.onset_window?)"),
        ("data=synth_default +data.synth.sources.generated.groove.fil=0.5", "data.synth.sources.generated.groove.fil: "
         "not a setting of the data.synth.sources.*.groove section (did you mean data.synth.sources.generated.groove.fill?)"),
        ("data=folder +data.folder_split.sed=1", "data.folder_split.sed: not a setting of the data.folder_split "
         "section (did you mean data.folder_split.seed?)"),
        ("+paths.data_dri=/tmp/x", "paths.data_dri: not a setting of the paths section (did you mean paths.data_dir?)"),
        ("+data.splits.tset=test", "data.splits.tset: not a setting of the data.splits section (did you mean "
         "data.splits.test?)"),
        # name-keyed maps: a head target, an instrument, a slot (a typo was read by nothing)
        ("+loss.shared_weights.hihat_variaton=crash", "loss.shared_weights.hihat_variaton: not a setting of the "
         "loss.shared_weights section (did you mean loss.shared_weights.hihat_variation?)"),
        ("+loss.flat_weights.kik=kick", "loss.flat_weights.kik: not a setting of the loss.flat_weights section "
         "(did you mean loss.flat_weights.kick?)"),
        ("+data.targets.priority.toms=[tom_floor,tom_mid,tom_high]", "data.targets.priority.toms: not a setting of "
         "the data.targets.priority section (did you mean data.targets.priority.tom?)"),
        # the loggers' **kwargs go to wandb.init and TensorBoard's SummaryWriter: checked against those
        ("logger=wandb +logger.entitty=me", "logger.entitty: not a setting of lightning.pytorch.loggers.WandbLogger "
         "(did you mean logger.entity?)"),
        ("logger=tensorboard +logger.flush_sec=5", "logger.flush_sec: not a setting "
         "of lightning.pytorch.loggers.TensorBoardLogger (did you mean logger.flush_secs?)"),
        ("+evaluation.thresholds.kik.threshold=0.3", "evaluation.thresholds.kik: not a setting of the "
         "evaluation.thresholds section (did you mean evaluation.thresholds.kick?)"),
        ("+evaluation.thresholds.kick.treshold=0.3", "evaluation.thresholds.kick.treshold: not a setting of the "
         "evaluation.thresholds.* section (did you mean evaluation.thresholds.kick.threshold?)"),
        # a callback that is not there: nothing would run it
        ("+callbacks.step_budgt.max_steps=1", "callbacks.step_budgt: no such callback here, nothing would run it "
         "(did you mean callbacks.step_budget?)"),
        ("callbacks=none +callbacks.step_budget.max_steps=1", "callbacks.step_budget: no such callback here, nothing "
         "would run it (this config's callbacks: none)"),
        # drumtx's Checkpoints passes its **kwargs to Lightning's ModelCheckpoint: checked against both
        ("+callbacks.model_checkpoint.save_top_kk=2", "callbacks.model_checkpoint.save_top_kk: not a setting of "
         "drumtx.models.callbacks.Checkpoints (did you mean callbacks.model_checkpoint.save_top_k?)"),
        # what the command sets itself would be overridden without a word
        ("+branches.hihat_pedal=true", "branches.hihat_pedal: set by drumtx from data.targets.hihat_pedal, not in the config"),
        ("+trainer.logger=false", "trainer.logger: set by drumtx from the logger group, not in the config"),
        ("scheduler=none +scheduler.eta_min=0.1", "scheduler.eta_min: scheduler=none has no settings"),
    ],
)
def test_a_key_no_target_takes_is_refused(override, message):
    """Hydra's ``+key=value`` adds any key; before, ``+data.typo=3`` trained on with the default
    because the data module swallowed unknown keys."""
    from drumtx.config_schema import ConfigValueError, validate

    with pytest.raises(ConfigValueError) as err:
        validate(compose_train(override.split()))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "overrides",
    [
        ["data=synth_songs", "+data.synth.production.cymbal_kit_prob=0.5"],  # a recipe's free-form section
        ["+trainer.detect_anomaly=true"],  # a real Trainer argument the config leaves out
        ["+callbacks.step_budget.max_steps=10"],
        ["loss.shared_weights.ride_variation=cymbal_primary"],
        ["ckpt_path=last"],  # Lightning's: the run's newest checkpoint
        ["optimized_metric=val/inst/crash/pr_auc"],
        ["optimized_metric=val/loss_crash"],
        ["optimized_metric=val/onset_f_micro"],
        ["callbacks.model_checkpoint.monitor=const"],  # close to none: a callback of the user's may log it
        ["data.targets.priority.tom=[tom_mid,tom_floor,tom_high]"],
        ["+callbacks.model_checkpoint.every_n_epochs=2"],  # ModelCheckpoint's, through Checkpoints' **kwargs
        ["logger=wandb", "+logger.entity=me"],  # wandb.init's, through the logger's **kwargs
        ["logger=tensorboard", "+logger.flush_secs=5"],  # SummaryWriter's, through the logger's **kwargs
        ["+callbacks.summary._target_=lightning.pytorch.callbacks.ModelSummary", "+callbacks.summary.max_depth=2"],
    ],
)
def test_a_real_added_key_still_passes(overrides):
    from drumtx.config_schema import validate

    validate(compose_train(overrides))


def test_every_option_and_preset_passes_validation():
    from drumtx.config_schema import validate

    for group in GROUPS:
        for option in options(group):
            validate(compose_train([f"{group}={option}"]))
    for preset in sorted(p.stem for p in (PROJECT_ROOT / "experiments" / "experiment").glob("*.yaml")):
        validate(compose_train([f"experiment={preset}"]))


def test_a_string_where_a_list_is_expected_is_a_one_item_list():
    """Issue 20: data.fit_kit_names=fluidr3_* (no brackets) was iterated letter by letter and
    trained on every kit; evaluate kit_names=unseen:* scored every track."""
    from drumtx.config_schema import validate
    from drumtx.data.datasets import kit_filter

    cfg = validate(compose_train(["data.fit_kit_names=fluidr3_*", "tags=smoke"]))
    assert list(cfg.data.fit_kit_names) == ["fluidr3_*"] and list(cfg.tags) == ["smoke"]
    assert kit_filter({"kit_name": "unseen:timgm6mb"}, "unseen:*", None)
    assert not kit_filter({"kit_name": "fluidr3_standard"}, "unseen:*", None)  # was kept: "*" is one of the letters
    assert kit_filter({"kit_name": "fluidr3_standard"}, None, "unseen:*")
    assert not kit_filter({"kit_name": "unseen:timgm6mb"}, None, "unseen:*")


def _schema(name: str):
    from drumtx import config_schema

    return {"prepare": config_schema.PREPARE, "stats": config_schema.STATS, "evaluate": config_schema.EVALUATE,
            "tune_thresholds": config_schema.TUNE_THRESHOLDS, "synth": config_schema.SYNTH}[name]


COMMAND_CONFIGS = ["evaluate", "prepare", "stats", "synth", "tune_thresholds"]


def _leaves(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.mark.parametrize("name", COMMAND_CONFIGS)
def test_every_typed_key_of_a_command_config_is_in_its_schema(name):
    """Issue 20 for every command: each number, bool and list of the entry config as composed (and of
    each data/features/augmentation/inference option it can take) is checked before the command runs
    (the synthesis recipe, data.synth, is drumtx.synth's own to check)."""
    from drumtx.config_schema import validate

    schema = _schema(name)
    groups = [g for g in ("data", "features", "augmentation", "inference")
              if any(OmegaConf.is_dict(d) and g in d for d in OmegaConf.load(CONF_DIR / f"{name}.yaml").defaults)]
    runs = [[f"{g}={o}"] for g in groups for o in options(g) if not o.startswith("base")]
    for overrides in runs or [[]]:
        if name == "tune_thresholds" and not any(o.startswith("data=") for o in overrides):
            overrides = [*overrides, "data=synth_default"]  # data: null there (the checkpoint's)
        cfg = compose_train(overrides, config_name=name)
        validate(cfg, schema)  # every option passes
        job = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=False)
        unchecked = [
            key for key, value in _leaves(job)
            if isinstance(value, int | float | bool | list) and not key.startswith("data.synth.")
            and key not in schema and f"{key.rpartition('.')[0]}.*" not in schema
        ]
        assert not unchecked, (name, overrides, unchecked)


#: command -> (bad override, the one line it gives)
BAD_VALUES = {
    "prepare": [
        ("num_workers=abc", "num_workers='abc': expected an integer >= 0"),
        ("verify=ful", "verify='ful': expected one of size, full (did you mean full?)"),
        ("data.leak_check=rase", "data.leak_check='rase': expected one of raise, warn, off (did you mean raise?)"),
        ("augmentation.time_mask.count=-1", "augmentation.time_mask.count=-1: expected an integer >= 0"),
    ],
    "stats": [
        ("data.max_tracks=abc", "data.max_tracks='abc': expected an integer >= 1 or null"),
        ("splits=[1]", "splits=[1]: expected a list of train, validation, test"),
        ("splits=[tset]", "splits=['tset']: 'tset' is not one of train, validation, test (did you mean test?)"),
    ],
    "evaluate": [
        ("eval.window_s=abc", "eval.window_s='abc': expected a finite number > 0"),
        ("eval.velocity_bins=[1,x]", "eval.velocity_bins=[1, 'x']: expected a list of numbers >= 0 and <= 128"),
        ("eval.tier1.kick=[1]", "eval.tier1.kick=[1]: expected a list of names"),
        ("inference.gate_dilate=-1", "inference.gate_dilate=-1: expected an integer >= 0"),
        ("device=gpu", "device='gpu': expected auto, cpu or cuda[:N]"),
    ],
    "tune_thresholds": [
        ("n_trials=abc", "n_trials='abc': expected an integer >= 1"),
        ("min_precision.crash=1.5", "min_precision.crash=1.5: expected a finite number >= 0 and <= 1"),
        ("floor_confidence=0", "floor_confidence=0: expected a finite number > 0 and < 1"),
        ("floor_confidence=1", "floor_confidence=1: expected a finite number > 0 and < 1"),
        ("fallback_beta=-1", "fallback_beta=-1: expected a finite number > 0 or null"),
        # reversed grids: a cryptic "argmin of an empty sequence" after the model pass
        ("threshold.low=0.9 threshold.high=0.5", "threshold={'low': 0.9, 'high': 0.5, 'step': 0.01}: expected low <= high"),
        ("min_gap_s.low=0.2 min_gap_s.high=0.1", "min_gap_s={'low': 0.2, 'high': 0.1}: expected low <= high"),
    ],
    "synth": [
        ("workers=0", "workers=0: expected an integer >= 1"),
        ("splits=[tst]", "splits=['tst']: 'tst' is not one of train, validation, test (did you mean test?)"),
        ("overwrite=yes", "overwrite='yes': expected true or false"),
    ],
}


@pytest.mark.parametrize(
    ("name", "override", "message"),
    [(name, o, m) for name, cases in BAD_VALUES.items() for o, m in cases],
)
def test_command_config_values_are_checked_naming_the_key(name, override, message):
    from drumtx.config_schema import ConfigValueError, validate

    overrides = [*override.split(), "data=synth_default"] if name == "tune_thresholds" else override.split()
    with pytest.raises(ConfigValueError) as err:
        validate(compose_train(overrides, config_name=name), _schema(name))
    assert str(err.value) == message


def test_numbers_and_one_word_lists_are_normalised():
    from drumtx.config_schema import validate

    cfg = validate(compose_train(["eval.velocity_bins=64", "eval.group_by=kit_name"], config_name="evaluate"),
                   _schema("evaluate"))
    assert list(cfg.eval.velocity_bins) == [64] and list(cfg.eval.group_by) == ["kit_name"]


@pytest.mark.parametrize(("config", "key"), [("evaluate", "thresholds"), ("train", "evaluation.thresholds")])
def test_the_readmes_thresholds_override_composes(config, key):
    """A fresh user's trial: the README's ``thresholds={crash: {...}}`` was refused (the default
    was an empty mapping in struct mode, which takes no new key)."""
    from conftest import compose_config

    GlobalHydra.instance().clear()
    cfg = compose_config(config, [f"{key}={{crash: {{threshold: 0.7, min_gap_s: 0.1}}}}"])
    GlobalHydra.instance().clear()
    assert OmegaConf.to_container(OmegaConf.select(cfg, key)) == {"crash": {"threshold": 0.7, "min_gap_s": 0.1}}


def test_an_unquoted_settings_override_says_why():
    """bash splits augmentation.filter_augment={a:1,b:2} into several overrides and Hydra keeps the
    last, 'b:2': the error says the braces want quoting."""
    from drumtx.config_schema import ConfigValueError, validate

    with pytest.raises(ConfigValueError, match="braces not quoted"):
        validate(compose_train(["augmentation.filter_augment=min_bandwidth:6"]))
