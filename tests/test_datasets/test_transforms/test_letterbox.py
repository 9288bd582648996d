# Copyright (c) mmamlris contributors. All rights reserved.
"""LetterBox: DETRIS's input (aspect kept, centred, bicubic, CLIP-mean border, soft GT)."""
import cv2
import numpy as np
import pytest
import torch

from mmamlris.datasets.transforms import LetterBox, PackRISInputs
from mmamlris.models.utils import unletterbox
from mmamlris.utils import InputValueError


def _sample(height=300, width=400):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    gt = np.zeros((height, width), np.uint8)
    gt[60:200, 100:300] = 1
    gt[0:10, 0:10] = 255  # ignore
    return dict(img=img, gt_seg_map=gt, img_path='a.jpg', img_shape=(height, width))


def test_a_wide_image_is_scaled_to_the_width_and_centred_vertically():
    out = LetterBox(size=448)(_sample())
    # 400x300 -> scale 448 / 400 = 1.12: 448 x 336, 56 rows of border above and below
    assert out['img'].shape == (448, 448, 3) and out['img_shape'] == (448, 448)
    assert out['letterbox_box'] == pytest.approx((0.0, 56.0, 448.0, 392.0))
    inverse = np.array(out['letterbox_inverse'])
    assert inverse == pytest.approx(np.array([[1 / 1.12, 0, 0], [0, 1 / 1.12, -56 / 1.12]]),
                                    abs=1e-5)
    mean_bgr = np.round([0.40821073 * 255, 0.4578275 * 255, 0.48145466 * 255])
    assert (out['img'][:50] == mean_bgr).all() and (out['img'][-50:] == mean_bgr).all()
    # the content is a bicubic warp of the image
    ref = cv2.warpAffine(_sample()['img'], cv2.getAffineTransform(
        np.float32([[0, 0], [400, 0], [0, 300]]), np.float32([[0, 56], [448, 56], [0, 392]])),
        (448, 448), flags=cv2.INTER_CUBIC, borderValue=mean_bgr.tolist())
    assert (out['img'] == ref).all()


def test_the_soft_target_is_the_0_255_mask_warped_bilinearly():
    out = LetterBox(size=448)(_sample())
    soft = out['gt_soft_seg_map']
    assert soft.dtype == np.float32 and soft.shape == (448, 448)
    assert soft.min() == 0 and soft.max() == 1
    fractional = (soft > 0) & (soft < 1)
    assert fractional.any()  # the object's border
    # the hard GT keeps labels (ignore included) with nearest neighbours
    hard = out['gt_seg_map']
    assert set(np.unique(hard)) == {0, 1, 255}
    assert ((soft == 1) <= (hard == 1)).all()
    # the ignore label is not part of the soft target
    assert soft[56:60, 0:8].max() == 0


def test_a_tall_image_is_centred_horizontally_and_the_inverse_maps_back():
    sample = _sample(height=400, width=200)
    gt = sample['gt_seg_map'] == 1
    out = LetterBox(size=112, soft_seg=False)(sample)
    x0, y0, x1, y1 = out['letterbox_box']
    assert (x0, y0, x1, y1) == pytest.approx((28, 0, 84, 112))
    assert 'gt_soft_seg_map' not in out
    canvas = torch.from_numpy(out['gt_seg_map'] == 1).float()[None]
    back = unletterbox(canvas, out['letterbox_inverse'], (400, 200))[0] > 0.5
    iou = (back.numpy() & gt).sum() / (back.numpy() | gt).sum()
    assert back.shape == (400, 200) and iou > 0.95


def test_a_gt_of_another_size_is_a_clear_error():
    sample = _sample()
    sample['gt_seg_map'] = sample['gt_seg_map'][:100]
    with pytest.raises(InputValueError, match='a.jpg'):
        LetterBox()(sample)


def test_pack_carries_the_soft_target_and_the_inverse():
    packed = PackRISInputs()(LetterBox(size=112)(_sample()))
    sample = packed['data_samples']
    assert sample.gt_soft_seg.data.dtype == torch.float32
    assert sample.gt_soft_seg.data.shape == sample.gt_sem_seg.data.shape == (1, 112, 112)
    assert np.array(sample.letterbox_inverse).shape == (2, 3)
    assert len(sample.letterbox_box) == 4
