# Copyright (c) mmamlris contributors. All rights reserved.
"""The tiny official DETRIS recorded in tests/data/detris_official/whole.pt (described in
test_detris_whole_model.py), shared by the DETRIS converter tests."""
import copy
import os.path as osp

import pytest
import torch

DETRIS_DATA = osp.join(osp.dirname(__file__), '..', 'data', 'detris_official', 'whole.pt')
DETRIS_TINY_MODEL = dict(
    type='AMLSegmentor',
    backbone=dict(
        type='DETRISDinov2',
        dinov2=dict(hidden_size=48, num_hidden_layers=4, num_attention_heads=2, patch_size=14,
                    image_size=70, num_register_tokens=4, layerscale_value=1.0, mlp_ratio=4,
                    layer_norm_eps=1e-6),
        adapter_layers=(1, 3), adapter_channels=32, text_channels=512, out_layers=(1, 2)),
    text_encoder=dict(
        type='DETRISCLIPText',
        clip=dict(vocab_size=100, hidden_size=512, intermediate_size=2048, num_hidden_layers=2,
                  num_attention_heads=4, max_position_embeddings=20, projection_dim=512,
                  hidden_act='quick_gelu', layer_norm_eps=1e-5, bos_token_id=98,
                  eos_token_id=99, pad_token_id=0),
        adapter_layers=(1, ), adapter_channels=16),
    decode_head=dict(type='DETRISHead', in_channels=[48, 48, 48], in_index=[0, 1, 2],
                     channels=512, text_channels=512, sentence_channels=512, num_heads=8,
                     num_layers=1, ffn_channels=64, dropout=0.1))


def official_state(recipe):
    """The official model's random weights, drawn again as the recording drew them."""
    generator = torch.Generator().manual_seed(recipe['seed'])
    state = {}
    for name, shape, kind in recipe['order']:
        if kind == 'keep':
            state[name] = recipe['kept'][name]
        elif kind == 'var':
            state[name] = torch.rand(shape, generator=generator) + 0.5
        elif kind == 'norm':
            state[name] = 1 + 0.2 * torch.randn(shape, generator=generator)
        else:
            state[name] = torch.randn(shape, generator=generator) * 0.2
    for name, factor in recipe['scaled'].items():
        state[name] = state[name] * factor
    for name, (total, first) in recipe['checks'].items():
        value = state[name]
        assert float(value.flatten()[0]) == first, f'{name}: not the recorded weights'
        assert abs(float(value.double().sum()) - total) <= 1e-6 * max(abs(total), 1.0), name
    return state


@pytest.fixture(scope='session')
def detris_official():
    """The recorded tensors, with ``state``: the official weights drawn again."""
    data = torch.load(DETRIS_DATA, weights_only=True)
    data['state'] = official_state(data['weights'])
    return data


@pytest.fixture
def detris_tiny_model_cfg():
    """The ``AMLSegmentor`` config of our model at the official model's tiny sizes."""
    return copy.deepcopy(DETRIS_TINY_MODEL)
