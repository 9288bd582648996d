# Copyright (c) mmamlris contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

from mmamlris.models.losses import RISCrossEntropyLoss


def test_weighted_mean_with_ignored_pixels():
    torch.manual_seed(0)
    pred = torch.randn(2, 2, 4, 4)
    target = torch.randint(0, 2, (2, 4, 4))
    target[0, 0, :] = 255
    loss = RISCrossEntropyLoss(class_weight=[0.9, 1.1])(pred, target)
    # independent: sum of w_y * nll over valid pixels / sum of w_y
    logp = pred.log_softmax(1)
    valid = target != 255
    y = target.clamp(max=1)
    nll = -logp.gather(1, y[:, None])[:, 0]
    w = torch.tensor([0.9, 1.1])[y]
    expected = (nll * w)[valid].sum() / w[valid].sum()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_one_channel_matches_bce_and_loss_weight():
    pred = torch.tensor([[[[2.0, -1.0], [0.5, 3.0]]]])
    target = torch.tensor([[[1, 0], [255, 1]]])
    loss = RISCrossEntropyLoss(loss_weight=2.0)(pred, target)
    keep = torch.tensor([True, True, False, True])
    expected = F.binary_cross_entropy_with_logits(
        pred.flatten()[keep], torch.tensor([1., 0., 1.]))
    assert loss.item() == pytest.approx(2 * expected.item(), rel=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match='w_background'):
        RISCrossEntropyLoss(class_weight=[1, 2, 3])
    with pytest.raises(ValueError, match='channels'):
        RISCrossEntropyLoss()(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
