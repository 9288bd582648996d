# Copyright (c) mmamlris contributors. All rights reserved.
"""SentenceGatedNeck, VLTransformerDecoder and DynamicConvProjector equal DETRIS's (CRIS's)
neck, decoder and projector on converted weights.

``tests/data/detris_official/head.pt`` was written by ``model/layers.py`` of jiaqihuang01/DETRIS
(commit c94b1e1; the unused ``fvcore`` import stubbed), run outside this repository and
composed as ``DETRIS.forward`` composes them: ``Neck(in_channels=[16, 16, 16],
out_channels=[8, 16, 32], stride=[1, 1, 1], d_model=16, nhead=2)`` (512-wide sentence, fixed
in that code), ``Decoder(2 layers, 16 wide, 2 heads, FFN 32, dropout 0.1)``,
``Projector(512, 8, 3)``; three 2x16x4x4 levels, a 2x512 sentence, 2x6 words with padding
(ids ``[sot, 5, 9, eot, 0, 0]``). Weights drawn at random (seed 4: N(0, 0.2), norm weights
1 + N(0, 0.2), BN running variances in [0.5, 1.5]). Eval outputs (neck, decoder, logits);
train-mode logits with the dropout drawn after ``torch.manual_seed(9)`` and the gradients of
``mean(logits**2)`` for four weights.
"""
import os.path as osp

import pytest
import torch
import torch.nn as nn

from mmamlris.converters import convert_detris_head
from mmamlris.models.layers import (DynamicConvProjector, SentenceGatedNeck,
                                    VLTransformerDecoder)

DATA = osp.join(osp.dirname(__file__), '..', 'data', 'detris_official', 'head.pt')


@pytest.fixture(scope='module')
def official():
    return torch.load(DATA, weights_only=True)


def build(official):
    head = nn.Module()
    head.neck = SentenceGatedNeck([16, 16, 16], 16, 512, num_heads=2)
    head.decoder = VLTransformerDecoder(2, 16, 2, 32, dropout=0.1)
    head.projector = DynamicConvProjector(16, 512)
    head.load_state_dict(convert_detris_head(official['state']), strict=True)
    return head


def run(head, official):
    fq = head.decoder(head.neck(official['levels'], official['sentence']), official['words'],
                      official['text_mask'])
    return fq, head.projector(fq, official['sentence'])


def _close(ours, ref, rel=1e-5):
    return (ours - ref).abs().max() <= rel * max(ref.abs().max(), 1.0)


def test_neck_decoder_and_logits_match(official):
    head = build(official).eval()
    assert _close(head.neck(official['levels'], official['sentence']), official['eval_neck'])
    fq, pred = run(head, official)
    assert _close(fq, official['eval_decoded'])
    assert pred.shape == official['eval_pred'].shape == (2, 1, 16, 16)
    assert _close(pred, official['eval_pred'])


def test_training_logits_and_gradients_match(official):
    head = build(official).train()
    torch.manual_seed(9)  # the same dropout draws
    _, pred = run(head, official)
    assert _close(pred.detach(), official['train_pred'])
    ours = {'neck.fusion4.multihead_attn.in_proj_weight': 'neck.gates.1.in_proj_weight',
            'decoder.layers.1.ffn.0.weight': 'decoder.layers.1.ffn.0.weight',
            'proj.txt.weight': 'projector.txt.weight',
            'neck.coordconv.0.conv1.0.weight': 'neck.coord_conv.0.conv.weight'}
    params = dict(head.named_parameters())
    grads = torch.autograd.grad(pred.square().mean(),
                                [params[ours[n]] for n in official['grad_names']])
    for grad, ref in zip(grads, official['grads']):
        assert (grad - ref).abs().max() <= 1e-4 * ref.abs().max()


def test_padding_is_masked_and_a_level_swap_is_caught(official):
    head = build(official).eval()
    fq, _ = run(head, official)
    words = official['words'].clone()
    words[0, 4:] += 100.0  # the padded positions of the first expression
    again = head.decoder(head.neck(official['levels'], official['sentence']), words,
                         official['text_mask'])
    assert torch.allclose(again[0], fq[0], atol=1e-5)  # ignored
    state = convert_detris_head(official['state'])
    for part in ('conv.weight', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var'):
        a, b = f'neck.level_proj.0.{part}', f'neck.level_proj.1.{part}'
        state[a], state[b] = state[b], state[a]  # same shapes: loads silently
    wrong = build(official)
    wrong.load_state_dict(state, strict=True)
    _, pred = run(wrong.eval(), official)
    assert not _close(pred, official['eval_pred'], rel=1e-3)
    with pytest.raises(KeyError, match="'neck.gate.weight' belongs to no part"):
        convert_detris_head({'neck.gate.weight': torch.zeros(1)})
