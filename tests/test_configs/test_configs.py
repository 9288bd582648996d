# Copyright (c) mmamlris contributors. All rights reserved.
"""Every config in configs/ builds, trains one step and predicts on tiny CPU inputs.

Pretrained files named by the GPU configs (Swin-B, BERT-base) are not on CI machines: the
test keeps the architecture and replaces the weights by a random initialisation of the
same shape, so it checks the real configs, not stand-ins.
"""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmamlris.registry import MODELS
from mmamlris.testing.ris_inputs import demo_ris_inputs
from mmamlris.utils import offline_model_cfg
from mmamlris.utils.amp import disable_amp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


def _training_setting(path, with_aml=True):
    """What a training step depends on besides the data: the model and the optimizer."""
    cfg = Config.fromfile(path)
    model = cfg.model.to_dict()
    if not with_aml:
        model.pop('aml', None)
    return repr((model, cfg.optim_wrapper.to_dict()))


# Configs that differ only in their data (refcoco / refcoco+ / refcocog of one model) train
# the same step: the first of each group is built and stepped, the others are checked to
# share its setting (and their data configs are tested in tests/test_datasets).
GROUPS = {}
for _path in CONFIGS:
    GROUPS.setdefault(_training_setting(_path), []).append(_path)
# A baseline whose model is an AML config's minus `model.aml` is not stepped on its own: the
# AML step runs the baseline's forward and loss on the masked images (stage 2) and its
# prediction, so stepping the AML config covers both (checked below: same model otherwise).
_HAS_AML = {_training_setting(paths[0], with_aml=False)
            for paths in GROUPS.values() if 'aml' in Config.fromfile(paths[0]).model}
STEPPED = [paths[0] for paths in GROUPS.values()
           if 'aml' in Config.fromfile(paths[0]).model
           or _training_setting(paths[0], with_aml=False) not in _HAS_AML]


def test_configs_were_found():
    names = {osp.basename(p) for p in CONFIGS}
    assert 'amlris_lite_minilm_synref-160x160.py' in names
    assert 'lite_minilm_synref-160x160.py' in names
    assert len([n for n in names if n.startswith('amlris_caris')]) == 3


def test_configs_of_one_model_share_its_training_step():
    # the three CARIS datasets, with and without AML, are two groups of three
    sizes = sorted(len(paths) for paths in GROUPS.values())
    assert sizes.count(3) >= 2 and sum(sizes) == len(CONFIGS)
    for paths in GROUPS.values():
        assert len({_training_setting(p) for p in paths}) == 1


def test_every_baseline_not_stepped_is_a_stepped_config_minus_aml():
    stepped = {_training_setting(p, with_aml=False) for p in STEPPED}
    for paths in GROUPS.values():
        assert _training_setting(paths[0], with_aml=False) in stepped
    # e.g. CARIS: its AML config is stepped, the baseline is that model without `aml`
    caris = [p for p in STEPPED if 'caris_swin-b' in p and 'official' not in p]
    assert len(caris) == 1 and 'amlris_caris' in caris[0]


@pytest.mark.parametrize('path', STEPPED, ids=lambda p: osp.relpath(p, ROOT))
def test_config_trains_one_step_and_predicts(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports.imports == ['mmamlris']
    torch.manual_seed(0)
    model = MODELS.build(offline_model_cfg(cfg.model)[0])
    model.init_weights()
    if not torch.cuda.is_available():
        disable_amp(cfg)  # as tools/train.py does on a machine without CUDA
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    assert optim_wrapper.__class__.__name__.startswith('SkipNonFinite')

    model.train()
    data = demo_ris_inputs(batch_size=2, image_shapes=((64, 64), ))
    for sample, flag in zip(data['data_samples'], (False, True)):
        sample.set_metainfo(dict(no_target=flag))  # read by a no-target head (gRefCOCO)
    log_vars = model.train_step(data, optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
    if cfg.model.get('aml') is not None:
        assert 'aml_mask_ratio' in log_vars
    model.eval()
    out = model.test_step(demo_ris_inputs(batch_size=1, image_shapes=((64, 64), )))
    assert out[0].pred_sem_seg.data.shape == (1, 64, 64)


def test_caris_aml_config_scores_the_stride16_level_at_half_scale_as_it_stands():
    """``--cfg-options model.stage1_scale=0.5 model.aml.scorer.in_index=-2
    model.aml.scorer.vis_channels=512`` on the CARIS config: the scorer reads the stride-16
    level, and a cell again covers 32x32 input pixels (stride 16 of the half-size image)."""
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/amlris/amlris_caris_swin-b_bert-base_2xb8-50e_refcoco-448x448.py'))
    cfg.merge_from_dict({'model.stage1_scale': 0.5, 'model.aml.scorer.in_index': -2,
                         'model.aml.scorer.vis_channels': 512})
    torch.manual_seed(0)
    model = MODELS.build(offline_model_cfg(cfg.model)[0])
    assert model.aml.scorer.vis_channels == 512
    model.train()
    data = model.data_preprocessor(demo_ris_inputs(batch_size=1, image_shapes=((128, 128), )),
                                   True)
    with torch.no_grad():
        out = model.mask_batch(data['inputs'], data['data_samples'])
    assert out.score_map.shape[-2:] == (4, 4)  # 128 / 2 / 16: one cell per 32x32 block
    assert out.block_mask.shape[-2:] == (128, 128)
