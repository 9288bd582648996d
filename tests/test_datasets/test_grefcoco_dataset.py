# Copyright (c) mmamlris contributors. All rights reserved.
"""GRefCOCODataset on a hand-written grefs file: int, list and [-1] ann ids."""
import json
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest

from mmamlris.datasets import GRefCOCODataset, LoadReferringMask, PackRISInputs, RefCOCODataset
from mmamlris.utils import InputError

REFER_TINY = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'refer_tiny')
# image 105 holds annotations 903 and 904; image 11 holds 501
GREFS = [
    dict(ref_id=1, image_id=11, ann_id=501, split='val', category_id=1,
         sentences=[dict(sent_id=10, sent='the square')]),
    dict(ref_id=2, image_id=105, ann_id=[903, 904], split='val', category_id=1,
         sentences=[dict(sent_id=20, sent='both shapes'), dict(sent_id=21, sent='the two')]),
    dict(ref_id=3, image_id=105, ann_id=[-1], split='val', category_id=None,
         sentences=[dict(sent_id=30, sent='the green dog')]),
    dict(ref_id=4, image_id=11, ann_id=[501], split='train', no_target=True,
         sentences=[dict(sent_id=40, sent='a cat')]),
]


@pytest.fixture
def root(tmp_path):
    out = tmp_path / 'grefcoco'
    shutil.copytree(REFER_TINY, out)
    with open(out / 'grefs(unc).json', 'w') as f:
        json.dump(GREFS, f)
    return str(out)


def build(root, split='val', split_file='grefs(unc).json', **kwargs):
    return GRefCOCODataset(data_root=root, ann_file='instances.json', split_file=split_file,
                           data_prefix=dict(img_path='images/'), split=split,
                           test_mode=split != 'train', **kwargs)


def items(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def test_int_list_and_no_target_ann_ids(root):
    by_sent = {i['sent_id']: i for i in items(build(root))}
    assert sorted(by_sent) == [10, 20, 21, 30]
    assert by_sent[10]['ann_id'] == [501] and not by_sent[10]['no_target']
    assert by_sent[20]['ann_id'] == [903, 904] and len(by_sent[20]['segmentations']) == 2
    assert by_sent[30]['ann_id'] == [] and by_sent[30]['no_target']
    assert by_sent[30]['segmentations'] == []
    train = items(build(root, 'train'))
    assert train[0]['no_target'] and train[0]['sentences'][0]['text'] == 'a cat'


def test_gt_is_the_union_or_empty(root):
    load = LoadReferringMask()
    by_sent = {i['sent_id']: i for i in items(build(root))}
    both = load.transform(dict(by_sent[20]))['gt_seg_map']
    singles = []
    for ann_id, seg in zip(by_sent[20]['ann_id'], by_sent[20]['segmentations']):
        singles.append(load.transform(dict(by_sent[20], segmentation=seg,
                                           segmentations=[seg]))['gt_seg_map'])
    assert np.array_equal(both, singles[0] | singles[1]) and both.sum() == 60  # the same box
    left = [[0, 0, 10, 0, 10, 10, 0, 10]]  # two disjoint 10x10 squares (polygons)
    right = [[20, 0, 30, 0, 30, 10, 20, 10]]
    union = load.transform(dict(height=30, width=40, segmentations=[left, right]))['gt_seg_map']
    assert union[:10, :10].all() and union[:10, 20:30].all()
    assert union.sum() == 2 * load.transform(dict(height=30, width=40,
                                                  segmentation=left))['gt_seg_map'].sum()
    none = load.transform(dict(by_sent[30]))['gt_seg_map']
    assert none.shape == (30, 40) and none.sum() == 0
    packed = PackRISInputs().transform(dict(by_sent[30], gt_seg_map=none,
                                            img=np.zeros((30, 40, 3), np.uint8)))
    assert packed['data_samples'].metainfo['no_target'] is True


def test_pickle_of_the_same_list_reads_the_same(root):
    with open(osp.join(root, 'grefs(unc).p'), 'wb') as f:
        pickle.dump(GREFS, f)
    assert items(build(root, split_file='grefs(unc).p')) == items(build(root))


@pytest.mark.parametrize('ann_id, message', [([501, -1], 'mixes -1'), ('501', 'list of ints'),
                                             ([12345], 'is not in')])
def test_bad_ann_ids_are_clear_errors(root, ann_id, message):
    refs = [dict(GREFS[0], ann_id=ann_id)]
    with open(osp.join(root, 'grefs(unc).json'), 'w') as f:
        json.dump(refs, f)
    with pytest.raises(InputError, match=message):
        build(root)


def test_shares_refcoco_arguments_and_errors(root):
    assert issubclass(GRefCOCODataset, RefCOCODataset)
    with pytest.raises(InputError, match="Split 'nosuch' is not in"):
        build(root, 'nosuch')
    with open(osp.join(root, 'grefs(unc).json'), 'w') as f:
        f.write('[{"ref_id": 1,')
    with pytest.raises(InputError, match='grefs\\(unc\\).json is not a valid JSON'):
        build(root)
