# Copyright (c) mmamlris contributors. All rights reserved.
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmamlris.datasets import PackRISInputs


def _results(img):
    return dict(
        img=img, gt_seg_map=np.array([[0, 1, 1], [0, 0, 1]], dtype=np.uint8),
        text_token_ids=np.array([101, 2187, 102, 0], dtype=np.int64),
        text_attention_mask=np.array([1, 1, 1, 0], dtype=np.int64),
        img_path='a.jpg', ori_shape=(2, 3), img_shape=(2, 3), scale_factor=(1.0, 1.0),
        text='left', ref_id=4, sent_id=8, ann_id=16, category_id=1, split='val',
        segmentation=[[0, 0, 1, 1, 2, 2]], sentences=[dict(sent_id=8, text='left')])


def test_pack_color_image():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    packed = PackRISInputs()(_results(img))
    inputs, sample = packed['inputs'], packed['data_samples']
    assert set(packed) == {'inputs', 'data_samples'}
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 2, 3)
    assert inputs.is_contiguous()
    for c in range(3):
        assert inputs[c].tolist() == img[:, :, c].tolist()

    assert isinstance(sample, SegDataSample)
    assert isinstance(sample.gt_sem_seg, PixelData)
    gt = sample.gt_sem_seg.data
    assert gt.dtype == torch.int64 and gt.shape == (1, 2, 3)
    assert gt[0].tolist() == [[0, 1, 1], [0, 0, 1]]
    assert sample.text_token_ids.dtype == torch.int64
    assert sample.text_token_ids.tolist() == [101, 2187, 102, 0]
    assert sample.text_attention_mask.tolist() == [1, 1, 1, 0]
    # token tensors are data fields (moved to the device), strings are metainfo
    assert 'text_token_ids' in sample.keys() and 'text_token_ids' not in sample.metainfo_keys()
    assert sample.metainfo == dict(
        img_path='a.jpg', ori_shape=(2, 3), img_shape=(2, 3), scale_factor=(1.0, 1.0),
        text='left', ref_id=4, sent_id=8, ann_id=16, category_id=1, split='val')


def test_pack_gray_image_and_no_gt():
    results = _results(np.zeros((2, 3), dtype=np.uint8))
    del results['gt_seg_map']
    packed = PackRISInputs(meta_keys=('img_path', 'missing_key'))(results)
    assert packed['inputs'].shape == (1, 2, 3)
    sample = packed['data_samples']
    assert 'gt_sem_seg' not in sample
    assert sample.metainfo == dict(img_path='a.jpg')
    assert 'PackRISInputs' in repr(PackRISInputs())


def test_pack_non_contiguous_image():
    img = np.zeros((3, 2, 3), dtype=np.uint8).transpose(1, 0, 2)  # a view, not C-contiguous
    img[0, 1] = [7, 8, 9]
    packed = PackRISInputs()(_results(img))
    assert packed['inputs'].is_contiguous()
    assert packed['inputs'][:, 0, 1].tolist() == [7, 8, 9]
