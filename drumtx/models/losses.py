"""The training loss: a weighted sum of one loss per head, each over real frames only.

Every per-head loss is a *masked mean*: padding frames (``batch['mask']`` False) never
count, and a variation head only counts on frames where its parent hit exists (a hi-hat
open/closed loss on a frame without a hi-hat would teach noise). A batch with no such
frame contributes exactly zero, never NaN (the mean divides by ``max(count, 1)``), and the
head stays in the autograd graph so that DDP sees a (zero) gradient for it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from drumtx.models.heads import VELOCITY, HeadSpec
from drumtx.vocab import Vocabulary

#: The loss weights (keyword arguments of :class:`DrumLoss`) a head target or an instrument may take.
WEIGHTS = ("kick", "snare", "tom_primary", "tom_variation", "cymbal_primary", "cymbal_variation", "crash", "hihat_pedal")
#: Head targets that share one weight (the design weighs both cymbal variations alike).
DEFAULT_SHARED = {"hihat_variation": "cymbal_variation", "ride_variation": "cymbal_variation"}
#: Flat baseline: each fine class takes the weight of its instrument's branch.
DEFAULT_FLAT = {
    "kick": "kick",
    "snare": "snare",
    "tom": "tom_primary",
    "hihat": "cymbal_primary",
    "ride": "cymbal_primary",
    "crash": "crash",
    "hihat_pedal": "hihat_pedal",
}


def masked_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """sum(values * weight) / max(sum(weight), 1): zero (not NaN) when nothing counts."""
    weight = weight.to(values.dtype)
    return (values * weight).sum() / weight.sum().clamp_min(1.0)


def focal_factor(ce_unweighted: torch.Tensor, gamma: float) -> torch.Tensor:
    """(1 - p_t) ** gamma with p_t = exp(-CE): down-weights frames the model already gets right."""
    if gamma <= 0:
        return torch.ones_like(ce_unweighted)
    p_t = torch.exp(-ce_unweighted)
    return (1 - p_t).clamp_min(0).pow(gamma)


class DrumLoss(nn.Module):
    """Weighted sum of per-head losses; ``forward`` returns ``(total, {part: unweighted loss})``.

    Weights are keyword arguments named after the head targets (``kick``, ``snare``,
    ``tom_primary``, ``tom_variation``, ``cymbal_primary``, ``cymbal_variation``, ``crash``,
    ``hihat_pedal``) so that ``loss.crash=0.8`` on the command line changes one of them.
    Single-logit heads use BCE (the crash with ``crash_pos_weight`` on positives), the others
    cross-entropy; ``focal_gamma`` > 0 turns both into focal losses. For the flat baseline
    (one multi-label head on ``batch['roll']``) the parts are per instrument, each fine
    class weighted by its instrument's branch weight (``flat_weights``).

    ``crash_cymbal_negative_weight`` multiplies the crash's loss on frames where a hi-hat or ride
    is struck and no crash (hard negatives: the cymbals a crash head takes for crashes on kits it
    has not heard, experiments/default_model_v2/README.md, "Held-out kits"); 1 leaves it as designed.

    ``velocity`` weighs the velocity regression (part ``velocity``, see the module docstring)
    when the logits hold a velocity head's output; 0 leaves the total as without it (the part
    is still computed and returned, so it can be watched).
    """

    def __init__(
        self,
        specs: Mapping[str, HeadSpec],
        kick: float = 1.5,
        snare: float = 1.5,
        tom_primary: float = 1.0,
        tom_variation: float = 0.7,
        cymbal_primary: float = 1.0,
        cymbal_variation: float = 0.5,
        crash: float = 0.6,
        hihat_pedal: float = 0.3,
        crash_pos_weight: float = 1.0,
        crash_cymbal_negative_weight: float = 1.0,
        focal_gamma: float = 0.0,
        shared_weights: Mapping[str, str] | None = None,
        flat_weights: Mapping[str, str] | None = None,
        velocity: float = 0.5,
    ):
        super().__init__()
        self.velocity_weight = float(velocity)
        self.specs = dict(specs)
        self.weights = {
            "kick": kick,
            "snare": snare,
            "tom_primary": tom_primary,
            "tom_variation": tom_variation,
            "cymbal_primary": cymbal_primary,
            "cymbal_variation": cymbal_variation,
            "crash": crash,
            "hihat_pedal": hihat_pedal,
        }
        self.crash_pos_weight = float(crash_pos_weight)
        self.crash_cymbal_negative_weight = float(crash_cymbal_negative_weight)
        if self.crash_cymbal_negative_weight <= 0:
            raise ValueError(f"loss.crash_cymbal_negative_weight must be > 0, got {crash_cymbal_negative_weight}")
        self.focal_gamma = float(focal_gamma)
        shared = dict(DEFAULT_SHARED if shared_weights is None else shared_weights)
        flat = dict(DEFAULT_FLAT if flat_weights is None else flat_weights)
        self.head_weight: dict[str, float] = {}
        for name, spec in self.specs.items():
            if spec.multilabel:
                continue
            key = shared.get(spec.target, spec.target)
            if key not in self.weights:
                raise ValueError(
                    f"no loss weight for head {name!r} (target {spec.target!r}); known: {sorted(self.weights)}"
                )
            self.head_weight[name] = float(self.weights[key])
        # Flat head: per-class weights, positive weights and the instrument of each class.
        self.flat_instruments: dict[str, list[int]] = {}
        for spec in self.specs.values():
            if spec.multilabel:
                vocab = Vocabulary(hihat_pedal="hihat_pedal" in spec.labels)
                classes = vocab.fine_classes
                w, pw = torch.zeros(len(classes)), torch.ones(len(classes))
                for inst, fine in vocab.instruments.items():
                    if flat.get(inst) not in self.weights:
                        raise ValueError(f"loss.flat_weights has no valid weight for instrument {inst!r}")
                    idx = [classes.index(c) for c in fine]
                    self.flat_instruments[inst] = idx
                    w[idx] = float(self.weights[flat[inst]])
                    if inst == "crash":
                        pw[idx] = self.crash_pos_weight
                self.register_buffer("flat_class_weight", w, persistent=False)
                self.register_buffer("flat_pos_weight", pw, persistent=False)

    def _binary(self, logit: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor | float | None):
        """Element-wise (focal) BCE; ``target`` may be fractional (mixup)."""
        logit = logit.float()
        pw = (
            None
            if pos_weight is None
            else torch.as_tensor(pos_weight, dtype=logit.dtype, device=logit.device)
        )
        ce = F.binary_cross_entropy_with_logits(logit, target, pos_weight=pw, reduction="none")
        if self.focal_gamma > 0:
            plain = ce if pw is None else F.binary_cross_entropy_with_logits(logit, target, reduction="none")
            ce = ce * focal_factor(plain, self.focal_gamma)
        return ce

    def forward(
        self, logits: Mapping[str, torch.Tensor], batch: Mapping
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        mask = batch["mask"].bool()
        parts: dict[str, torch.Tensor] = {}
        total = None
        for name, spec in self.specs.items():
            x = logits[name]
            if spec.multilabel:
                y = batch["roll"].to(torch.float32)
                ce = self._binary(x, y, self.flat_pos_weight)  # (B, T, C)
                if self.crash_cymbal_negative_weight != 1.0:
                    crash = self.flat_instruments["crash"]
                    cymbals = self.flat_instruments["hihat"] + self.flat_instruments["ride"]
                    hard = (y[..., cymbals] > 0).any(-1) & ~(y[..., crash] > 0).any(-1)  # (B, T)
                    scale = torch.ones_like(ce)
                    scale[..., crash] = torch.where(hard, self.crash_cymbal_negative_weight, 1.0)[..., None]
                    ce = ce * scale
                per_class = torch.stack([masked_mean(ce[..., c], mask) for c in range(ce.shape[-1])])
                for inst, idx in self.flat_instruments.items():
                    parts[inst] = per_class[idx].sum()
                head_total = (per_class * self.flat_class_weight).sum()
            else:
                target = batch["targets"][spec.target]
                valid = mask
                if spec.parent is not None:
                    parent, value = spec.parent
                    valid = valid & (batch["targets"][parent] == value)
                target = torch.where(valid, target, torch.zeros_like(target))  # padding may hold anything
                if spec.classes == 1:
                    pw = (
                        self.crash_pos_weight
                        if spec.target == "crash" and self.crash_pos_weight != 1.0
                        else None
                    )
                    ce = self._binary(x[..., 0], (target > 0).to(torch.float32), pw)
                    if spec.target == "crash" and self.crash_cymbal_negative_weight != 1.0:
                        cymbal = batch["targets"].get("cymbal_primary")  # 0 none, 1 hi-hat, 2 ride
                        if cymbal is not None:
                            hard = (cymbal > 0) & (target <= 0) & valid
                            ce = torch.where(hard, ce * self.crash_cymbal_negative_weight, ce)
                else:
                    x2 = x.float().reshape(-1, spec.classes)
                    ce = F.cross_entropy(x2, target.reshape(-1), reduction="none").reshape(target.shape)
                    if self.focal_gamma > 0:
                        ce = ce * focal_factor(ce, self.focal_gamma)
                parts[name] = masked_mean(ce, valid)
                head_total = self.head_weight[name] * parts[name]
            total = head_total if total is None else total + head_total
        if VELOCITY in logits:
            parts[VELOCITY] = velocity_loss(logits[VELOCITY], batch, mask)
            if self.velocity_weight > 0:
                total = total + self.velocity_weight * parts[VELOCITY]
            else:  # keeps the head in the graph (DDP) without changing the total
                total = total + 0.0 * parts[VELOCITY]
        return total, parts


def velocity_loss(logits: torch.Tensor, batch: Mapping, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean squared error of ``sigmoid(logits)`` against ``batch['velocity']``.

    Args:
        logits: (B, T, C) the velocity head's output.
        batch: holds ``velocity`` (B, T, C) MIDI velocity / 127 and ``roll`` (B, T, C) onsets.
        mask: (B, T) bool, real frames.

    Returns:
        A scalar: the mean over (frame, class) pairs with an onset on a real frame; zero (not NaN)
        when there is none.

    Raises:
        KeyError: the batch has no ``velocity`` (a model with a velocity head needs it).
    """
    if "velocity" not in batch:
        raise KeyError("the model has a velocity head but the batch holds no 'velocity' targets")
    target = batch["velocity"].to(torch.float32)
    onset = (batch["roll"] > 0.5) & mask.unsqueeze(-1)
    target = torch.where(onset, target, torch.zeros_like(target))  # padding may hold anything
    err = (torch.sigmoid(logits.float()) - target) ** 2
    return masked_mean(err, onset)
