# Copyright (c) mmamlris contributors. All rights reserved.
"""LAVT's language-aware Swin (mmseg's Swin + PixelWordFusion) against the official backbone.

``tests/data/lavt_official/backbone.pt`` was written outside this repository by the official
LAVT code (yz93/LAVT-RIS, commit 1da0af9, ``lib/backbone.py``, ``MultiModalSwinTransformer``;
imports of timm, mmseg and its checkpoint helper stubbed, nothing else changed), in eval mode:
``embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=7,
drop_path_rate=0, num_heads_fusion=[1, 2, 1, 2]`` (768-d words, as hard-coded there), every
parameter drawn after ``torch.manual_seed(0)``: norm weights 1 + N(0, 0.2²), biases
N(0, 0.1²), relative position tables N(0, 0.5²), the gates N(0, 0.05²), other weights
N(0, 0.15²). Inputs: images ``[2, 3, 64, 80]`` (odd maps at strides 16 and 32, so padding and
patch merging of odd sizes are exercised), words ``[2, 768, 6]`` with 6 and 4 real words. Stored:
the state dict, the inputs, the four output levels in fp32 and, from the same weights cast to
float64, in fp64.
"""
import os.path as osp

import pytest
import torch

from mmamlris.converters import convert_lavt_backbone
from mmamlris.registry import MODELS

DATA = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'lavt_official',
                'backbone.pt')


@pytest.fixture(scope='module')
def official():
    return torch.load(DATA, weights_only=True)


def build(official):
    cfg = official['cfg']
    swin = dict(embed_dims=cfg['embed_dim'], depths=cfg['depths'], num_heads=cfg['num_heads'],
                window_size=cfg['window_size'], drop_path_rate=0.0, out_indices=(0, 1, 2, 3))
    net = MODELS.build(dict(type='LAVTSwinTransformer', swin=swin,
                            fusion_heads=cfg['num_heads_fusion'])).eval()
    net.load_state_dict(convert_lavt_backbone(official['state']), strict=True)
    return net


def run(net, official, dtype=torch.float32):
    net = net.to(dtype)
    with torch.no_grad():
        return net(official['img'].to(dtype), official['l'].transpose(1, 2).to(dtype),
                   official['l_mask'][..., 0].bool())


def test_every_level_matches_the_official_backbone(official):
    net = build(official)
    # float64: the same computation to rounding
    for ours, ref in zip(run(net, official, torch.float64), official['outs_fp64']):
        assert ours.shape == ref.shape
        assert (ours - ref).abs().max() <= 1e-10
    # float32: within the official code's own fp32 rounding (its fp32 levels differ from its
    # fp64 ones by up to 2.8e-5 at these magnitudes)
    for ours, ref in zip(run(net, official), official['outs']):
        assert (ours - ref).abs().max() <= 1e-4


def test_the_text_changes_the_levels(official):
    net = build(official)
    other = dict(official, l=torch.flip(official['l'], dims=[2]))
    assert not torch.allclose(run(net, other)[-1], run(net, official)[-1])


def test_merging_without_the_channel_reorder_is_caught(official):
    from mmamlris.converters import swin as swin_conv
    net = build(official)
    plain = {k: v for k, v in official['state'].items()}
    state = convert_lavt_backbone(plain)
    # undo the reorder of one patch merging: the names load, the numbers do not match
    key = 'swin.stages.0.downsample.reduction.weight'
    state[key] = plain['layers.0.downsample.reduction.weight']
    assert not torch.equal(state[key], swin_conv.merging_to_mmseg(state[key]))
    net.load_state_dict(state, strict=True)
    ours = run(net, official)
    assert (ours[1] - official['outs'][1]).abs().max() > 1e-2


def test_bad_settings_are_refused():
    swin = dict(embed_dims=16, depths=[1, 1], num_heads=[1, 1], out_indices=(1, ))
    with pytest.raises(ValueError, match='out_indices must be every stage'):
        MODELS.build(dict(type='LAVTSwinTransformer', swin=swin, fusion_heads=[1, 1]))
    with pytest.raises(ValueError, match='one entry per stage'):
        MODELS.build(dict(type='LAVTSwinTransformer', swin=dict(swin, out_indices=(0, 1)),
                          fusion_heads=[1, 1, 1, 1]))
