# Copyright (c) mmamlris contributors. All rights reserved.
"""The base dataset configs load, build on the fixture and run their pipelines end to end."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.dataset import ConcatDataset, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import mmamlris  # noqa: F401  (registers the components)
from mmamlris.datasets import RefCOCODataset
from mmamlris.registry import DATASETS

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs', '_base_',
    'datasets')

# config -> (data_root, ann_file, split_file, img_path prefix, img_scale, eval splits)
EXPECTED = {
    'refcoco.py': ('data/', 'refcoco/instances.json', 'refcoco/refs(unc).p',
                   'coco/train2014/', (448, 448), ['val', 'testA', 'testB']),
    'refcoco+.py': ('data/', 'refcoco+/instances.json', 'refcoco+/refs(unc).p',
                    'coco/train2014/', (448, 448), ['val', 'testA', 'testB']),
    'refcocog_umd.py': ('data/', 'refcocog/instances.json', 'refcocog/refs(umd).p',
                        'coco/train2014/', (448, 448), ['val', 'test']),
    'refcocog_google.py': ('data/', 'refcocog/instances.json', 'refcocog/refs(google).p',
                           'coco/train2014/', (448, 448), ['val']),
    'synref.py': ('data/synref', 'instances.json', 'refs(unc).p', 'images/', (160, 160),
                  ['val', 'testA', 'testB']),
}
# items in test mode per split of the fixture (make_refer_tiny.py)
FIXTURE_SENTENCES = dict(train=5, val=3, testA=3, testB=1, test=1)


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


def _load(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def _dataset_cfgs(loader_cfg):
    dataset = loader_cfg['dataset']
    return dataset['datasets'] if dataset['type'] == 'ConcatDataset' else [dataset]


def _on_fixture(loader_cfg, refer_tiny):
    """A copy of a dataloader config whose datasets read the fixture."""
    loader_cfg = copy.deepcopy(loader_cfg)
    for dataset in _dataset_cfgs(loader_cfg):
        dataset.update(data_root=refer_tiny, ann_file='instances.json',
                       split_file='refs(unc).p', data_prefix=dict(img_path='images/'))
    loader_cfg.update(num_workers=0, persistent_workers=False)
    return loader_cfg


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_config_content(name):
    cfg = _load(name)
    data_root, ann_file, split_file, img_prefix, img_scale, eval_splits = EXPECTED[name]
    assert cfg.dataset_type == 'RefCOCODataset'
    assert cfg.data_root == data_root and tuple(cfg.img_scale) == img_scale

    train_types = [t['type'] for t in cfg.train_pipeline]
    test_types = [t['type'] for t in cfg.test_pipeline]
    assert train_types == ['LoadRISImageFromFile', 'LoadReferringMask', 'Resize',
                           'SampleExpression', 'TokenizeExpression', 'PackRISInputs']
    # at test time the mask is decoded after Resize, so the GT keeps the original size
    assert test_types == ['LoadRISImageFromFile', 'Resize', 'LoadReferringMask',
                          'SampleExpression', 'TokenizeExpression', 'PackRISInputs']
    assert not any('Flip' in t for t in train_types + test_types)
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        resize = pipeline[[t['type'] for t in pipeline].index('Resize')]
        assert tuple(resize['scale']) == img_scale
        assert resize['keep_ratio'] is False and resize['backend'] == 'pillow'
        assert resize['interpolation'] == 'bilinear'
        tokenize = pipeline[4]
        assert tokenize['tokenizer'] == 'all-MiniLM-L6-v2' and tokenize['max_tokens'] == 20

    train = cfg.train_dataloader
    # SynRef trains by iterations; the RefCOCO family by epochs (the CARIS recipe)
    sampler = 'InfiniteSampler' if name == 'synref.py' else 'DefaultSampler'
    assert train.sampler == dict(type=sampler, shuffle=True)
    assert train.batch_size == 8
    assert train.num_workers == (2 if name == 'synref.py' else 4)
    assert train.dataset.split == 'train' and not train.dataset.get('test_mode', False)
    assert cfg.val_dataloader.dataset.split == 'val' and cfg.val_dataloader.dataset.test_mode
    assert cfg.val_dataloader.sampler == dict(type='DefaultSampler', shuffle=False)
    assert cfg.test_dataloader.sampler == dict(type='DefaultSampler', shuffle=False)
    assert cfg.test_dataloader.dataset.type == 'ConcatDataset'
    tests = cfg.test_dataloader.dataset.datasets
    assert [d.split for d in tests] == eval_splits
    for dataset in [train.dataset, cfg.val_dataloader.dataset] + tests:
        assert dataset.type == 'RefCOCODataset'
        assert (dataset.ann_file, dataset.split_file) == (ann_file, split_file)
        assert dataset.data_prefix == dict(img_path=img_prefix)
    assert all(d.test_mode for d in tests)
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator == dict(type='RISMetric', eval_resolution='resized')


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_datasets_build_on_fixture(name, refer_tiny):
    cfg = _load(name)
    train = DATASETS.build(_on_fixture(cfg.train_dataloader, refer_tiny)['dataset'])
    assert isinstance(train, RefCOCODataset) and len(train) == 2  # refs 3 and 8
    val = DATASETS.build(_on_fixture(cfg.val_dataloader, refer_tiny)['dataset'])
    assert len(val) == FIXTURE_SENTENCES['val']
    test = DATASETS.build(_on_fixture(cfg.test_dataloader, refer_tiny)['dataset'])
    assert isinstance(test, ConcatDataset)
    assert len(test) == sum(FIXTURE_SENTENCES[s] for s in EXPECTED[name][5])


def test_train_pipeline_end_to_end(refer_tiny):
    cfg = _load('synref.py')
    loader = Runner.build_dataloader(_on_fixture(cfg.train_dataloader, refer_tiny), seed=0)
    batch = next(iter(loader))
    assert len(batch['inputs']) == len(batch['data_samples']) == 8  # infinite sampler
    for inputs, sample in zip(batch['inputs'], batch['data_samples']):
        assert inputs.dtype == torch.uint8 and inputs.shape == (3, 160, 160)
        gt = sample.gt_sem_seg.data
        assert gt.shape == (1, 160, 160) and set(gt.unique().tolist()) <= {0, 1}
        assert sample.text_token_ids.shape == sample.text_attention_mask.shape == (20, )
        assert sample.text_token_ids[0] == 101
        assert sample.img_shape == (160, 160)
        assert sample.split == 'train' and sample.ref_id in (3, 8)
        assert sample.sent_id in ({10, 11, 12} if sample.ref_id == 3 else {20, 22})
        # image 11 (40x30 -> 160x160, x4 and x16/3): the 10x10 square plus the 4x6 one
        # cover 124 * 4 * 16/3 = 2645 pixels; image 27 (32x24 -> x5, x20/3): 80 * 100/3 = 2667
        expected = 124 * 4 * 16 / 3 if sample.ref_id == 3 else 80 * 5 * 20 / 3
        assert abs(gt.sum().item() - expected) / expected < 0.05
        if sample.ref_id == 3:
            # the square was drawn in RGB (40, 90, 220): the input stays BGR as loaded
            centre = inputs[:, 10 * 16 // 3, 10 * 4].tolist()
            assert np.allclose(centre, [220, 90, 40], atol=12)


def test_test_pipeline_end_to_end(refer_tiny):
    cfg = _load('refcoco.py')
    loader_cfg = _on_fixture(cfg.test_dataloader, refer_tiny)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    seen = []
    for batch in loader:
        for inputs, sample in zip(batch['inputs'], batch['data_samples']):
            assert inputs.shape == (3, 448, 448)
            gt = sample.gt_sem_seg.data
            # the GT is at the original image size
            assert gt.shape == (1, *sample.ori_shape)
            assert sample.ori_shape == ((24, 32) if sample.ann_id == 777 else (30, 40))
            assert tuple(sample.scale_factor) == (448 / sample.ori_shape[1],
                                                  448 / sample.ori_shape[0])
            assert int(sample.text_attention_mask.sum()) == \
                int((sample.text_token_ids != 0).sum())
            seen.append((sample.split, sample.ref_id, sample.sent_id, int(gt.sum())))
    # every sentence of every ref, each once; areas from make_refer_tiny.py
    assert sorted(seen) == sorted([
        ('val', 15, 30, 60), ('val', 15, 31, 60), ('val', 16, 40, 60),
        ('testA', 42, 50, 124), ('testA', 42, 52, 124), ('testA', 57, 60, 80),
        ('testB', 99, 70, 60)])


def test_pseudo_collate_val_batch(refer_tiny):
    cfg = _load('refcocog_umd.py')
    dataset = DATASETS.build(_on_fixture(cfg.val_dataloader, refer_tiny)['dataset'])
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    assert torch.stack(batch['inputs']).shape == (3, 3, 448, 448)
    assert {s.text for s in batch['data_samples']} == {
        'the tall strip', 'narrow thing on the left', 'same strip drawn as a polygon'}
