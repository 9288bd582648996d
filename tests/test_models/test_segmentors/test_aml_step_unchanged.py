# Copyright (c) mmamlris contributors. All rights reserved.
"""One fixed-seed training step gives the losses of the code before the seam refactor.

``tests/data/aml_step/losses_before_seams.pt`` holds the loss dicts (losses and AML
statistics) of ``AMLSegmentor.loss`` for the settings below, written by the code of commit
45c8763 (before the scorers declared their own levels and stage 1 was split from stage 2):
``tiny_segmentor_cfg`` models built after ``torch.manual_seed(0)`` and ``init_weights()``, in
training mode, on ``demo_ris_inputs(batch_size=2, image_shapes=((64, 64), (64, 96)), seed=3)``
through the data preprocessor, with ``torch.manual_seed(1)`` before the loss. The settings
are written here in today's form (the level a scorer reads is ``aml.scorer.in_index``, where
that commit had the segmentor's ``aml_feat_index``; the oracle's block is stated).

Since then AML no longer draws blocks that hold only batch padding (the 64x64 image's blocks
right of column 64 here). The file predates that rule, so the step below declares the padded
size as every sample's ``img_shape`` (no padding known), the case the rule leaves unchanged;
the rule itself is tested in ``tests/test_models/test_aml/test_alignment_aware_masking.py``
(``test_blocks_of_padding_only_are_never_candidates``), and the step with the real image sizes
is checked below to differ from the file.

On the kind of machine that wrote the file (2-core AMD EPYC, torch's AVX2 kernels) the losses
are bit-identical. Other CPUs round some reductions differently (torch picks AVX-512 kernels
where it can): on an AVX-512 Intel Xeon the largest difference measured was 8.5e-7 relative
(``aml_score_mean``), so values agree exactly or within :data:`RTOL`.
"""
import copy
import os.path as osp

import pytest
import torch

from mmamlris.registry import MODELS
from mmamlris.testing.ris_inputs import demo_ris_inputs, tiny_aml_cfg, tiny_segmentor_cfg

REFERENCE = osp.join(osp.dirname(__file__), '..', '..', 'data', 'aml_step',
                     'losses_before_seams.pt')
RTOL = 5e-6
RELEASED = dict(scorer=dict(type='ReleasedRelevanceScorer'),
                filter=dict(type='ReleasedBlockFilter', block_size=16))
SETTINGS = {
    'baseline': dict(aml=None),
    'patchmax': dict(aml=tiny_aml_cfg()),
    'learned_aux': dict(aml=tiny_aml_cfg(scorer=dict(
        type='LearnedScorer', embed_dim=16, aux_feat_indices=(-2, ), aux_channels=(32, )))),
    'oracle': dict(aml=tiny_aml_cfg(scorer=dict(type='OracleScorer', block_size=16))),
    'decoder': dict(aml=tiny_aml_cfg(scorer=dict(type='DecoderScorer'))),
    'released_step': dict(aml=tiny_aml_cfg(**RELEASED), stage1_loss_weight=0.5,
                          stage2_loss_weight=0.5, stage2_text='clean'),
    'half_scale': dict(aml=tiny_aml_cfg(vis_channels=32, scorer=dict(
        type='PatchMaxScorer', in_index=-2)), stage1_scale=0.5),
    'caris_patchmax': dict(aml=tiny_aml_cfg(), head='CARISHead'),
    'caris_plain_text': dict(aml=tiny_aml_cfg(), head='CARISHead', stage1_text_prompts=False),
    'caris_baseline': dict(aml=None, head='CARISHead'),
}


def step_losses(setting: dict, padding_known: bool = False) -> dict:
    torch.manual_seed(0)
    model = MODELS.build(tiny_segmentor_cfg(**copy.deepcopy(setting)))
    model.init_weights()
    model.train()
    data = model.data_preprocessor(
        demo_ris_inputs(batch_size=2, image_shapes=((64, 64), (64, 96)), seed=3), True)
    if not padding_known:
        for sample in data['data_samples']:
            sample.set_metainfo(dict(img_shape=tuple(data['inputs'].shape[-2:])))
    torch.manual_seed(1)
    return model(**data, mode='loss')


@pytest.fixture(scope='module')
def reference():
    return torch.load(REFERENCE, weights_only=True)


def same(value: torch.Tensor, expected: torch.Tensor) -> bool:
    """Bit-identical, or within :data:`RTOL` (another CPU's rounding)."""
    value = value.detach()
    return torch.equal(value, expected) or torch.allclose(
        value.double(), expected.double(), rtol=RTOL, atol=0.0)


@pytest.mark.parametrize('name', list(SETTINGS))
def test_training_step_losses_are_unchanged(name, reference):
    losses = step_losses(SETTINGS[name])
    assert list(losses) == list(reference[name])
    for key, value in reference[name].items():
        assert same(losses[key], value), (name, key, losses[key], value)


def test_a_changed_step_is_caught(reference):
    # the same PatchMax step with another filter draw (tau) no longer matches
    losses = step_losses(dict(aml=tiny_aml_cfg(tau=0.6)))
    assert any(not same(losses[k], v) for k, v in reference['patchmax'].items())


def test_the_step_masks_no_padding_only_block_when_the_image_sizes_are_known(reference):
    losses = step_losses(SETTINGS['patchmax'], padding_known=True)
    assert not same(losses['aml_mask_ratio'], reference['patchmax']['aml_mask_ratio'])
