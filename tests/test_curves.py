"""The counting update of the binned ROC/PR metrics gives torchmetrics' own state and AUCs, exactly."""

import pytest
import torch
from torchmetrics.classification import MultilabelAUROC, MultilabelAveragePrecision

from drumtx.models.curves import CountedMultilabelAUROC, CountedMultilabelAveragePrecision, binned_confmat


def batches(seed: int, n_classes: int = 5, thresholds: int = 21):
    g = torch.Generator().manual_seed(seed)
    grid = torch.linspace(0, 1, thresholds)
    for n in (1000, 1, 357):
        p = torch.rand(n, n_classes, generator=g)
        p[: n // 4] = grid[torch.randint(0, thresholds, (n // 4, n_classes), generator=g)]  # exactly on a bin edge
        p[0, 0], p[-1, -1] = 0.0, 1.0
        y = (torch.rand(n, n_classes, generator=g) < p * 0.8).long()
        yield p, y


@pytest.mark.parametrize(("ours", "theirs"), [(CountedMultilabelAUROC, MultilabelAUROC),
                                              (CountedMultilabelAveragePrecision, MultilabelAveragePrecision)])
@pytest.mark.parametrize("thresholds", [21, 201])
def test_counted_update_equals_torchmetrics(ours, theirs, thresholds):
    a, b = ours(5, average=None, thresholds=thresholds), theirs(5, average=None, thresholds=thresholds)
    for p, y in batches(thresholds, thresholds=thresholds):
        a.update(p, y)
        b.update(p, y)
    assert torch.equal(a.confmat, b.confmat)
    torch.testing.assert_close(a.compute(), b.compute(), rtol=0, atol=0)


def test_binned_confmat_counts_every_frame_once():
    p, y = next(batches(0))
    cm = binned_confmat(p, y, torch.linspace(0, 1, 21))
    assert cm.shape == (21, 5, 2, 2) and bool((cm.sum((-1, -2)) == len(p)).all())
    assert torch.equal(cm[0, :, :, 1].sum(-1), torch.full((5,), len(p)))  # everything is >= 0


def test_exact_mode_and_bad_input():
    exact = CountedMultilabelAUROC(2, average=None, thresholds=None)  # unbinned: torchmetrics' own update
    exact.update(torch.tensor([[0.2, 0.9], [0.7, 0.1]]), torch.tensor([[0, 1], [1, 0]]))
    assert torch.equal(exact.compute(), torch.tensor([1.0, 1.0]))
    binned = CountedMultilabelAUROC(2, average=None, thresholds=11)
    with pytest.raises(ValueError, match="probabilities in"):
        binned.update(torch.tensor([[1.5, 0.1]]), torch.tensor([[1, 0]]))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        binned.update(torch.rand(4, 3), torch.ones(4, 3, dtype=torch.long))
