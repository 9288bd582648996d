# Copyright (c) mmamlris contributors. All rights reserved.
"""DETRISCLIPText (transformers' CLIP text tower + hooked DenseTextAdapters) equals DETRIS's.

``tests/data/detris_official/clip_text.pt`` was written by DETRIS's ``model/clip.py`` with
``model/adapter.py`` (jiaqihuang01/DETRIS, commit c94b1e1), run outside this repository as
``Fusion.forward`` runs the text tower: a CLIP text transformer of width 32, 2 heads, 3 layers,
vocabulary 100 (``<sot>`` 98, ``<eot>`` 99), 20 positions, a causal mask of 9 tokens, a
24-wide projection, adapters (bottleneck 16) in layers 0 and 2. Text weights drawn at random
(seed 3: N(0, 0.2), LayerNorm weights 1 + N(0, 0.2), BN running variances in [0.5, 1.5]); two
expressions, one padded with zeros after its ``<eot>``. Eval-mode word features and sentence
(``<eot>`` feature @ projection); the same in train mode, with the gradients of
``mean(words**2) + mean(sentence**2)`` for two adapter weights.
"""
import os.path as osp

import pytest
import torch

from mmamlris.converters import convert_detris_clip_text, convert_detris_text_projection
from mmamlris.models.decode_heads import DETRISHead
from mmamlris.models.text_encoders import DETRISCLIPText

DATA = osp.join(osp.dirname(__file__), '..', 'data', 'detris_official', 'clip_text.pt')
TINY = dict(vocab_size=100, hidden_size=32, intermediate_size=128, num_hidden_layers=3,
            num_attention_heads=2, max_position_embeddings=20, projection_dim=24,
            hidden_act='quick_gelu', bos_token_id=98, eos_token_id=99, pad_token_id=0)


@pytest.fixture(scope='module')
def official():
    return torch.load(DATA, weights_only=True)


def build(official):
    model = DETRISCLIPText(TINY, adapter_layers=(0, 2), adapter_channels=16)
    state = {k: v for k, v in official['state'].items() if k != 'text_projection'}
    model.load_state_dict(convert_detris_clip_text(state), strict=True)
    return model


def sentence_of(official, words, mask):
    """CLIP's sentence feature as DETRISHead computes it (its frozen copy of the projection,
    the <eot> found as the last real token)."""
    head = DETRISHead(in_channels=[16, 16, 16], in_index=[0, 1, 2], channels=32,
                      text_channels=32, sentence_channels=24, num_heads=2, ffn_channels=32)
    head.load_state_dict(convert_detris_text_projection(official['state']['text_projection']),
                         strict=False)
    return head.sentence(words, mask)


def _close(ours, ref, rel=1e-5):
    return (ours - ref).abs().max() <= rel * max(ref.abs().max(), 1.0)


def test_words_and_sentence_match_the_official_tower(official):
    model = build(official).eval()
    ids = official['ids']
    mask = ids.ne(0)  # no real token has id 0 here
    words, text_mask = model(ids, mask)
    assert torch.equal(text_mask, mask.bool())
    assert _close(words, official['eval_words'])
    assert _close(sentence_of(official, words, mask), official['eval_sentence'])


def test_training_step_matches(official):
    model = build(official).train()
    ids = official['ids']
    words, mask = model(ids, ids.ne(0))
    sentence = sentence_of(official, words, mask)
    assert _close(words.detach(), official['train_words'])
    assert _close(sentence.detach(), official['train_sentence'])
    loss = words.square().mean() + sentence.square().mean()
    params = dict(model.named_parameters())
    names = {'transformer.resblocks.0.adapter.D_fc1.weight': 'adapters.0.down.weight',
             'transformer.resblocks.2.adapter.dense_branch3.1.conv.weight':
             'adapters.2.branches.2.1.conv.weight'}
    grads = torch.autograd.grad(loss, [params[names[n]] for n in official['grad_names']])
    for grad, ref in zip(grads, official['grads']):
        assert (grad - ref).abs().max() <= 1e-4 * ref.abs().max()


def test_no_padding_mask_is_applied_and_only_adapters_train(official):
    model = build(official).eval()
    ids = official['ids'][:1]
    full = model(ids, torch.ones_like(ids))[0]
    masked = model(ids, ids.ne(0))[0]
    assert torch.equal(full, masked)  # the mask is returned, never applied (as DETRIS)
    trainable = {n.split('.')[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'adapters'}
    with pytest.raises(ValueError, match='takes no extra tokens'):
        model(ids, ids.ne(0), torch.zeros(1, 2, 32))
    with pytest.raises(KeyError, match='text_projection belongs to the decode head'):
        convert_detris_clip_text(official['state'])
    assert not hasattr(model.model, 'text_projection')  # the head holds it


def test_an_unsplit_qkv_order_is_caught(official):
    state = convert_detris_clip_text(
        {k: v for k, v in official['state'].items() if k != 'text_projection'})
    key = 'model.encoder.layers.1.self_attn.'
    state[key + 'k_proj.weight'], state[key + 'v_proj.weight'] = \
        state[key + 'v_proj.weight'], state[key + 'k_proj.weight']
    model = DETRISCLIPText(TINY, adapter_layers=(0, 2), adapter_channels=16)
    model.load_state_dict(state, strict=True)
    words, _ = model.eval()(official['ids'], torch.ones_like(official['ids']))
    assert not _close(words, official['eval_words'], rel=1e-3)
