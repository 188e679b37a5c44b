"""Output heads on the shared encoder, and how their logits become instrument probabilities.

Two head sets, both built from ``conf/branches/*.yaml``:

* :class:`FiveBranchHeads`: the design's hierarchical heads (kick, snare, tom primary and
  variation, rhythm-cymbal primary with hi-hat and ride variations, crash [, hi-hat pedal]),
  one MLP per entry of ``heads``; which head reads which target comes from the config.
* :class:`FlatHead`: the baseline, one sigmoid per fine class.

Both expose the same decoding interface (``instrument_probs``, ``fine_probs``, ``velocity_probs``), so
the decoder, metrics and transcription never look at which head set a model has.

Either may carry a **velocity head** (``velocity: true`` in ``conf/branches/*.yaml``): one MLP on
the shared encoder with a sigmoid per fine class, read as MIDI velocity / 127 at that class's
onset frames (as OaF-Drums does; trained by :class:`drumtx.models.losses.DrumLoss` on onset
frames only). Its logits are the entry :data:`VELOCITY` of ``forward``'s output. A model saved
before velocity existed has no ``velocity`` key in its config and is built without the head.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from drumtx.targets import HIERARCHY, SLOT_PRIMARY, SLOTS
from drumtx.vocab import Vocabulary

_EPS = 1e-8
#: Key of the velocity head's logits in a head set's ``forward`` output.
VELOCITY = "velocity"


@dataclass(frozen=True)
class HeadSpec:
    """What the loss needs to know about one head."""

    name: str
    target: str  # key of batch['targets'], or "roll" for the flat head
    classes: int  # 1 = one sigmoid (binary or multi-label), > 1 = softmax over classes
    parent: tuple[str, int] | None = None  # (target, value) that must hold for the loss to count
    multilabel: bool = False  # flat head: independent sigmoids over the fine classes
    labels: tuple[str, ...] = ()  # flat head: the fine class of each output


def set_hit_prior(head: nn.Sequential, hit_prior: float | None, softmax: bool) -> None:
    """Start an output layer at a frame hit probability of ``hit_prior`` (the prior-probability
    initialisation of Lin et al. 2017, "Focal Loss for Dense Object Detection", sec. 4.1)
    instead of PyTorch's default, whose near-zero biases mean P(hit) about 0.5 for a sigmoid and
    (k - 1) / k for a k-way softmax. Each sigmoid output's bias becomes logit(hit_prior); a
    softmax (``softmax``) over (none, hit classes...) gets bias
    log((1 - hit_prior) (k - 1) / hit_prior) on "none" (class 0) and 0 on the k - 1 hit classes,
    so P(any hit) = hit_prior. Only from-scratch training sees it (a loaded model's weights
    replace it). Measured from scratch on crnn_small, everything else equal: validation PR-AUC
    0.199 after 300 steps against 0.084 with the default biases, which still write no onset above
    0.5 by then (experiments/default_model_v2, "The hit prior (from scratch)").

    Raises:
        ValueError: ``hit_prior`` is not in (0, 1).
    """
    if hit_prior is None:
        return
    p = float(hit_prior)
    if not 0.0 < p < 1.0:
        raise ValueError(f"branches.hit_prior must be in (0, 1) or null, got {hit_prior!r}")
    out = head[-1]
    with torch.no_grad():
        out.bias.zero_()
        if not softmax:
            out.bias.fill_(math.log(p / (1.0 - p)))
        else:
            out.bias[0] = math.log((1.0 - p) * (out.out_features - 1) / p)


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, dropout: float) -> nn.Sequential:
    """Linear -> ReLU -> Dropout for each hidden size, then a linear output layer."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(in_dim, int(h)), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        in_dim = int(h)
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


def velocity_head(in_dim: int, velocity, hidden: Sequence[int], n_classes: int, dropout: float):
    """The velocity MLP (``in_dim`` -> ``hidden`` -> one output per fine class), or None when
    ``velocity`` is False.

    Raises:
        ValueError: ``velocity`` is not a bool (``branches.velocity`` must be true or false).
    """
    if not isinstance(velocity, bool):
        raise ValueError(f"branches.velocity must be true or false, got {velocity!r}")
    return mlp(in_dim, hidden, n_classes, dropout) if velocity else None


def velocity_of(logits: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
    """(B, T, C) predicted velocity / 127 in [0, 1] per fine class (``vocab.fine_classes`` order),
    or None for a model without a velocity head."""
    x = logits.get(VELOCITY)
    return None if x is None else torch.sigmoid(x.float())


def _slot_of(fine_class: str) -> str | None:
    for slot, members in SLOTS.items():
        if fine_class in members:
            return slot
    return None


class FiveBranchHeads(nn.Module):
    """The hierarchical heads. ``heads``: name -> {target, hidden, classes[, parent]}.

    A head with ``classes: 1`` is a sigmoid over a binary target; otherwise a softmax over
    the target's classes. ``parent: [target, value]`` restricts a variation head's loss to
    frames where that parent target has that value. The hi-hat pedal head (``pedal_head``)
    is added only when ``hihat_pedal`` is on (``data.targets.hihat_pedal``). ``velocity``
    adds the velocity head (``velocity_hidden`` sizes), one output per fine class. Heads
    of a primary target (no parent in ``targets.HIERARCHY``) start at a frame hit probability of
    ``hit_prior`` (:func:`set_hit_prior`; None: PyTorch's default initialisation); class 0 of
    every such target is "none".
    """

    def __init__(
        self,
        in_dim: int,
        heads: Mapping[str, Mapping],
        dropout: float = 0.3,
        hihat_pedal: bool = False,
        pedal_head: Mapping | None = None,
        velocity: bool = False,
        velocity_hidden: Sequence[int] = (128,),
        hit_prior: float | None = None,
    ):
        super().__init__()
        self.vocab = Vocabulary(hihat_pedal=bool(hihat_pedal))
        heads = {str(k): dict(v) for k, v in heads.items()}
        if VELOCITY in heads:
            raise ValueError(f"branches.heads: {VELOCITY!r} is the velocity head's name; call that head otherwise")
        if hihat_pedal:
            if not any(h.get("target") == "hihat_pedal" for h in heads.values()):
                if pedal_head is None:
                    raise ValueError(
                        "data.targets.hihat_pedal=true needs branches.pedal_head (or a hihat_pedal head)"
                    )
                heads["hihat_pedal"] = dict(pedal_head)
        else:
            heads = {k: h for k, h in heads.items() if h.get("target") != "hihat_pedal"}
        self.specs: dict[str, HeadSpec] = {}
        for name, h in heads.items():
            target = h.get("target", name)
            if target not in HIERARCHY:
                raise ValueError(f"head {name!r}: unknown target {target!r}; known: {sorted(HIERARCHY)}")
            n = HIERARCHY[target][0]
            classes = int(h["classes"])
            if classes != n and not (classes == 1 and n == 2):
                raise ValueError(f"head {name!r}: target {target!r} has {n} classes, head has {classes}")
            parent = h.get("parent")
            parent = (str(parent[0]), int(parent[1])) if parent is not None else None
            self.specs[name] = HeadSpec(name, target, classes, parent)
        self.by_target = {s.target: name for name, s in self.specs.items()}
        missing = sorted(set(self._needed_targets()) - set(self.by_target))
        if missing:
            raise ValueError(f"branches.heads lacks heads for targets {missing} that the vocabulary needs")
        self.heads = nn.ModuleDict(
            {
                name: mlp(in_dim, heads[name].get("hidden", []), s.classes, dropout)
                for name, s in self.specs.items()
            }
        )
        for name, s in self.specs.items():
            if HIERARCHY[s.target][1] is None:  # a primary target: class 0 is "no hit"
                set_hit_prior(self.heads[name], hit_prior, softmax=s.classes > 1)
        self.velocity = velocity_head(in_dim, velocity, velocity_hidden, len(self.vocab.fine_classes), dropout)

    def _needed_targets(self) -> list[str]:
        needed = []
        for inst, fine in self.vocab.instruments.items():
            slot = _slot_of(fine[0])
            if slot is None:
                needed.append(inst)
            else:
                needed.append(SLOT_PRIMARY[slot])
                needed += [SLOTS[slot][f][2] for f in fine if SLOTS[slot][f][2]]
        return needed

    @property
    def has_velocity(self) -> bool:
        return self.velocity is not None

    def forward(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """``h`` (B, T, in_dim) -> head name -> logits (B, T, classes), plus :data:`VELOCITY`
        (B, T, C) when the velocity head exists."""
        out = {name: head(h) for name, head in self.heads.items()}
        if self.velocity is not None:
            out[VELOCITY] = self.velocity(h)
        return out

    def velocity_probs(self, logits: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
        """See :func:`velocity_of`."""
        return velocity_of(logits)

    def distributions(self, logits: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """target -> class probabilities (B, T, n); a sigmoid head becomes [1 - p, p]."""
        out = {}
        for name, spec in self.specs.items():
            x = logits[name].float()
            if spec.classes == 1:
                p = torch.sigmoid(x)
                out[spec.target] = torch.cat([1 - p, p], dim=-1)
            else:
                out[spec.target] = torch.softmax(x, dim=-1)
        return out

    def instrument_probs(
        self, logits: Mapping[str, torch.Tensor]
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """instrument -> (activation (B, T), variation (B, T, V)), read off the hierarchy in
        :mod:`drumtx.targets` (``SLOTS``): an instrument sharing a slot is active when the slot's
        primary target takes its value(s); its variation comes from its variation head, or,
        for the snare (head/rim are primary values), from the primary distribution itself."""
        dist = self.distributions(logits)
        out = {}
        for inst, fine in self.vocab.instruments.items():
            slot = _slot_of(fine[0])
            if slot is None:  # a binary target named after the instrument (kick, crash, pedal)
                act = dist[inst][..., 1]
                out[inst] = (act, torch.ones_like(act).unsqueeze(-1))
                continue
            members = SLOTS[slot]
            primary = dist[SLOT_PRIMARY[slot]]
            values = sorted({members[f][1] for f in fine})
            var_target = members[fine[0]][2]
            if var_target is None:  # each fine class is its own primary value
                p = primary[..., [members[f][1] for f in fine]]
                act = p.sum(-1)
                var = p / p.sum(-1, keepdim=True).clamp_min(_EPS)
            else:
                if len(values) != 1:
                    raise ValueError(f"instrument {inst}: variations with different primary values {values}")
                act = primary[..., values[0]]
                var = dist[var_target][..., [members[f][3] for f in fine]]
            out[inst] = (act, var)
        return out

    def fine_probs(self, logits: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """(B, T, C) activation x variation, in ``vocab.fine_classes`` order."""
        probs = self.instrument_probs(logits)
        return torch.cat([probs[i][0].unsqueeze(-1) * probs[i][1] for i in self.vocab.instruments], dim=-1)


class FlatHead(nn.Module):
    """The baseline: one MLP, one sigmoid per fine class (multi-label, no hierarchy);
    ``velocity`` adds the velocity head (``velocity_hidden`` sizes); each sigmoid starts at
    ``hit_prior`` (:func:`set_hit_prior`; None: PyTorch's default
    initialisation)."""

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int] = (256, 128),
        dropout: float = 0.3,
        hihat_pedal: bool = False,
        velocity: bool = False,
        velocity_hidden: Sequence[int] = (128,),
        hit_prior: float | None = None,
    ):
        super().__init__()
        self.vocab = Vocabulary(hihat_pedal=bool(hihat_pedal))
        self.head = mlp(in_dim, hidden, len(self.vocab.fine_classes), dropout)
        set_hit_prior(self.head, hit_prior, softmax=False)
        self.velocity = velocity_head(in_dim, velocity, velocity_hidden, len(self.vocab.fine_classes), dropout)
        self.specs = {
            "flat": HeadSpec(
                "flat", "roll", len(self.vocab.fine_classes), None, True, tuple(self.vocab.fine_classes)
            )
        }
        classes = self.vocab.fine_classes
        self._index = {
            inst: [classes.index(c) for c in fine] for inst, fine in self.vocab.instruments.items()
        }

    @property
    def has_velocity(self) -> bool:
        return self.velocity is not None

    def forward(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """``h`` (B, T, in_dim) -> ``{"flat": (B, T, C)}``, plus :data:`VELOCITY` (B, T, C) when
        the velocity head exists."""
        out = {"flat": self.head(h)}
        if self.velocity is not None:
            out[VELOCITY] = self.velocity(h)
        return out

    def velocity_probs(self, logits: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
        """See :func:`velocity_of`."""
        return velocity_of(logits)

    def instrument_probs(
        self, logits: Mapping[str, torch.Tensor]
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Activation = P(any of the instrument's classes) assuming independence,
        variation = the class probabilities normalised (ones for one-class instruments)."""
        p = torch.sigmoid(logits["flat"].float())
        out = {}
        for inst, idx in self._index.items():
            pi = p[..., idx]
            act = 1 - torch.prod(1 - pi, dim=-1)
            var = torch.ones_like(pi) if len(idx) == 1 else pi / pi.sum(-1, keepdim=True).clamp_min(_EPS)
            out[inst] = (act, var)
        return out

    def fine_probs(self, logits: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """(B, T, C) the sigmoids themselves: the flat model predicts each fine class directly,
        and activation x variation would halve two simultaneous variations (head + rim)."""
        return torch.sigmoid(logits["flat"].float())
