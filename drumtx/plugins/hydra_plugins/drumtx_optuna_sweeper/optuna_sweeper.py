"""The Sweeper class Hydra instantiates; the Optuna work is in ``_impl`` (imported lazily so that
Hydra's plugin scan on every start-up does not pay for importing optuna)."""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class OptunaSweeper(Sweeper):
    """Hydra Sweeper that runs an Optuna study (ask a batch, launch it, tell the results)."""

    def __init__(
        self,
        sampler: Any,
        direction: Any,
        storage: Any,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        params: DictConfig | None,
        search_space: DictConfig | None,
        custom_search_space: str | None,
        heartbeat_interval: int | None = 60,
        grace_period: int | None = None,
        group_env_var: str | None = "WANDB_RUN_GROUP",
        enqueue_trials: Any = None,
        retry_killed_trials: int = 1,
    ) -> None:
        from ._impl import OptunaSweeperImpl

        self.sweeper = OptunaSweeperImpl(
            sampler=sampler,
            direction=direction,
            storage=storage,
            study_name=study_name,
            n_trials=n_trials,
            n_jobs=n_jobs,
            max_failure_rate=max_failure_rate,
            params=params,
            search_space=search_space,
            custom_search_space=custom_search_space,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            group_env_var=group_env_var,
            enqueue_trials=enqueue_trials,
            retry_killed_trials=retry_killed_trials,
        )

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self.sweeper.sweep(arguments)
