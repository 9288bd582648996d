# Copyright (c) mmamlris contributors. All rights reserved.
"""The pieces of the "which context matters" oracle ablation: all-object masks from the
dataset to the scorer, OracleScorer(hide=...), and AlignmentAwareFilter(count=...)."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmamlris.datasets import RefCOCODataset
from mmamlris.datasets.transforms import LoadObjectsMask, LoadReferringMask, PackRISInputs
from mmamlris.models.aml.filters import AlignmentAwareFilter
from mmamlris.registry import MODELS
from mmamlris.utils import InputValueError

BLOCK = 4


def _sample(target: np.ndarray, objects: np.ndarray) -> SegDataSample:
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(target[None].astype(np.int64)))
    sample.gt_objects = PixelData(data=torch.from_numpy(objects[None].astype(np.int64)))
    return sample


def _scene():
    """A 12x12 image, 3x3 blocks of 4: the target in block (0, 0), a distractor in (1, 1)
    and one straddling blocks (2, 1) and (2, 2)."""
    target = np.zeros((12, 12), np.uint8)
    target[1:3, 1:3] = 1
    objects = target.copy()
    objects[5:7, 5:7] = 1
    objects[9:11, 6:10] = 1
    return target, objects


@pytest.mark.parametrize('hide, candidates', [
    ('context', {(0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)}),
    ('background', {(0, 1), (0, 2), (1, 0), (1, 2), (2, 0)}),
    ('distractors', {(1, 1), (2, 1), (2, 2)}),
])
def test_oracle_hides_the_chosen_kind_of_context(hide, candidates):
    scorer = MODELS.build(dict(type='OracleScorer', vis_channels=8, text_channels=8,
                               block_size=BLOCK, hide=hide))
    target, objects = _scene()
    scores = scorer([torch.zeros(1, 8, 3, 3)], torch.zeros(1, 2, 8),
                    torch.ones(1, 2, dtype=torch.bool), [_sample(target, objects)], (12, 12))
    blocks = scores[0, 0, ::BLOCK, ::BLOCK]
    assert {tuple(ij) for ij in (blocks == 0).nonzero().tolist()} == candidates


def test_oracle_without_the_objects_says_how_to_get_them():
    scorer = MODELS.build(dict(type='OracleScorer', vis_channels=8, text_channels=8,
                               block_size=BLOCK, hide='background'))
    sample = _sample(*_scene())
    del sample.gt_objects
    with pytest.raises(ValueError, match='with_objects=True and add LoadObjectsMask'):
        scorer([torch.zeros(1, 8, 3, 3)], torch.zeros(1, 2, 8),
               torch.ones(1, 2, dtype=torch.bool), [sample], (12, 12))
    with pytest.raises(ValueError, match="hide must be 'context', 'background'"):
        MODELS.build(dict(type='OracleScorer', vis_channels=8, text_channels=8, hide='all'))


def test_filter_count_masks_a_fixed_share_of_all_blocks_among_the_weak():
    torch.manual_seed(0)
    scores = torch.ones(2, 1, 4, 4)  # 16 blocks of 4x4 on a 16x16 image
    scores[0, 0, :, :3] = 0  # 12 weak blocks
    scores[1, 0, 0, :2] = 0  # 2 weak blocks
    selection = AlignmentAwareFilter(block_size=4, count=0.25)(scores, (16, 16))
    assert selection.masked.flatten(1).sum(1).tolist() == [4, 2]  # 4 of 16; only 2 weak
    assert not (selection.masked & ~selection.weak_blocks).any()
    with pytest.raises(ValueError, match="count .* needs granularity='block'"):
        AlignmentAwareFilter(count=0.2, granularity='pixel')
    with pytest.raises(ValueError, match='count'):
        AlignmentAwareFilter(count=1.5)


def test_objects_mask_from_the_dataset_to_the_data_sample(tmp_path):
    from mmamlris.datasets.synref import generate_synref
    generate_synref(str(tmp_path), num_images=4, img_size=64, seed=0)
    kwargs = dict(data_root=str(tmp_path), ann_file='instances.json',
                  split_file='refs(unc).p', data_prefix=dict(img_path='images/'),
                  split='train', pipeline=[])
    assert 'object_segmentations' not in RefCOCODataset(**kwargs)[0]
    item = RefCOCODataset(with_objects=True, **kwargs)[0]
    assert len(item['object_segmentations']) >= 3  # SynRef: 3-6 objects per image
    item['segmentation'] = item['object_segmentations'][0]
    target = LoadReferringMask()(dict(item))['gt_seg_map']
    objects = LoadObjectsMask()(dict(item))['gt_objects_map']
    assert objects.shape == target.shape and objects.sum() > target.sum()
    assert not (target & ~objects).any()  # the referred object is one of the objects
    resized = LoadObjectsMask()(dict(item, img_shape=(32, 40)))['gt_objects_map']
    assert resized.shape == (32, 40) and set(np.unique(resized)) == {0, 1}
    packed = PackRISInputs()(dict(gt_seg_map=target, gt_objects_map=objects))
    assert torch.equal(packed['data_samples'].gt_objects.data[0],
                       torch.from_numpy(objects.astype(np.int64)))
    with pytest.raises(InputValueError, match='with_objects=True'):
        LoadObjectsMask()(dict(height=4, width=4, img_path='x.jpg'))
