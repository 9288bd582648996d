# Copyright (c) mmamlris contributors. All rights reserved.
"""The LAVT checkpoint converter (tool and errors) and the official parameter groups.

``tests/data/lavt_official/param_groups.pt`` holds the learning rate and weight decay of every
parameter as the official LAVT ``train.py`` (yz93/LAVT-RIS, commit 1da0af9, lines 226-262,
executed unchanged on the model ``lavt`` with the default ``args.py`` values) puts them in its
AdamW: Swin ``embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=7``,
``num_heads_fusion=[1, 2, 1, 2]``, ``SimpleDecoding(128)``, a 12-layer BERT (768-d, FFN 16,
vocabulary 50); and the names of the parameters it leaves out of the optimizer.
"""
import os.path as osp

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from mmamlris.converters import (convert_lavt_state_dict, load_lavt_checkpoint,
                                 rename_lavt_key)
from mmamlris.registry import MODELS
from mmamlris.testing.tiny_configs import REPO_ROOT
from mmamlris.utils import InputError, load_config

DATA = osp.join(REPO_ROOT, 'tests', 'data', 'lavt_official')


@pytest.fixture(scope='module')
def official():
    data = torch.load(osp.join(DATA, 'model.pt'), weights_only=True)
    for key in ('state', 'bert_state'):
        data[key] = {k: v.float() if v.is_floating_point() else v for k, v in data[key].items()}
    return data


def test_key_names_agree_with_the_converter(official):
    conversion = convert_lavt_state_dict(official['state'], official['bert_state'])
    dropped = {k for k, _ in conversion.dropped}
    names = {rename_lavt_key(k) for k in official['state'] if k not in dropped}
    names |= {rename_lavt_key('text_encoder.' + k) for k in official['bert_state']}
    assert names == set(conversion.state_dict)
    with pytest.raises(KeyError, match='no part'):
        rename_lavt_key('head.fc.weight')


def test_tool_writes_a_checkpoint_that_loads_strict(official, tmp_path, capsys):
    from tools.model_converters import lavt2mmamlris
    src = tmp_path / 'model_best_refcoco.pth'
    torch.save(dict(model=official['state'], bert_model=official['bert_state'], epoch=3), src)
    dst = tmp_path / 'out' / 'lavt_tiny_mmamlris.pth'
    lavt2mmamlris.main([str(src), str(dst)])
    printed = capsys.readouterr().out
    assert 'model.backbone.swin.depths=[2,2,2,2]' in printed
    assert 'model.decode_head.channels=64' in printed
    assert 'hidden size 768, 1 layers' in printed
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['converter'] == 'lavt2mmamlris'
    from test_lavt_model import build_model
    build_model(official).load_state_dict(ckpt['state_dict'], strict=True)


def test_bad_checkpoints_get_one_clear_error(official, tmp_path):
    with pytest.raises(InputError, match='no such checkpoint'):
        load_lavt_checkpoint(str(tmp_path / 'missing.pth'))
    caris_like = tmp_path / 'caris.pth'
    torch.save(dict(model={'pixel_decoder.level_encoding.weight': torch.zeros(3, 4)}), caris_like)
    with pytest.raises(InputError, match='caris.pth: no backbone.layers.<i>.fusion'):
        load_lavt_checkpoint(str(caris_like))
    no_text = tmp_path / 'no_text.pth'
    torch.save(dict(model=official['state']), no_text)
    with pytest.raises(InputError, match='no_text.pth: neither "bert_model"'):
        load_lavt_checkpoint(str(no_text))
    with pytest.raises(InputError, match='belong to no part'):
        convert_lavt_state_dict({**official['state'], 'head.fc.weight': torch.zeros(2)},
                                official['bert_state'])


def test_parameter_groups_match_the_official_ones():
    """Every parameter gets the official lr and weight decay under the LAVT schedule; the
    parameters LAVT leaves out of its optimizer (BERT's embeddings, layers 10 and 11) get an
    lr of 0, which leaves them exactly as loaded with AdamW."""
    golden = torch.load(osp.join(DATA, 'param_groups.pt'), weights_only=True)
    model = MODELS.build(dict(
        type='AMLSegmentor',
        backbone=dict(type='LAVTSwinTransformer', text_channels=32, fusion_heads=[1, 2, 1, 2],
                      swin=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4],
                                window_size=7, out_indices=(0, 1, 2, 3))),
        text_encoder=dict(type='HFTextEncoder', pretrained=None, config=dict(
            model_type='bert', vocab_size=50, hidden_size=32, num_hidden_layers=12,
            num_attention_heads=2, intermediate_size=16, max_position_embeddings=24)),
        decode_head=dict(type='LAVTHead', in_channels=[16, 32, 64, 128], in_index=[0, 1, 2, 3],
                         channels=64, num_classes=2, out_channels=2, align_corners=True)))
    schedule = load_config(osp.join(REPO_ROOT, 'configs/_base_/schedules/schedule_lavt_40e.py'))
    optim = build_optim_wrapper(model, dict(schedule.optim_wrapper, type='OptimWrapper'))
    names = {id(p): n for n, p in model.named_parameters()}
    ours = {names[id(p)]: (group['lr'], group['weight_decay'])
            for group in optim.optimizer.param_groups for p in group['params']}

    def our_name(official):
        scope, key = official.split('.', 1)
        return rename_lavt_key(key if scope == 'model' else 'text_encoder.' + key)

    # the official last-stage gate has no counterpart (see convert_lavt_state_dict)
    gate = 'model.backbone.layers.3.res_gate.'
    expected = {our_name(k): v for k, v in golden['param_groups'].items()
                if not k.startswith(gate)}
    assert len(expected) == len(golden['param_groups']) - 2
    expected.update({our_name(k): (0.0, 0.01) for k in golden['not_optimised']})
    assert set(ours) == set(expected)
    wrong = {k: (ours[k], expected[k]) for k in ours
             if ours[k][1] != expected[k][1] or abs(ours[k][0] - expected[k][0]) > 1e-12}
    assert not wrong, f'{len(wrong)} parameters differ, e.g. {list(wrong.items())[:4]}'
