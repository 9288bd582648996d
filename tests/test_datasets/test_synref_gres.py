# Copyright (c) mmamlris contributors. All rights reserved.
"""SynRef --gres: multi-target and no-target expressions, checkable against the attributes."""
import filecmp
import json
import os.path as osp

import pytest

from mmamlris.datasets import GRefCOCODataset
from mmamlris.datasets.synref import generate_synref


@pytest.fixture(scope='module')
def gres_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synref_gres'))
    stats = generate_synref(root, num_images=40, img_size=64, seed=3, gres=True,
                            no_target_ratio=0.5)
    return root, stats


def test_referred_sets_match_the_rules(gres_root):
    root, stats = gres_root
    with open(osp.join(root, 'grefs(unc).json')) as f:
        grefs = json.load(f)
    with open(osp.join(root, 'instances.json')) as f:
        anns = json.load(f)['annotations']
    by_image = {}
    for ann in anns:
        by_image.setdefault(ann['image_id'], []).append(ann)
    multi = no_target = 0
    for ref in grefs:
        if 'rule' not in ref:  # a single-target ref of refs(unc).p
            assert len(ref['ann_id']) == 1 and not ref['no_target']
            continue
        matching = [a['id'] for a in by_image[ref['image_id']]
                    if all(a['attributes'][k] == v for k, v in ref['rule'].items())]
        if ref['no_target']:
            no_target += 1
            assert ref['ann_id'] == [-1] and matching == []
        else:
            multi += 1
            assert sorted(ref['ann_id']) == sorted(matching) and len(matching) >= 2
    assert stats['gres'] == dict(expressions=len(grefs), multi_target=multi,
                                 no_target=no_target)
    assert multi > 10 and 8 <= no_target <= 32  # 40 images, no_target_ratio 0.5


def test_refer_files_unchanged_and_deterministic(gres_root, tmp_path):
    root, _ = gres_root
    plain = str(tmp_path / 'plain')
    generate_synref(plain, num_images=40, img_size=64, seed=3)
    for name in ('refs(unc).p', 'instances.json'):
        assert filecmp.cmp(osp.join(root, name), osp.join(plain, name), shallow=False)
    again = str(tmp_path / 'again')
    generate_synref(again, num_images=40, img_size=64, seed=3, gres=True, no_target_ratio=0.5)
    assert filecmp.cmp(osp.join(root, 'grefs(unc).json'), osp.join(again, 'grefs(unc).json'),
                       shallow=False)


def test_loads_as_grefcoco(gres_root):
    root, _ = gres_root
    for split in ('train', 'val'):
        dataset = GRefCOCODataset(data_root=root, ann_file='instances.json',
                                  split_file='grefs(unc).json', data_prefix=dict(
                                      img_path='images/'), split=split, test_mode=True)
        items = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert any(i['no_target'] for i in items) or split == 'val'
        assert any(len(i['ann_id']) > 1 for i in items)
