# Copyright (c) mmamlris contributors. All rights reserved.
"""recompute_bn_statistics: running statistics become the average over the given batches."""
import pytest
import torch
from torch import nn

from mmamlris.models.utils import batch_norms, recompute_bn_statistics


class TwoNorms(nn.Module):
    """conv -> BN -> ReLU -> dropout -> BN; ``test_step`` as an mmengine model has it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4, momentum=0.3)
        self.drop = nn.Dropout(0.5)
        self.bn2 = nn.BatchNorm2d(4)
        self.untracked = nn.BatchNorm2d(4, track_running_stats=False)
        self.unused = nn.BatchNorm2d(4)  # a training-only branch: the test forward skips it
        self.inputs = []

    def forward(self, x):
        return self.untracked(self.bn2(self.drop(self.bn1(self.conv(x)).relu())))

    def test_step(self, batch):
        self.inputs.append(batch['inputs'])
        return self(batch['inputs'])


def test_running_statistics_are_the_average_of_the_batch_statistics():
    torch.manual_seed(0)
    model = TwoNorms().train()
    model.drop.train(False)
    batches = [dict(inputs=torch.randn(5, 3, 6, 6) * (i + 1) + i) for i in range(4)]
    weights = {k: v.clone() for k, v in model.named_parameters()}
    model.unused.running_mean.fill_(2.0)
    assert batch_norms(model) == [model.bn1, model.bn2, model.unused]
    assert recompute_bn_statistics(model, iter(batches), num_batches=3) == 3
    assert len(model.inputs) == 3  # stops after num_batches; the fourth is never read

    # By hand: the conv output of each batch, its per-channel mean and unbiased variance.
    with torch.no_grad():
        feats = [model.conv(b['inputs']) for b in batches[:3]]
    means = torch.stack([f.mean(dim=(0, 2, 3)) for f in feats])
    variances = torch.stack([f.transpose(0, 1).flatten(1).var(dim=1) for f in feats])
    torch.testing.assert_close(model.bn1.running_mean, means.mean(0))
    torch.testing.assert_close(model.bn1.running_var, variances.mean(0))
    assert int(model.bn1.num_batches_tracked) == 3
    # bn2 saw the features normalised by bn1's *batch* statistics, dropout off.
    assert not torch.allclose(model.bn2.running_var, torch.ones(4))

    # Nothing else changed: a layer not reached, weights, momenta, the modes of every layer.
    assert torch.equal(model.unused.running_mean, torch.full((4, ), 2.0))
    assert int(model.unused.num_batches_tracked) == 0
    assert all(torch.equal(v, dict(model.named_parameters())[k]) for k, v in weights.items())
    assert (model.bn1.momentum, model.bn2.momentum) == (0.3, 0.1)
    assert model.training and model.bn1.training and not model.drop.training


def test_bad_calls_are_refused():
    model = TwoNorms()
    with pytest.raises(ValueError, match='num_batches must be >= 1'):
        recompute_bn_statistics(model, [], num_batches=0)
    model.bn1.running_mean.fill_(1.0)
    with pytest.raises(ValueError, match='no batch to average over'):
        recompute_bn_statistics(model, [], num_batches=2)
    assert torch.equal(model.bn1.running_mean, torch.ones(4))  # left as it was
    with pytest.raises(ValueError, match='no BatchNorm layer'):
        recompute_bn_statistics(nn.Sequential(nn.Linear(2, 2)), [], num_batches=1)
