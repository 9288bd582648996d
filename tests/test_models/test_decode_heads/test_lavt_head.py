# Copyright (c) mmamlris contributors. All rights reserved.
"""LAVTHead against the official LAVT decoder (``SimpleDecoding``).

``tests/data/lavt_official/decoder.pt`` was written outside this repository by the official
LAVT code (yz93/LAVT-RIS, commit 1da0af9, ``lib/mask_predictor.py``, unchanged):
``SimpleDecoding(128)`` (levels of 16, 32, 64, 128 channels, 64 hidden) in eval mode, its
parameters drawn after ``torch.manual_seed(0)`` (BN weights 1 + N(0, 0.2²), everything else
N(0, 0.1²)), BN running means N(0, 0.2²) and variances U(0.5, 1.5); inputs: levels
``[2, 16, 20, 24]``, ``[2, 32, 10, 12]``, ``[2, 64, 5, 6]``, ``[2, 128, 3, 3]`` (odd sizes:
the upsampling to the next level is not a plain doubling). Stored:
the state dict, the inputs, the logits at stride 4 and the logits upsampled to 80 x 96 with
``align_corners=True`` (LAVT's prediction size).
"""
import os.path as osp

import pytest
import torch

from mmamlris.converters import convert_lavt_decoder
from mmamlris.registry import MODELS

DATA = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'data',
                'lavt_official', 'decoder.pt')


@pytest.fixture(scope='module')
def official():
    return torch.load(DATA, weights_only=True)


def build():
    return MODELS.build(dict(
        type='LAVTHead', in_channels=[16, 32, 64, 128], in_index=[0, 1, 2, 3], channels=64,
        num_classes=2, out_channels=2, dropout_ratio=0.0, align_corners=True,
        loss_decode=dict(type='RISCrossEntropyLoss', class_weight=[0.9, 1.1]))).eval()


def test_logits_match_the_official_decoder(official):
    head = build()
    head.load_state_dict(convert_lavt_decoder(official['state'], prefix=''), strict=True)
    text, mask = torch.zeros(2, 3, 8), torch.ones(2, 3, dtype=torch.bool)
    with torch.no_grad():
        logits = head(official['feats'], text, mask)
        full = head.predict(official['feats'], text, mask,
                            [dict(img_shape=(80, 96), pad_shape=(80, 96))] * 2, {})
    assert (logits - official['logits']).abs().max() <= 1e-4  # logits of std 14
    assert (full - official['full']).abs().max() <= 1e-4
    assert (logits - official['logits']).abs().max() / official['logits'].abs().max() < 1e-6


def test_swapped_stages_are_caught(official):
    # conv1_3 and conv1_2 have different shapes: a wrong order fails to load
    head = build()
    state = convert_lavt_decoder(official['state'], prefix='')
    state['fuse.1.0.conv.weight'], state['fuse.2.0.conv.weight'] = (
        state['fuse.2.0.conv.weight'], state['fuse.1.0.conv.weight'])
    with pytest.raises(RuntimeError, match='size mismatch'):
        head.load_state_dict(state, strict=True)
    # BN statistics left at their defaults load but do not match
    state = convert_lavt_decoder(official['state'], prefix='')
    for key in [k for k in state if 'running_' in k]:
        state[key] = torch.zeros_like(state[key]) if 'mean' in key else \
            torch.ones_like(state[key])
    head.load_state_dict(state, strict=True)
    with torch.no_grad():
        logits = head(official['feats'], torch.zeros(2, 3, 8), torch.ones(2, 3, dtype=bool))
    assert (logits - official['logits']).abs().max() > 1e-2
