# Copyright (c) mmamlris contributors. All rights reserved.
"""The robustness benchmark's pieces: corruption groups, pipeline insertion, mPC / rPC, and
the dataloader edits the evaluation tools share."""
import pytest

from mmamlris.evaluation import (OCCLUSION_FRACTIONS, degradation_transform,
                                 expand_corruptions, robustness_summary, robustness_table,
                                 with_data_root, with_degradation, with_objects,
                                 with_splits)
from mmamlris.utils import InputValueError, load_config
from mmamlris.testing.tiny_configs import REPO_ROOT


def test_groups_expand_in_order_without_repeats():
    assert expand_corruptions(['noise', 'gaussian_noise', 'occlusion']) == [
        'gaussian_noise', 'shot_noise', 'impulse_noise', 'occlusion']
    everything = expand_corruptions(['all'])
    assert len(everything) == 16 and everything[-1] == 'occlusion'
    assert expand_corruptions(['benchmark']) == everything[:15]
    with pytest.raises(InputValueError, match="Unknown corruption 'rain'.*groups: benchmark"):
        expand_corruptions(['rain'])


def test_corruptions_confined_to_a_region_are_named_with_an_at():
    assert expand_corruptions(['blur@object', 'fog', 'fog@context']) == [
        'defocus_blur@object', 'glass_blur@object', 'motion_blur@object', 'zoom_blur@object',
        'fog', 'fog@context']
    assert degradation_transform('fog@context', 2) == dict(
        type='Corrupt', corruption='fog', severity=2, seed=0, cache=32, region='context')
    for bad in ('occlusion@object', 'ris@context', 'fog@edges'):
        with pytest.raises(InputValueError, match=f"Corruption '{bad}': an ImageNet-C name"):
            expand_corruptions([bad])
    with pytest.raises(InputValueError, match="Unknown corruption 'rain@object'"):
        expand_corruptions(['rain@object'])


def test_occlusion_severities_are_fractions_of_the_object():
    assert [degradation_transform('occlusion', s)['fraction'] for s in range(1, 6)] == \
        list(OCCLUSION_FRACTIONS) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert degradation_transform('fog', 4, seed=3) == dict(
        type='Corrupt', corruption='fog', severity=4, seed=3, cache=32)
    with pytest.raises(InputValueError, match='1..5'):
        degradation_transform('occlusion', 6)


def test_the_transform_goes_right_after_the_image_loader_of_every_split():
    cfg = load_config(f'{REPO_ROOT}/configs/lite/lite_mbv2_minilm_synref-160x160.py')
    transform = degradation_transform('fog', 2)
    loader = with_degradation(cfg.test_dataloader, transform)
    datasets = loader['dataset']['datasets']
    assert len(datasets) == 3  # val, testA, testB
    for dataset in datasets:
        types = [step['type'] for step in dataset['pipeline']]
        assert types[:3] == ['LoadRISImageFromFile', 'Corrupt', 'Resize']
        assert types.count('Corrupt') == 1
    # the config itself is not changed
    assert 'Corrupt' not in [s['type'] for s in cfg.test_dataloader.dataset.datasets[0].pipeline]
    # a wrapped dataset (RepeatDataset-style) is reached too
    wrapped = with_degradation(dict(dataset=dict(type='RepeatDataset', times=2, dataset=dict(
        pipeline=[dict(type='LoadRISImageFromFile')]))), transform)
    assert [s['type'] for s in wrapped['dataset']['dataset']['pipeline']] == [
        'LoadRISImageFromFile', 'Corrupt']


def test_a_pipeline_without_the_loader_is_a_clear_error():
    with pytest.raises(InputValueError, match='no LoadRISImageFromFile'):
        with_degradation(dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile')])),
                         degradation_transform('fog', 1))


def test_mpc_averages_the_imagenet_c_corruptions_and_keeps_occlusion_apart():
    clean = dict(mIoU=60.0)
    corrupted = {
        'fog': {1: dict(mIoU=50.0), 5: dict(mIoU=30.0)},
        'gaussian_noise': {1: dict(mIoU=55.0), 5: dict(mIoU=25.0)},
        'occlusion': {1: dict(mIoU=58.0), 5: dict(mIoU=40.0)},
    }
    summary = robustness_summary(clean, corrupted, 'mIoU')
    assert summary['mPC'] == pytest.approx(40.0)  # (50 + 30 + 55 + 25) / 4
    assert summary['rPC'] == pytest.approx(100 * 40 / 60)
    assert summary['fog'] == 40.0 and summary['occlusion'] == 49.0
    assert summary['occlusion_rel'] == pytest.approx(100 * 49 / 60)
    table = robustness_table(clean, corrupted, 'mIoU')
    assert '| fog | 50.00 | 30.00 | 40.00 |' in table
    assert 'occlusion (10%, 20%, 30%, 40%, 50%) | 58.00 | 40.00 | 49.00 |' in table
    assert 'mPC 40.00, rPC 66.7 %' in table
    only_occlusion = robustness_summary(clean, {'occlusion': corrupted['occlusion']}, 'mIoU')
    assert 'mPC' not in only_occlusion
    # a corruption confined to a region is reported but not averaged into mPC
    confined = dict(corrupted, **{'fog@object': {1: dict(mIoU=0.0)}})
    summary = robustness_summary(clean, confined, 'mIoU')
    assert summary['mPC'] == pytest.approx(40.0) and summary['fog@object'] == 0.0


def test_another_data_root_reaches_every_split():
    cfg = load_config(f'{REPO_ROOT}/configs/lite/lite_mbv2_minilm_synref-160x160.py')
    loader = with_data_root(cfg.test_dataloader, 'data/synref_overlap')
    assert [d['data_root'] for d in loader['dataset']['datasets']] == ['data/synref_overlap'] * 3
    assert cfg.test_dataloader.dataset.datasets[0].data_root == 'data/synref'
    with pytest.raises(InputValueError, match='no dataset with a data_root'):
        with_data_root(dict(dataset=dict(type='X')), 'x')


def test_splits_keep_only_the_named_children_of_the_test_set():
    cfg = load_config(f'{REPO_ROOT}/configs/lite/lite_mbv2_minilm_synref-160x160.py')
    loader = with_splits(cfg.test_dataloader, ['testB', 'val'])
    assert [d['split'] for d in loader['dataset']['datasets']] == ['val', 'testB']  # in order
    assert len(cfg.test_dataloader.dataset.datasets) == 3  # the config is not changed
    single = dict(dataset=dict(type='RefCOCODataset', split='val'))
    assert with_splits(single, ['val']) == single
    with pytest.raises(InputValueError, match="no split 'train'; its splits: \\['val'\\]"):
        with_splits(single, ['train'])


def test_every_split_gets_all_objects_packed_once():
    cfg = load_config(f'{REPO_ROOT}/configs/lite/lite_mbv2_minilm_synref-160x160.py')
    loader = with_objects(with_objects(cfg.test_dataloader))  # twice: added once
    for dataset in loader['dataset']['datasets']:
        types = [step['type'] for step in dataset['pipeline']]
        assert dataset['with_objects'] is True
        assert types.count('LoadObjectsMask') == 1
        assert types.index('LoadObjectsMask') == types.index('PackRISInputs') - 1
    assert 'with_objects' not in cfg.test_dataloader.dataset.datasets[0]  # a copy
    with pytest.raises(InputValueError, match='no PackRISInputs to add LoadObjectsMask'):
        with_objects(dict(dataset=dict(type='X', pipeline=[dict(type='Resize')])))
