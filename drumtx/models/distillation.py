"""Distillation: chosen heads of the student learn a frozen teacher model's outputs (``distillation.*``).

Why: the shipped v2 finds crashes on sound-font kits it never heard (rung (a): F 62.4, precision
88.7 %) that no model trained on the realistic mix reaches (experiments/default_model_v2,
"Next: the crash taught by v2"). With ``distillation.teacher`` set, every training crop of the
kits ``distillation.kits`` names (and ``distillation.skip_kits`` does not) also runs through the
teacher, on the same augmented log-mel and without gradients, and each head of
``distillation.heads`` adds ``distillation.weight`` × its divergence from the teacher's
probabilities to the loss:

- a sigmoid head (``classes: 1``, the crash): the Bernoulli KL divergence
  ``BCE(student, p_teacher) - H(p_teacher)`` per frame;
- a softmax head: ``KL(p_teacher || p_student)`` over its classes per frame;

each averaged over the chosen crops' real frames (zero, never NaN, when a batch holds none of
them), logged as ``train/loss_distill_<head>``. The ground-truth losses stay as they are.

Only primary heads (no parent target) can be distilled: a variation head's output means nothing
on frames without its parent hit, and the teacher's says nothing about which those are. The
teacher is not part of the trained module (not in its ``state_dict`` or checkpoints): a resumed
run loads it again from the config.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from drumtx.models.losses import masked_mean

PREFIX = "distill_"


class DistillationError(ValueError):
    """A distillation setting that cannot work (one line naming the key)."""


def _bernoulli_kl(student_logit: torch.Tensor, teacher_logit: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(teacher_logit)
    ce = F.binary_cross_entropy_with_logits(student_logit, p, reduction="none")
    entropy = F.binary_cross_entropy_with_logits(teacher_logit, p, reduction="none")
    return ce - entropy


def _categorical_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    log_q = F.log_softmax(teacher_logits, dim=-1)
    return (log_q.exp() * (log_q - F.log_softmax(student_logits, dim=-1))).sum(-1)


class Teacher:
    """A frozen model whose head outputs the student's chosen heads learn (see the module docstring).

    Args:
        model: the teacher (a :class:`drumtx.models.transcriber.DrumTranscriber`; put in eval mode,
            its parameters frozen).
        student_specs: the student's ``heads.specs`` (head name -> :class:`HeadSpec`).
        heads: head names to distil; each must be a primary head of both models with the same
            number of classes.
        weight: loss weight (> 0) of each distilled head's divergence.
        kits, skip_kits: fnmatch patterns on the training tracks' ``kit_name``: crops of tracks
            whose kit matches one of ``kits`` (None: every track) and none of ``skip_kits``.
        source: the teacher's file, named in messages.

    Raises:
        DistillationError: a head the student or the teacher lacks, a variation or flat head, other
            class counts, a weight not > 0.
    """

    def __init__(self, model: torch.nn.Module, student_specs: Mapping, heads: Sequence[str], weight: float,
                 kits: Sequence[str] | None = None, skip_kits: Sequence[str] | None = None,
                 source: str | Path = "teacher"):
        self.source = str(source)
        if not weight > 0:
            raise DistillationError(f"distillation.weight must be > 0, got {weight}")
        if not heads:
            raise DistillationError("distillation.heads is empty: name the heads to distil, e.g. [crash]")
        twice = sorted({h for h in heads if list(heads).count(h) > 1})
        if twice:
            raise DistillationError(f"distillation.heads names {twice} more than once (each would count again)")
        teacher_specs = model.heads.specs
        primary = sorted(n for n, s in student_specs.items() if not s.multilabel and s.parent is None)
        for name in heads:
            spec = student_specs.get(name)
            if spec is None or spec.multilabel or spec.parent is not None:
                if spec is not None and spec.parent is not None:
                    why = (f"a variation head (it means something only where its parent {spec.parent[0]} "
                           f"is {spec.parent[1]})")
                else:
                    close = difflib.get_close_matches(str(name), primary, n=1)
                    why = "not a head of this model" + (f" (did you mean {close[0]}?)" if close else "")
                raise DistillationError(
                    f"distillation.heads: {name!r} is {why}; only primary heads can be distilled: {primary}"
                )
            theirs = teacher_specs.get(name)
            if theirs is None or theirs.classes != spec.classes or theirs.target != spec.target:
                raise DistillationError(
                    f"distillation.teacher {self.source}: its head {name!r} is "
                    f"{'absent' if theirs is None else f'{theirs.target} with {theirs.classes} classes'}, "
                    f"this model's is {spec.target} with {spec.classes} classes"
                )
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.heads = [str(h) for h in heads]
        self.classes = {h: student_specs[h].classes for h in self.heads}
        self.weight = float(weight)
        self.kits = None if kits is None else [str(k) for k in kits]
        self.skip_kits = [str(k) for k in (skip_kits or [])]
        self.tracks: set[str] | None = None  # set by select_tracks

    def _chosen(self, kit: str) -> bool:
        if any(fnmatch.fnmatchcase(kit, p) for p in self.skip_kits):
            return False
        return self.kits is None or any(fnmatch.fnmatchcase(kit, p) for p in self.kits)

    def select_tracks(self, kit_names: Mapping[str, str]) -> int:
        """Choose the training tracks the teacher runs on, by their ``kit_name``.

        Args:
            kit_names: training track key -> kit_name (:meth:`DrumDataModule.kit_names`).

        Returns:
            the number of tracks chosen.

        Raises:
            DistillationError: a pattern of ``kits`` or ``skip_kits`` matches no training track's
                kit_name (a typo would silently distil nothing or everything), or no track is chosen.
        """
        names = set(kit_names.values())
        for key, patterns in (("kits", self.kits or []), ("skip_kits", self.skip_kits)):
            unused = [p for p in patterns if not any(fnmatch.fnmatchcase(k, p) for k in names)]
            if unused:
                raise DistillationError(
                    f"distillation.{key}: {unused} match no training track's kit_name ({_kits_like(unused[0], names)})"
                )
        self.tracks = {key for key, kit in kit_names.items() if self._chosen(kit)}
        if not self.tracks:
            kits = "every kit" if self.kits is None else f"kits={self.kits}"
            raise DistillationError(f"distillation: {kits} with skip_kits={self.skip_kits} leave no training track")
        return len(self.tracks)

    def loss(self, student_logits: Mapping[str, torch.Tensor], batch: Mapping) -> dict[str, torch.Tensor]:
        """Each distilled head's divergence from the teacher on the batch's chosen crops.

        Args:
            student_logits: head name -> (B, T, classes) logits of the student on ``batch``.
            batch: a training batch: ``mel`` (B, n_mels, T), ``mask`` (B, T) and ``track`` (B keys).

        Returns:
            ``distill_<head>`` -> scalar (unweighted); zero with the head in the graph when no crop
            of the batch is chosen.
        """
        tracks = batch.get("track")
        chosen = [i for i, t in enumerate(tracks or []) if self.tracks is None or t in self.tracks]
        if not chosen:
            return {PREFIX + h: student_logits[h].sum() * 0.0 for h in self.heads}
        idx = torch.as_tensor(chosen, device=batch["mel"].device)
        mel, mask = batch["mel"].index_select(0, idx), batch["mask"].index_select(0, idx).bool()
        first = next(self.model.parameters())
        if first.device != mel.device:
            self.model.to(mel.device)
        with torch.no_grad():
            taught = self.model(mel, mask)
        out = {}
        for h in self.heads:
            s, t = student_logits[h].index_select(0, idx).float(), taught[h].float()
            div = _bernoulli_kl(s[..., 0], t[..., 0]) if self.classes[h] == 1 else _categorical_kl(s, t)
            out[PREFIX + h] = masked_mean(div, mask)
        return out

    def total(self, parts: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``weight`` × the sum of the distilled parts."""
        return self.weight * sum(parts[PREFIX + h] for h in self.heads)


def _kits_like(pattern: str, names: set[str]) -> str:
    """``closest: a, b`` (difflib on the pattern without its wildcards), else the first few kits;
    a kit with music (``X+music``) is listed as its drum-only name once, noted."""
    base = sorted({n.removesuffix("+music") for n in names if n and n != "none+music"})
    close = difflib.get_close_matches(pattern.replace("*", "").replace("?", ""), base, n=4, cutoff=0.5)
    music = " (each also as NAME+music; none+music: music alone)" if any(n.endswith("+music") for n in names) else ""
    if close:
        return f"closest: {', '.join(close)}{music}"
    return f"kits: {', '.join(base[:8])}{', …' if len(base) > 8 else ''}{music}"
