# Copyright (c) mmamlris contributors. All rights reserved.
"""aml_target_auc, aml_object_masked and aml_context_masked against hand-computed values."""
import pytest
import torch

from mmamlris.models.aml import alignment_statistics, block_targets, ranking_auc


def test_ranking_auc_is_the_mann_whitney_statistic_with_ties_as_halves():
    scores = torch.tensor([[0.9, 0.5, 0.5, 0.1, 0.7]])
    positive = torch.tensor([[True, True, False, False, False]])
    valid = torch.ones_like(positive)
    auc, defined = ranking_auc(scores, positive, valid)
    # pairs (pos, neg): (.9,.5) (.9,.1) (.9,.7) win; (.5,.5) tie; (.5,.1) win; (.5,.7) loss
    assert defined.tolist() == [True]
    assert auc.item() == pytest.approx((4 + 0.5) / 6)
    # invalid entries count as neither class; a row with one class only is undefined (0.5)
    valid[0, 4] = False
    assert ranking_auc(scores, positive, valid)[0].item() == pytest.approx(3.5 / 4)
    auc, defined = ranking_auc(scores, torch.zeros_like(positive), valid)
    assert defined.tolist() == [False] and auc.item() == 0.5


def test_perfect_and_reversed_rankings():
    scores = torch.tensor([[1.0, 0.9, 0.2, 0.1], [0.1, 0.2, 0.9, 1.0]])
    positive = torch.tensor([[True, True, False, False]] * 2)
    auc, _ = ranking_auc(scores, positive, torch.ones_like(positive))
    assert auc.tolist() == [1.0, 0.0]


def test_block_targets_and_masked_fractions_on_a_hand_made_batch():
    gt = torch.zeros(2, 8, 8, dtype=torch.long)
    gt[0, 0, 0] = 1  # image 0: one object pixel in block (0, 0)
    gt[0, 4:, 4:] = 255  # block (1, 1) is only ignored pixels
    gt[1] = 0  # image 1: no object
    target, valid = block_targets(gt, (4, 4))
    assert target[0].tolist() == [[True, False], [False, False]]
    assert valid[0].tolist() == [[True, True], [True, False]]
    assert not target[1].any() and valid[1].all()

    scores = torch.tensor([[[[0.9, 0.1], [0.5, 0.0]]], [[[0.3, 0.3], [0.3, 0.3]]]])
    block_mask = torch.zeros(2, 1, 8, 8, dtype=torch.bool)
    block_mask[0, 0, :4, 4:] = True  # image 0: block (0, 1) masked (16 context pixels)
    block_mask[1, 0, :4, :] = True  # image 1: half of the image
    stats = alignment_statistics(scores, block_mask, gt, (4, 4))
    # only image 0 has both kinds of block: its object block scores highest
    assert stats['aml_target_auc'].item() == pytest.approx(1.0)
    assert stats['aml_object_masked'].item() == 0.0  # only image 0 has an object
    # context: image 0 has 63 - 16 = 47 valid context pixels, 16 masked; image 1: 32 of 64
    assert stats['aml_context_masked'].item() == pytest.approx((16 / 47 + 32 / 64) / 2)
    per = alignment_statistics(scores, block_mask, gt, (4, 4), per_image=True)
    assert per['aml_target_auc_defined'].tolist() == [True, False]
    assert per['aml_object_defined'].tolist() == [True, False]


def test_statistics_no_image_defines_are_left_out_not_faked():
    """A batch without any object ranks nothing: no AUC of 0.5 (chance), no object share."""
    gt = torch.zeros(2, 8, 8, dtype=torch.long)
    stats = alignment_statistics(torch.rand(2, 1, 2, 2), torch.zeros(2, 1, 8, 8, dtype=bool), gt,
                                 (4, 4))
    assert set(stats) == {'aml_context_masked'}
    assert all(torch.isfinite(v) for v in stats.values())
    # all ignored: nothing is defined
    stats = alignment_statistics(torch.rand(1, 1, 2, 2), torch.zeros(1, 1, 8, 8, dtype=bool),
                                 torch.full((1, 8, 8), 255), (4, 4))
    assert stats == {}
