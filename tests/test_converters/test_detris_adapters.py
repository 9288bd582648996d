# Copyright (c) mmamlris contributors. All rights reserved.
"""DenseAligner and DenseTextAdapter equal DETRIS's adapters on converted weights.

``tests/data/detris_official/adapters.pt`` was written by the official ``model/adapter.py``
(jiaqihuang01/DETRIS, commit c94b1e1), run outside this repository: a ``DenseAligner`` with
token width 32, bottleneck 32 (branches 16, 2->8, 2->8), cross-attention width 16 with 2 heads
and 24-wide text, on 2 images of 5 prefix + 4x4 patch tokens and 7 words; a ``TextAdapter``
with width 24, bottleneck 16 (8, 1->4, 1->4) on 2 x 7 words. Every weight and BN statistic
was drawn at random (N(0, 0.3), running variances in [0.5, 1.5], seeds 0 and 2; inputs seed 1).
Eval-mode outputs in float32 and float64 (the official modules cast with ``.double()``); a
train-mode output (attention dropout 0.1 drawn after
``torch.manual_seed(5)``), the BN statistics after it, and for the aligner the gradient of
``sum(y**2)`` with respect to its first projection.
"""
import os.path as osp

import pytest
import torch

from mmamlris.converters import convert_detris_adapter
from mmamlris.models.layers import DenseAligner, DenseTextAdapter

DATA = osp.join(osp.dirname(__file__), '..', 'data', 'detris_official', 'adapters.pt')


@pytest.fixture(scope='module')
def official():
    return torch.load(DATA, weights_only=True)


def _aligner(official):
    module = DenseAligner(32, 32, 24, attn_dims=16, num_heads=2)
    module.load_state_dict(convert_detris_adapter(official['visual']['state']), strict=True)
    return module


def _text_adapter(official):
    module = DenseTextAdapter(24, 16)
    module.load_state_dict(convert_detris_adapter(official['text']['state']), strict=True)
    return module


def test_dense_aligner_matches_in_eval_and_training(official):
    ref = official['visual']
    module = _aligner(official).eval()
    exact = module.double()(ref['x'].double(), ref['text'].double(), (4, 4))
    assert (exact - ref['eval_out_fp64']).abs().max() <= 1e-10
    module.float()
    # fp32: outputs of magnitude ~3; 1.7e-5 apart at most on an AVX-512 Xeon
    torch.testing.assert_close(module(ref['x'], ref['text'], (4, 4)), ref['eval_out'],
                               rtol=1e-5, atol=1e-5)
    module.train()
    torch.manual_seed(5)  # the same attention dropout draw
    out = module(ref['x'], ref['text'], (4, 4))
    torch.testing.assert_close(out.detach(), ref['train_out'], rtol=1e-5, atol=1e-5)
    grad, = torch.autograd.grad(out.square().sum(), module.down.weight)
    scale = ref['train_grad'].abs().max()  # ~2.1e3; 2e-3 apart at most (9e-7 of it)
    assert (grad - ref['train_grad']).abs().max() <= 1e-5 * scale
    after = convert_detris_adapter(ref['state_after'])
    state = module.state_dict()
    for key, value in after.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=1e-6)


def test_dense_text_adapter_matches_in_eval_and_training(official):
    ref = official['text']
    module = _text_adapter(official).eval()
    exact = module.double()(ref['x'].double())
    assert (exact - ref['eval_out_fp64']).abs().max() <= 1e-10
    module.float()
    torch.testing.assert_close(module(ref['x']), ref['eval_out'], rtol=0, atol=1e-5)
    module.train()
    torch.testing.assert_close(module(ref['x']).detach(), ref['train_out'], rtol=0, atol=1e-5)
    for key, value in convert_detris_adapter(ref['state_after']).items():
        torch.testing.assert_close(module.state_dict()[key], value, rtol=0, atol=1e-6)


def test_swapped_projections_are_caught(official):
    # token width = bottleneck here: down and up have the same shape and a swap loads silently
    state = convert_detris_adapter(official['visual']['state'])
    swapped = {k.replace('down.', 'tmp.').replace('up.', 'down.').replace('tmp.', 'up.'): v
               for k, v in state.items()}
    module = DenseAligner(32, 32, 24, attn_dims=16, num_heads=2).eval()
    module.load_state_dict(swapped, strict=True)
    ref = official['visual']
    assert not torch.allclose(module(ref['x'], ref['text'], (4, 4)), ref['eval_out'],
                              atol=1e-3)


def test_unknown_keys_are_named():
    with pytest.raises(KeyError, match="'gate.weight' belongs to no part of a DETRIS adapter"):
        convert_detris_adapter({'gate.weight': torch.zeros(1)})
