"""Training callbacks that Lightning does not ship."""

from __future__ import annotations

import lightning.pytorch as pl


class StepBudget(pl.Callback):
    """Stop after ``max_steps`` optimizer steps the way Lightning's wall-clock ``Timer`` stops:
    by setting ``trainer.should_stop``, so the partial last epoch is still validated and
    checkpointed. (``trainer.max_steps`` stops without that last validation.)

    Why: an ablation arm must see exactly the steps of a baseline that was trained under a
    wall-clock budget (``metrics.json`` records its ``global_step``), whatever else the machine
    is doing. ``max_steps=None`` disables it.
    """

    def __init__(self, max_steps: int | None = None):
        if max_steps is not None and int(max_steps) < 1:
            raise ValueError(f"callbacks.step_budget.max_steps must be a positive step count or null, got {max_steps}")
        self.max_steps = None if max_steps is None else int(max_steps)

    def on_train_batch_end(self, trainer: pl.Trainer, *args) -> None:
        if self.max_steps is not None and trainer.global_step >= self.max_steps:
            trainer.should_stop = True
