"""Config schema of the sweeper, registered as ``hydra/sweeper: optuna``.

The field names and meanings are those of the official ``hydra-optuna-sweeper`` (1.3), so an
existing ``hparams_search`` config carries over unchanged; the few additions (heartbeat,
W&B grouping) have defaults that keep the official behaviour. This module must not import
optuna: Hydra imports it while scanning plugins on every start-up. (No ``from __future__ import annotations``:
Hydra's scanner runs the module before it is in ``sys.modules``, where dataclasses would look
string annotations up.)
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

SWEEPER_TARGET = "hydra_plugins.drumtx_optuna_sweeper.optuna_sweeper.OptunaSweeper"


@dataclass
class OptunaSweeperConf:
    _target_: str = SWEEPER_TARGET
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}])

    # An Optuna sampler, instantiated by Hydra (`_target_: optuna.samplers.TPESampler`, seed, ...).
    # Pick a preset with `override hydra/sweeper/sampler: random` (tpe, random, cmaes, gp, qmc,
    # nsgaii, grid) or write the node in full.
    # (MISSING, not None: the node's own values merge after its defaults and must not erase them.)
    sampler: Any = MISSING

    # "minimize" | "maximize", or a list of them for a multi-objective task (the task then
    # returns a sequence of numbers in the same order).
    direction: Any = "minimize"

    # Where the study lives: null (in memory, gone when the sweep ends), an RDB URL such as
    # sqlite:///multirun/optuna.db or postgresql+psycopg://user:password@host:5432/db (psycopg 3,
    # pip install 'drumtx[sweep]'; shared by every worker that names the same study; a rerun
    # resumes it), or an Optuna storage object via `_target_`. A URL that cannot be opened stops
    # the sweep before any trial with one line and exit code 2.
    storage: Any = None

    # Name of the study inside the storage; required to resume or share one.
    study_name: str | None = None

    # The study's total number of finished trials (complete or pruned) to reach, counted over
    # every run and worker of the study, not per invocation: rerunning a sweep with n_trials=5
    # after 3 finished runs 2 more. Failed trials stay in the study but are not counted.
    n_trials: int = 20

    # Trials asked for at once and handed to the launcher as one batch (parallel with a
    # parallel launcher such as joblib; the default basic launcher runs them one by one).
    n_jobs: int = 1

    # Failures allowed, as a share of the trials this invocation set out to run, before the
    # sweep stops with an error (a crash, a non-numeric or NaN result); each failed trial is
    # recorded as FAIL in the study and the sweep goes on with a fresh trial in its place.
    max_failure_rate: float = 0.0

    # Search space as overrides: `key: interval(0.1, 1.0)`, `tag(log, interval(1e-4, 1e-2))`,
    # `choice(a, b)`, `range(1, 8)`; plain values are fixed for every trial.
    params: dict[str, Any] | None = None

    # Deprecated form of the search space kept for old configs: key -> {type: float|int|
    # categorical, low, high, log, step, choices}.
    search_space: dict[str, Any] | None = None

    # Dotted path of `fn(cfg, trial) -> None` that suggests further (e.g. conditional)
    # parameters with trial.suggest_*; they are passed to the job as overrides too.
    custom_search_space: str | None = None

    # --- drumtx additions -------------------------------------------------------------
    # Parameter sets to try before the sampler proposes any: e.g. the configured defaults, so
    # the study has the baseline every proposal is compared with. Each is {param: value} over
    # some or all of `params` (the sampler fills in the rest). Skipped when the study already
    # holds a trial with those values, so a resumed or second worker does not repeat them.
    enqueue_trials: list[dict[str, Any]] | None = None

    # Seconds between heartbeats of running trials in an RDB storage; a trial whose worker
    # stopped beating for `grace_period` (default 2 x interval) is marked failed, so that a
    # killed worker's trial does not count as running forever. null disables heartbeats.
    heartbeat_interval: int | None = 60
    grace_period: int | None = None

    # Times a killed trial's parameters are run again (0: never): a trial whose worker died
    # (no heartbeat for the grace period, or its sweep process on this machine is gone) is
    # marked failed and queued once more with the same parameters, as a new trial with its own
    # number and folder (user attribute retry_of = the killed trial). A trial that raised (a
    # crash, NaN loss) is not retried: it would fail again.
    retry_killed_trials: int = 1

    # Environment variable set in every trial job to the study name, so that each trial's
    # W&B run lands in a group named after the study (null: leave the environment alone; a
    # value already set in the sweeper's environment is kept).
    group_env_var: str | None = "WANDB_RUN_GROUP"


# Sampler presets are plain dicts rather than dataclasses so that a config which names another
# `_target_` or sets extra constructor arguments merges into them without schema errors.
SAMPLERS: dict[str, dict[str, Any]] = {
    "tpe": {"_target_": "optuna.samplers.TPESampler", "seed": None},
    "random": {"_target_": "optuna.samplers.RandomSampler", "seed": None},
    "cmaes": {"_target_": "optuna.samplers.CmaEsSampler", "seed": None},
    "gp": {"_target_": "optuna.samplers.GPSampler", "seed": None},
    "qmc": {"_target_": "optuna.samplers.QMCSampler", "seed": None},
    "nsgaii": {"_target_": "optuna.samplers.NSGAIISampler", "seed": None},
    # The grid is built by the sweeper from the (discrete) search space, hence partial.
    "grid": {"_target_": "optuna.samplers.GridSampler", "_partial_": True, "seed": None},
}


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="drumtx_optuna_sweeper")
    for name, node in SAMPLERS.items():
        cs.store(group="hydra/sweeper/sampler", name=name, node=node, provider="drumtx_optuna_sweeper")


register_configs()
