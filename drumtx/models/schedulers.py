"""Learning-rate schedules that torch does not ship as one object."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau


class WarmupPlateau(ReduceLROnPlateau):
    """The design's schedule: linear warm-up from ``warmup_start_lr`` to the optimizer's lr over
    ``warmup_epochs`` epochs, then ReduceLROnPlateau (``factor``, ``patience``) down to ``min_lr``,
    the fine-tune floor.

    A subclass of ReduceLROnPlateau (not a chain of two schedulers) so that Lightning hands
    it the monitored metric every epoch, and so that one ``state_dict`` of plain numbers
    resumes both phases exactly.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_epochs: int = 5,
        warmup_start_lr: float = 1e-5,
        mode: str = "max",
        factor: float = 0.5,
        patience: int = 5,
        min_lr: float = 1e-5,
        threshold: float = 1e-4,
        cooldown: int = 0,
    ):
        self.target_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.warmup_epochs = int(warmup_epochs)
        self.warmup_start_lr = float(warmup_start_lr)
        self.epochs_seen = 0
        super().__init__(
            optimizer,
            mode=mode,
            factor=factor,
            patience=patience,
            min_lr=min_lr,
            threshold=threshold,
            cooldown=cooldown,
        )
        if self.warmup_epochs > 0:
            self._set_lrs([self.warmup_start_lr] * len(self.target_lrs))

    def _set_lrs(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def step(self, metrics, epoch=None) -> None:  # noqa: D401 - torch's signature
        """Advance one epoch; the metric is ignored while warming up."""
        self.epochs_seen += 1
        if self.epochs_seen <= self.warmup_epochs:
            frac = self.epochs_seen / self.warmup_epochs
            self._set_lrs(
                [self.warmup_start_lr + (lr - self.warmup_start_lr) * frac for lr in self.target_lrs]
            )
            self.last_epoch = self.epochs_seen
            return
        super().step(metrics)
