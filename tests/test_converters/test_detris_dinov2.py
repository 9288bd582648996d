# Copyright (c) mmamlris contributors. All rights reserved.
"""DETRISDinov2 (transformers' DINOv2 + hooked DenseAligners) equals DETRIS's DINOv2.

``tests/data/detris_official/dinov2.pt`` was written by DETRIS's vendored DINOv2 with its
adapters (jiaqihuang01/DETRIS, commit c94b1e1: ``model/dinov2``, ``model/adapter.py``; the
package ``__init__`` emptied, xFormers disabled), run outside this repository as
``Fusion.forward`` runs it: a ViT with embed 48, 4 blocks, 2 heads, patch 14, a position
table for 70 px (5x5 patches), 4 registers, LayerScale, aligners (bottleneck 32, 512-wide
text) in blocks 1 and 3; levels after blocks 1 and 2 and the normed last block, patch tokens
only. Every weight drawn at random (seed 1: N(0, 0.2), norm weights 1 + N(0, 0.2), BN running
variances in [0.5, 1.5]); images 2x3x56x56 (4x4 patches: the table is interpolated), 7 random
words. Eval-mode levels in fp32 and fp64; train-mode levels with the aligners' attention
dropout drawn after ``torch.manual_seed(7)`` and the gradients of ``sum(mean(level**2))``
for three aligner weights; the table interpolated for a 56x84 image.
"""
import os.path as osp

import pytest
import torch

from mmamlris.converters import convert_detris_dinov2
from mmamlris.models.backbones import DETRISDinov2

DATA = osp.join(osp.dirname(__file__), '..', 'data', 'detris_official', 'dinov2.pt')
TINY = dict(hidden_size=48, num_hidden_layers=4, num_attention_heads=2, patch_size=14,
            image_size=70, num_register_tokens=4, layerscale_value=1.0, mlp_ratio=4,
            layer_norm_eps=1e-6)


@pytest.fixture(scope='module')
def official():
    return torch.load(DATA, weights_only=True)


def build(official, dtype=torch.float32):
    model = DETRISDinov2(TINY, adapter_layers=(1, 3), adapter_channels=32, text_channels=512,
                         out_layers=(1, 2))
    model.load_state_dict(convert_detris_dinov2(official['state']), strict=True)
    return model.to(dtype)


def _tokens(levels):
    return [level.flatten(2).transpose(1, 2) for level in levels]


def test_levels_match_the_official_model(official):
    model = build(official, torch.float64).eval()
    words = official['text'].double()
    mask = torch.ones(words.shape[:2], dtype=torch.bool)
    exact = _tokens(model(official['img'].double(), words, mask))
    for ours, ref in zip(exact, official['eval_levels_fp64']):
        assert (ours - ref).abs().max() <= 1e-10
    model.float()
    for ours, ref in zip(_tokens(model(official['img'], official['text'], mask)),
                         official['eval_levels']):
        scale = ref.abs().max()
        assert (ours - ref).abs().max() <= 1e-5 * max(scale, 1.0)


def test_training_levels_and_aligner_gradients_match(official):
    model = build(official).train()
    mask = torch.ones(official['text'].shape[:2], dtype=torch.bool)
    torch.manual_seed(7)  # the same dropout draws in the aligners
    levels = _tokens(model(official['img'], official['text'], mask))
    for ours, ref in zip(levels, official['train_levels']):
        assert (ours.detach() - ref).abs().max() <= 1e-4 * max(ref.abs().max(), 1.0)
    loss = sum(level.square().mean() for level in levels)
    ours = dict(model.named_parameters())
    names = {'blocks.1.adapter.D_fc1.weight': 'aligners.1.down.weight',
             'blocks.3.adapter.cross.text_proj.weight': 'aligners.3.text_proj.weight',
             'blocks.1.adapter.dense_branch2.1.conv.weight': 'aligners.1.branches.1.1.conv.weight'}
    grads = torch.autograd.grad(loss, [ours[names[n]] for n in official['grad_names']])
    for grad, ref in zip(grads, official['grads']):
        assert (grad - ref).abs().max() <= 1e-4 * ref.abs().max()


def test_position_table_is_interpolated_as_dinov2_does(official):
    model = build(official)
    embeddings = model.model.embeddings
    table = embeddings.interpolate_pos_encoding(torch.zeros(1, 25, 48), 56, 84)
    torch.testing.assert_close(table, official['pos_embed_56x84'], rtol=0, atol=1e-6)
    # transformers' own (exact size, antialiased) is another function: it would not pass
    from transformers.models.dinov2_with_registers import modeling_dinov2_with_registers as hf
    theirs = hf.Dinov2WithRegistersEmbeddings.interpolate_pos_encoding(
        embeddings, torch.zeros(1, 25, 48), 56, 84)
    assert (theirs - official['pos_embed_56x84']).abs().max() > 1e-3


def test_only_the_aligners_train_and_a_wrong_qkv_split_is_caught(official):
    model = build(official)
    trainable = {n.split('.')[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'aligners'}
    state = convert_detris_dinov2(official['state'])
    key = 'model.encoder.layer.0.attention.'
    state[key + 'q_proj.weight'], state[key + 'k_proj.weight'] = \
        state[key + 'k_proj.weight'], state[key + 'q_proj.weight']
    wrong = DETRISDinov2(TINY, adapter_layers=(1, 3), adapter_channels=32, text_channels=512,
                         out_layers=(1, 2))
    wrong.load_state_dict(state, strict=True)  # same shapes: loads silently
    mask = torch.ones(official['text'].shape[:2], dtype=torch.bool)
    last = _tokens(wrong.eval()(official['img'], official['text'], mask))[-1]
    assert not torch.allclose(last, official['eval_levels'][-1], atol=1e-3)
    with pytest.raises(ValueError, match='block 7 does not exist'):
        DETRISDinov2(TINY, adapter_layers=(7, ))
