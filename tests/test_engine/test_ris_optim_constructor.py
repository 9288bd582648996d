# Copyright (c) mmamlris contributors. All rights reserved.
import pytest
import torch.nn as nn
from mmengine.optim import build_optim_wrapper


class Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.backbone.absolute_pos_embed = nn.Parameter(nn.init.zeros_(nn.Parameter()))
        self.text_encoder = nn.ModuleDict(dict(embeddings=nn.Embedding(5, 4),
                                               layer=nn.Linear(4, 4), norm=nn.LayerNorm(4)))
        self.backbone_head = nn.Linear(4, 4)  # starts with 'backbone' but is not under it
        self.decode_head = nn.ModuleDict(dict(conv=nn.Conv2d(4, 2, 1), gn=nn.GroupNorm(2, 4)))
        self.decode_head.prompt_embed = nn.Parameter(nn.init.zeros_(nn.Parameter()))


def groups_by_param(model, paramwise_cfg):
    wrapper = build_optim_wrapper(model, dict(
        constructor='RISOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01),
        paramwise_cfg=paramwise_cfg))
    table = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            table[id(p)] = (group['lr'], group['weight_decay'])
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[k]: v for k, v in table.items()}, wrapper.optimizer.param_groups


def test_lr_mult_and_no_decay_combine():
    model = Toy()
    table, groups = groups_by_param(model, dict(
        lr_mult={'backbone': 0.1, 'text_encoder': 0.1},
        no_decay_keys=('absolute_pos_embed', 'embeddings', 'prompt')))
    assert table['backbone.0.weight'] == pytest.approx((1e-5, 0.01))
    # a norm inside the 0.1x backbone keeps the 0.1x lr AND loses its decay
    assert table['backbone.1.weight'] == pytest.approx((1e-5, 0.0))
    assert table['backbone.absolute_pos_embed'] == pytest.approx((1e-5, 0.0))
    assert table['text_encoder.embeddings.weight'] == pytest.approx((1e-5, 0.0))
    assert table['text_encoder.norm.bias'] == pytest.approx((1e-5, 0.0))
    assert table['text_encoder.layer.weight'] == pytest.approx((1e-5, 0.01))
    assert table['backbone_head.weight'] == pytest.approx((1e-4, 0.01))
    assert table['decode_head.gn.weight'] == pytest.approx((1e-4, 0.0))
    assert table['decode_head.prompt_embed'] == pytest.approx((1e-4, 0.0))
    assert table['decode_head.conv.weight'] == pytest.approx((1e-4, 0.01))
    # every trainable parameter once, in few merged groups
    assert len(table) == len(list(model.parameters()))
    assert len(groups) == 4


def test_frozen_parameters_are_left_out():
    model = Toy()
    model.text_encoder.requires_grad_(False)
    table, _ = groups_by_param(model, dict(lr_mult={'text_encoder': 0.1}))
    assert not any(name.startswith('text_encoder') for name in table)


def test_unknown_option_is_refused():
    with pytest.raises(KeyError, match='custom_keys'):
        groups_by_param(Toy(), dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
