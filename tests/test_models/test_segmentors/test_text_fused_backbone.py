# Copyright (c) mmamlris contributors. All rights reserved.
"""The early-fusion seam: a backbone that reads the expression, with and without AML."""
import copy

import pytest
import torch
from torch import nn

from mmamlris.models import BaseTextFusedBackbone
from mmamlris.models.utils import sentence_feature
from mmamlris.registry import MODELS
from mmamlris.testing.ris_inputs import demo_ris_inputs, tiny_aml_cfg, tiny_segmentor_cfg

WIDTHS = (8, 16, 32, 64)  # the tiny ResNet's, so that the tiny heads fit


@MODELS.register_module(force=True)
class GatedToyBackbone(BaseTextFusedBackbone):
    """Four strided convolutions, each followed by a language gate (sentence -> channels)."""

    def __init__(self, text_channels: int = 32):
        super().__init__()
        ins = (3, ) + WIDTHS[:-1]
        self.stages = nn.ModuleList(
            nn.Conv2d(i, o, 3, stride=4 if k == 0 else 2, padding=1)
            for k, (i, o) in enumerate(zip(ins, WIDTHS)))
        self.gates = nn.ModuleList(nn.Linear(text_channels, o) for o in WIDTHS)

    def forward(self, inputs, text_feats, text_mask):
        sentence = sentence_feature(text_feats, text_mask)
        x, outs = inputs, []
        for stage, gate in zip(self.stages, self.gates):
            x = stage(x).relu() * gate(sentence).sigmoid()[:, :, None, None]
            outs.append(x)
        return tuple(outs)


FUSED = dict(type='GatedToyBackbone')


def build(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(tiny_segmentor_cfg(backbone=copy.deepcopy(FUSED), **kwargs))
    model.init_weights()
    return model


def batch(model, training=True, seed=0):
    return model.data_preprocessor(demo_ris_inputs(batch_size=2, seed=seed), training)


def record_backbone_calls(model):
    calls = []
    model.backbone.register_forward_hook(lambda m, args, out: calls.append(
        (len(args), torch.is_grad_enabled(), [o.detach().clone() for o in out])))
    return calls


@pytest.mark.parametrize('aml', [None, tiny_aml_cfg(tau=0.9, rho=1.0)])
def test_the_backbone_reads_the_text_and_everything_learns(aml):
    model = build(aml=aml)
    assert model.backbone_takes_text and model._stage1_backbone is None
    calls = record_backbone_calls(model)
    losses = model(**batch(model), mode='loss')
    model.parse_losses(losses)[0].backward()
    assert [n for n, _, _ in calls] == [3] * (1 if aml is None else 2)
    if aml is not None:  # stage 1 without gradient, stage 2 with
        assert [grad for _, grad, _ in calls] == [False, True]
        assert losses['aml_mask_ratio'] > 0
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing  # the gates and the text encoder learn through the backbone


def test_stage1_features_are_the_text_fused_ones():
    model = build(aml=tiny_aml_cfg())
    data = batch(model)
    calls = record_backbone_calls(model)
    with torch.no_grad():
        model.mask_batch(data['inputs'], data['data_samples'])
        other = copy.deepcopy(data['data_samples'])
        for sample in other:  # another expression, the same images
            sample.text_token_ids = torch.flip(sample.text_token_ids, dims=[0])
            sample.text_attention_mask = torch.ones_like(sample.text_attention_mask)
        model.mask_batch(data['inputs'], other)
    first, second = calls[0][2], calls[1][2]
    assert not torch.equal(first[-1], second[-1])


def test_predict_is_bit_identical_with_aml_on_or_off():
    baseline = build().eval()
    with_aml = build(aml=tiny_aml_cfg())
    with_aml.load_state_dict(baseline.state_dict(), strict=False)
    with_aml.eval()
    data = demo_ris_inputs(batch_size=2, image_shapes=((64, 96), ))
    calls = record_backbone_calls(with_aml)
    for a, b in zip(baseline.test_step(copy.deepcopy(data)),
                    with_aml.test_step(copy.deepcopy(data))):
        assert torch.equal(a.seg_logits.data, b.seg_logits.data)
    assert [n for n, _, _ in calls] == [3]


def test_visual_text_prompts_cannot_go_with_early_fusion():
    with pytest.raises(ValueError, match='prompts the text with visual features'):
        build(head='CARISHead')
    # without its prompts CARIS's decoder fits
    cfg = tiny_segmentor_cfg(backbone=copy.deepcopy(FUSED), head='CARISHead',
                             aml=tiny_aml_cfg())
    cfg['decode_head']['num_text_prompts'] = 0
    model = MODELS.build(cfg)
    losses = model(**batch(model), mode='loss')
    assert torch.isfinite(losses['decode.loss_ce'])


def test_extract_feat_needs_the_text():
    model = build()
    with pytest.raises(ValueError, match='takes the text features'):
        model.extract_feat(torch.zeros(1, 3, 32, 32))
