# Copyright (c) mmamlris contributors. All rights reserved.
"""LAVT's stage fusion (PWAM + language gate) against numbers of the official code.

``tests/data/lavt_official/fusion_stage.pt`` was written outside this repository by the
official LAVT code (yz93/LAVT-RIS, commit 1da0af9, ``lib/backbone.py``; imports of timm,
mmseg and its checkpoint helper stubbed, nothing else changed): one ``MMBasicLayer(dim=16,
depth=0, num_heads=2, window_size=7, num_heads_fusion=2)`` in eval mode (depth 0: no Swin
block, so its forward is the fusion and the gate alone), every parameter drawn after
``torch.manual_seed(0)`` from N(0, 0.3²) (weights), N(0, 0.5²) (biases) or N(0, 0.05²) (the
gate, which keeps its tanh between -0.15 and 0.12 rather than saturated); inputs: pixels
``x [2, 30, 16]`` (a 6 x 5 map), words ``l [2, 768, 7]`` (channels first, as there) with
``l_mask [2, 7, 1]`` keeping 5 and 3 words, the padding words of sample 0 set to 100. Stored:
the state dict, the inputs, the PWAM output ``x_res`` (what the official backbone hands to
its decoder) and the gated sum ``x_next`` (what continues to the next stage).
"""
import os.path as osp

import pytest
import torch

from mmamlris.converters import LAVT_FUSION_RENAMES, convert_lavt_fusion
from mmamlris.models.layers import PixelWordFusion

DATA = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'lavt_official',
                'fusion_stage.pt')
TOL = 1e-5


@pytest.fixture(scope='module')
def official():
    return torch.load(DATA, weights_only=True)


def run(official, renames=LAVT_FUSION_RENAMES):
    dims = official['dims']
    fusion = PixelWordFusion(dims['C'], 768, num_heads=dims['heads']).eval()
    fusion.load_state_dict(convert_lavt_fusion(official['state'], renames=renames), strict=True)
    words = official['l'].transpose(1, 2)  # [B, N, 768]: batch first, as our text encoder
    mask = official['l_mask'][..., 0].bool()
    with torch.no_grad():
        return fusion(official['x'], words, mask)


def test_fusion_matches_the_official_stage(official):
    x_next, fused = run(official)
    assert (fused - official['x_res']).abs().max() <= TOL
    assert (x_next - official['x_next']).abs().max() <= TOL
    assert not torch.equal(x_next, official['x'])  # the gate did something


def test_padding_words_do_not_matter(official):
    changed = dict(official, l=official['l'].clone())
    changed['l'][1, :, 3:] = -7.0  # sample 1 keeps 3 words
    assert torch.equal(run(changed)[1], run(official)[1])


def test_swapping_the_key_and_value_projections_is_caught(official):
    # both map 768 -> 16: the names would load, the numbers would not match
    swapped = tuple((old, {'attention.key.': 'attention.value.',
                           'attention.value.': 'attention.key.'}.get(new, new))
                    for old, new in LAVT_FUSION_RENAMES)
    fused = run(official, swapped)[1]
    assert (fused - official['x_res']).abs().max() > 100 * TOL


def test_a_missing_tensor_is_named(official):
    state = {k: v for k, v in official['state'].items() if 'f_value' not in k}
    with pytest.raises(KeyError, match='f_value'):
        convert_lavt_fusion(state)
