# Copyright (c) mmamlris contributors. All rights reserved.
"""ReLA's query decoder and losses against the official code.

``tests/data/rela_official/decoder.pt`` was written outside this repository by the official ReLA
code (henghuiding/ReLA, commit 3ca9551: ``gres_model/modeling/transformer_decoder/
referring_transformer_decoder.py`` ``MultiScaleMaskedReferringDecoder`` and
``gres_model/modeling/criterion.py`` ``ReferringCriterion``; detectron2's ``configurable``,
``Conv2d``, ``Linear`` and ``Registry``, fvcore's ``c2_xavier_fill`` and torchvision's ONNX
check stubbed, nothing else changed), in eval mode: ``in_channels=32, hidden_dim=32,
num_queries=100, nheads=4, dim_feedforward=64, dec_layers=4`` (the cycle over the three
levels wraps around), ``mask_dim=32``, ``pre_norm=False``, 768-d words (hard-coded there).
Weights drawn after ``torch.manual_seed(0)``: LayerNorm scales 1 + N(0, 0.2²), biases
N(0, 0.1²), the language projection N(0, 0.05²) (zero-initialised officially, which would hide
the language path), the language gate 0.7 (0 officially), other weights N(0, 0.12²). Inputs:
three levels ``[2, 32, 3x4 / 6x8 / 12x16]``, mask features ``[2, 32, 24, 32]``, 7 words.
Stored: the decoder's outputs (``pred_logits``, ``pred_masks``, ``nt_label``) and the
criterion's ``loss_mask`` on them for a GT ``[2, 1, 96, 128]`` whose second sample has no
target.
"""
import os.path as osp

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmamlris.converters import convert_rela_decoder
from mmamlris.models.layers import RegionLanguageDecoder, ReLAOutputs
from mmamlris.registry import MODELS

DATA = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'rela_official',
                'decoder.pt')


@pytest.fixture(scope='module')
def official():
    return torch.load(DATA, weights_only=True)


def build(official, state=None):
    cfg = official['cfg']
    decoder = RegionLanguageDecoder(
        cfg['in_channels'], channels=cfg['hidden_dim'], mask_channels=cfg['mask_dim'],
        text_channels=768, num_queries=cfg['num_queries'], num_heads=cfg['nheads'],
        ffn_channels=cfg['dim_feedforward'], num_layers=cfg['dec_layers']).eval()
    decoder.load_state_dict(state or convert_rela_decoder(official['state'], prefix=''),
                            strict=True)
    return decoder


def run(decoder, official):
    with torch.no_grad():
        return decoder(official['x'], official['mask_features'],
                       official['lang'].transpose(1, 2), torch.ones(2, 7, dtype=torch.bool))


def test_decoder_outputs_equal_the_official_ones(official):
    out = run(build(official), official)
    # identical on this machine; the tolerance allows other CPUs' reductions
    assert (out.masks - official['pred_masks']).abs().max() <= 1e-5 * 800
    assert (out.minimap - official['pred_logits']).abs().max() <= 1e-5
    assert (out.no_target - official['nt_label']).abs().max() <= 1e-5


def test_loss_terms_sum_to_the_official_loss(official):
    head = MODELS.build(dict(
        type='ReLAHead', in_channels=[16, 32, 64, 128], in_index=[0, 1, 2, 3], channels=32,
        text_channels=768, align_corners=False,
        pixel_decoder=dict(
            strides=[4, 8, 16, 32], num_outs=3, norm_cfg=dict(type='GN', num_groups=8),
            encoder=dict(num_layers=1, layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=32, num_heads=2, num_levels=3, num_points=4,
                                   batch_first=True),
                ffn_cfg=dict(embed_dims=32, feedforward_channels=64))),
            positional_encoding=dict(num_feats=16, normalize=True)),
        decoder=dict(num_heads=4, ffn_channels=64, num_layers=4)))
    samples = []
    for i, empty in enumerate(official['empty'].tolist()):
        sample = SegDataSample(metainfo=dict(no_target=bool(empty)))
        sample.gt_sem_seg = PixelData(data=official['gt'][i].long())
        samples.append(sample)
    outputs = ReLAOutputs(official['pred_masks'], official['pred_logits'],
                          official['nt_label'])
    losses = head.loss_by_outputs(outputs, samples)
    assert set(losses) == {'loss_mask', 'loss_minimap', 'loss_no_target'}
    assert all(v > 0 for v in losses.values())
    total = sum(losses.values()) / head.loss_weight  # ReLA weights its single term by 5
    assert abs(total.item() - official['loss_mask'].item()) <= 1e-5 * official['loss_mask']


def test_a_wrong_mapping_is_caught(official):
    # the two MLPs have the same shapes at these sizes; swapping their first layers loads
    state = convert_rela_decoder(official['state'], prefix='')
    for name in ('weight', 'bias'):
        state[f'mask_embed.0.{name}'], state[f'no_target_embed.0.{name}'] = \
            state[f'no_target_embed.0.{name}'], state[f'mask_embed.0.{name}']
    out = run(build(official, state), official)
    assert (out.minimap - official['pred_logits']).abs().max() > 1e-2
