"""How exactly does a killed run resume? ``python experiments/resume/probe.py [out.json]``

On the tiny E-GMD fixture of tests/conftest.py (3 training crops per epoch, batch 2, 3 epochs,
warm-up + plateau schedule, specaugment): an uninterrupted run against runs killed and resumed
from ``last.ckpt``, written after an epoch (killed at the start of epoch 2) or inside one
(``last_every_n_steps=2``, killed before step 5, so ``last.ckpt`` is at step 4, mid-epoch 1),
with ``data.num_workers`` 0 and 2. For each: the step it resumed at, whether every later batch
had the same crops, the same learning rate, and whether the final weights are bit-identical.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import lightning as L  # noqa: E402
import test_train as T  # noqa: E402
import torch  # noqa: E402
from conftest import build_egmd_fixture  # noqa: E402


class Seen(L.Callback):
    def __init__(self):
        self.rows, self.state = [], None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        self.rows.append((trainer.global_step, tuple(batch["track"]), tuple(batch["chunk_start"].tolist()), lr))

    def on_train_end(self, trainer, pl_module):
        self.state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}


class Patch:  # the monkeypatch that test_train.run_with expects
    def setattr(self, obj, name, value):
        setattr(obj, name, value)


def main(out_json: str | None = None) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="resume-probe-"))
    root = build_egmd_fixture(work / "egmd")
    results = []
    for workers in (0, 2):
        common = [*T.data_overrides(root, work / "cache"), f"data.num_workers={workers}", "trainer.max_epochs=3",
                  "trainer.limit_train_batches=3", "trainer.limit_val_batches=1", "evaluation.onset_metrics=false",
                  "scheduler.warmup_epochs=2", "callbacks.model_checkpoint.last_every_n_steps=2"]
        ref = Seen()
        T.run_with(Patch(), T.compose_train(work / f"ref{workers}", *common), ref)
        for where, kill_step in (("epoch end", 6), ("mid-epoch", 5)):
            run = work / f"{where.replace(' ', '')}{workers}"
            try:
                T.run_with(Patch(), T.compose_train(run, *common), T.KillAtStep(kill_step))
            except RuntimeError:
                pass
            ckpt = run / "checkpoints" / "last.ckpt"
            step = int(torch.load(ckpt, weights_only=True)["global_step"])
            res = Seen()
            T.run_with(Patch(), T.compose_train(run, *common, f"ckpt_path={ckpt}"), res)
            later = ref.rows[step:]
            results.append({
                "num_workers": workers, "last_ckpt": where, "resumed_at_step": res.rows[0][0],
                "same_crops": [r[:3] for r in res.rows] == [r[:3] for r in later],
                "same_lr": [r[3] for r in res.rows] == [r[3] for r in later],
                "identical_weights": all(torch.equal(ref.state[k], res.state[k]) for k in ref.state),
            })
            print(results[-1], flush=True)
    if out_json:
        Path(out_json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
