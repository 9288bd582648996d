# Copyright (c) mmamlris contributors. All rights reserved.
import pytest
import torch

from mmamlris.models.losses import RISDiceLoss


def test_dice_matches_hand_computation_two_channels():
    # object probability 1 on 2 of the 3 GT pixels and on 1 background pixel
    target = torch.tensor([[[1, 1, 1, 0, 0, 0]]]).view(1, 2, 3)
    fg = torch.tensor([[1., 1., 0., 1., 0., 0.]]).view(1, 2, 3)
    logits = torch.stack([(1 - fg) * 50, fg * 50], dim=1)  # softmax -> exactly 0/1
    loss = RISDiceLoss(eps=0.0)(logits, target)
    assert loss.item() == pytest.approx(1 - 2 * 2 / (3 + 3), abs=1e-6)


def test_ignored_pixels_count_nowhere_and_one_channel_works():
    target = torch.tensor([[[1, 255], [0, 0]]])
    logit = torch.tensor([[[[20., 20.], [-20., -20.]]]])  # sigmoid -> 1, 1, 0, 0
    loss = RISDiceLoss(eps=0.0)(logit, target)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_weight_name_and_bad_channels():
    loss = RISDiceLoss(loss_weight=2.0, loss_name='loss_objdice')
    assert loss.loss_name == 'loss_objdice'
    pred = torch.zeros(1, 2, 4, 4)
    target = torch.ones(1, 4, 4, dtype=torch.long)
    assert loss(pred, target).item() == pytest.approx(2 * (1 - (16 + 1) / (8 + 16 + 1)))
    with pytest.raises(ValueError, match='1 or 2 channels'):
        loss(torch.zeros(1, 3, 4, 4), target)
    with pytest.raises(ValueError, match='loss_'):
        RISDiceLoss(loss_name='dice')
