"""Binned ROC-AUC and PR-AUC over a whole validation set, counted in O(frames x classes).

torchmetrics' binned multilabel update compares every prediction with every threshold: an
int64 tensor of frames x classes x thresholds, several GB for one batch of long validation
chunks, and more than half of drumtx's validation time under cProfile. Bucketing each
prediction once and cumulating the counts over the thresholds gives the identical confusion
matrices (integer counts, the same ``pred >= threshold`` comparison), so these subclasses
change only how the state is counted; torchmetrics computes the AUCs from it as before.
Written here because torchmetrics has no counting update; drop it if it gets one.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics.classification import MultilabelAUROC, MultilabelAveragePrecision


def binned_confmat(preds: Tensor, target: Tensor, thresholds: Tensor) -> Tensor:
    """``(T, C, 2, 2)`` counts indexed ``[threshold, class, target, pred >= threshold]``
    (torchmetrics' binned state) for probabilities ``preds`` and 0/1 ``target`` of shape (N, C)."""
    n_t, n_c = len(thresholds), preds.shape[1]
    # above[c, i] = how many thresholds are <= preds[i, c]; pred >= thresholds[j] iff j < above
    above = torch.searchsorted(thresholds.to(preds.dtype), preds.T.contiguous(), right=True)
    label = target.T.long().clamp(0, 1)
    bins = n_t + 1
    index = above + bins * (label + 2 * torch.arange(n_c, device=preds.device).unsqueeze(1))
    hist = torch.bincount(index.flatten(), minlength=n_c * 2 * bins).reshape(n_c, 2, bins)
    pred_pos = hist.flip(-1).cumsum(-1).flip(-1)[..., 1:]  # [c, y, j]: count with above > j
    pred_neg = hist.sum(-1, keepdim=True) - pred_pos
    return torch.stack([pred_neg, pred_pos], dim=-1).permute(2, 0, 1, 3).contiguous()


class _CountedUpdate:
    """Binned update by counting; exact (unbinned) or ``ignore_index`` metrics keep torchmetrics'."""

    def update(self, preds: Tensor, target: Tensor) -> None:
        if self.thresholds is None or self.ignore_index is not None:
            return super().update(preds, target)
        if preds.ndim != 2 or preds.shape != target.shape or preds.shape[1] != self.num_labels:
            raise ValueError(f"expected preds and target of shape (N, {self.num_labels}), got "
                             f"{tuple(preds.shape)} and {tuple(target.shape)}")
        if preds.numel() and (preds.min() < 0 or preds.max() > 1):
            raise ValueError("expected probabilities in [0, 1] (apply the sigmoid first)")
        self.confmat += binned_confmat(preds, target, self.thresholds)
        return None


class CountedMultilabelAUROC(_CountedUpdate, MultilabelAUROC):
    """:class:`~torchmetrics.classification.MultilabelAUROC` with the counting update."""


class CountedMultilabelAveragePrecision(_CountedUpdate, MultilabelAveragePrecision):
    """:class:`~torchmetrics.classification.MultilabelAveragePrecision` with the counting update."""
