# Copyright (c) mmamlris contributors. All rights reserved.
"""The one IoU primitive (intersect_and_union) and the RIS reduction (ris_scores)."""
import numpy as np
import pytest
import torch

from mmamlris.evaluation import intersect_and_union, mask_iou, ris_scores


def test_intersect_and_union_counts_nonzero_as_object_and_skips_ignored_pixels():
    pred = torch.tensor([[0, 1, 2, 1], [0, 0, 1, 1]])  # 2 is an object label too (!= 0)
    gt = torch.tensor([[1, 1, 0, 255], [0, 1, 1, 0]])
    # valid pixels: all but (0, 3); pred object: (0,1) (0,2) (1,2) (1,3); gt object: (0,0)
    # (0,1) (1,1) (1,2)
    assert intersect_and_union(pred, gt) == (2, 6)
    assert intersect_and_union(pred.numpy(), gt.numpy()) == (2, 6)
    assert intersect_and_union(pred.bool(), gt) == (2, 6)
    assert intersect_and_union(pred, gt, ignore_index=-1)[1] == 7  # (0, 3) counts then
    with pytest.raises(ValueError, match='prediction is'):
        intersect_and_union(pred, gt[:1])


def test_mask_iou_and_the_empty_union():
    assert mask_iou(np.ones((2, 2)), np.ones((2, 2))) == 1.0
    assert mask_iou(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0  # U = 0 counts 0


def test_ris_scores_follow_the_definitions():
    records = [dict(i=1, u=2), dict(i=0, u=0), dict(i=3, u=4), dict(i=7, u=10)]
    out = ris_scores(records, (0.5, 0.7, 0.75))
    assert out['mIoU'] == pytest.approx(100 * (0.5 + 0 + 0.75 + 0.7) / 4)
    assert out['oIoU'] == pytest.approx(100 * 11 / 16)
    # exactly 1/2 and exactly 0.7 count at their thresholds
    assert out['prec@0.5'] == 75.0 and out['prec@0.7'] == 50.0 and out['prec@0.75'] == 25.0
    assert ris_scores([], (0.5, )) == {'mIoU': 0.0, 'oIoU': 0.0, 'prec@0.5': 0.0}


def test_resize_labels_is_nearest_on_the_last_two_dims_and_keeps_the_dtype():
    from mmamlris.evaluation import resize_labels
    labels = torch.arange(4, dtype=torch.uint8).view(1, 2, 2)
    big = resize_labels(labels, (4, 4))
    assert big.dtype == torch.uint8 and big.shape == (1, 4, 4)
    assert torch.equal(big[0], labels[0].repeat_interleave(2, 0).repeat_interleave(2, 1))
    assert torch.equal(resize_labels(big[0], (2, 2)), labels[0])  # 2-D too
    assert resize_labels(labels, (2, 2)) is labels  # already that size: untouched
