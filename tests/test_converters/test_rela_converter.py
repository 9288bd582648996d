# Copyright (c) mmamlris contributors. All rights reserved.
"""The ReLA checkpoint converter (tool and errors) and the official parameter groups.

``tests/data/rela_official/param_groups.pt`` holds the learning rate and weight decay of every
parameter as the official ReLA ``train_net.py`` (henghuiding/ReLA, commit 3ca9551,
``Trainer.build_optimizer`` executed unchanged, with the solver values of
``configs/referring_swin_base.yaml``: AdamW, lr 1e-5, weight decay 0.05, norm and embedding
decay 0) builds them for a model with GRES's layout: ReLA's fused Swin (``embed_dim=16,
depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4]``), its pixel decoder (32 channels, 1 encoder
layer), its query decoder (hidden 32, 3 layers, 100 queries) and a 12-layer BERT (hidden 32);
and the names of the parameters it leaves out of the optimizer.
"""
import os.path as osp

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from mmamlris.converters import (convert_lavt_backbone, convert_rela_state_dict,
                                 load_rela_checkpoint, rename_rela_key)
from mmamlris.registry import MODELS
from mmamlris.testing.tiny_configs import REPO_ROOT
from mmamlris.utils import InputError, load_config

DATA = osp.join(REPO_ROOT, 'tests', 'data')


def official_checkpoint():
    """A ReLA ``model`` state dict in the official layout, from the official test weights."""
    lavt = torch.load(osp.join(DATA, 'lavt_official', 'model.pt'), weights_only=True)
    rela = torch.load(osp.join(DATA, 'rela_official', 'model.pt'), weights_only=True)
    state = {k: v.float() for k, v in lavt['state'].items()
             if k.startswith('backbone.') and not k.startswith('backbone.layers.3.res_gate.')}
    state.update({f'text_encoder.{k}': v.float() if v.is_floating_point() else v
                  for k, v in lavt['bert_state'].items()})
    state.update({f'sem_seg_head.pixel_decoder.{k}': v for k, v in rela['pixel_state'].items()})
    state.update({f'sem_seg_head.predictor.{k}': v
                  for k, v in rela['predictor_state'].items()})
    return state


def test_tool_writes_a_checkpoint_that_loads_strict(tmp_path, capsys):
    from test_rela_model import build_model
    from tools.model_converters import rela2mmamlris
    src = tmp_path / 'gres_swin_tiny.pth'
    state = official_checkpoint()
    state['text_encoder.pooler.dense.bias'] = torch.zeros(768)
    torch.save(dict(model=state, iteration=10), src)
    dst = tmp_path / 'out' / 'rela_tiny_mmamlris.pth'
    rela2mmamlris.main([str(src), str(dst)])
    printed = capsys.readouterr().out
    assert 'dropped text_encoder.pooler.dense.bias' in printed
    assert 'model.backbone.swin.depths=[2,2,2,2]' in printed
    assert 'model.decode_head.decoder.num_layers=3' in printed
    assert 'model.decode_head.pixel_decoder.encoder.num_layers=1' in printed
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['converter'] == 'rela2mmamlris'
    lavt = torch.load(osp.join(DATA, 'lavt_official', 'model.pt'), weights_only=True)
    rela = torch.load(osp.join(DATA, 'rela_official', 'model.pt'), weights_only=True)
    build_model(lavt, rela).load_state_dict(ckpt['state_dict'], strict=True)
    # the same tensors as the piecewise conversions of the whole-model test
    assert torch.equal(ckpt['state_dict']['backbone.swin.norm3.weight'],
                       convert_lavt_backbone(state, 'backbone.')['swin.norm3.weight'])


def test_bad_checkpoints_get_one_clear_error(tmp_path):
    with pytest.raises(InputError, match='no such checkpoint'):
        load_rela_checkpoint(str(tmp_path / 'missing.pth'))
    lavt_like = tmp_path / 'lavt.pth'
    torch.save(dict(model={'classifier.conv1_1.weight': torch.zeros(2, 2)}), lavt_like)
    with pytest.raises(InputError, match='lavt.pth: no sem_seg_head.predictor.minimap_embed'):
        load_rela_checkpoint(str(lavt_like))
    with pytest.raises(InputError, match='belong to no part'):
        convert_rela_state_dict({**official_checkpoint(), 'criterion.empty_weight':
                                 torch.zeros(2)})


def test_parameter_groups_match_the_official_ones():
    golden = torch.load(osp.join(DATA, 'rela_official', 'param_groups.pt'), weights_only=True)
    model = MODELS.build(dict(
        type='AMLSegmentor',
        backbone=dict(type='LAVTSwinTransformer', text_channels=32, fusion_heads=[1, 2, 1, 2],
                      swin=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4],
                                window_size=7, out_indices=(0, 1, 2, 3))),
        text_encoder=dict(type='HFTextEncoder', pretrained=None, config=dict(
            model_type='bert', vocab_size=50, hidden_size=32, num_hidden_layers=12,
            num_attention_heads=2, intermediate_size=16, max_position_embeddings=24)),
        decode_head=dict(
            type='ReLAHead', in_channels=[16, 32, 64, 128], in_index=[0, 1, 2, 3], channels=32,
            text_channels=32,
            pixel_decoder=dict(
                strides=[4, 8, 16, 32], num_outs=3, norm_cfg=dict(type='GN', num_groups=32),
                encoder=dict(num_layers=1, layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=32, num_heads=4, num_levels=3, num_points=4,
                                       batch_first=True),
                    ffn_cfg=dict(embed_dims=32, feedforward_channels=64))),
                positional_encoding=dict(num_feats=16, normalize=True)),
            decoder=dict(num_heads=4, ffn_channels=64, num_layers=3))))
    schedule = load_config(osp.join(REPO_ROOT,
                                    'configs/_base_/schedules/schedule_rela_150k.py'))
    optim_cfg = dict(schedule.optim_wrapper, type='OptimWrapper')
    optim_cfg.pop('dtype'), optim_cfg.pop('loss_scale')
    optim = build_optim_wrapper(model, optim_cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    ours = {names[id(p)]: (group['lr'], group['weight_decay'])
            for group in optim.optimizer.param_groups for p in group['params']}
    expected = {rename_rela_key(k): v for k, v in golden['param_groups'].items()}
    expected.update({rename_rela_key(k): (0.0, 0.05) for k in golden['not_optimised']})
    assert set(ours) == set(expected)
    wrong = {k: (ours[k], expected[k]) for k in ours
             if ours[k][1] != expected[k][1] or abs(ours[k][0] - expected[k][0]) > 1e-12}
    assert not wrong, f'{len(wrong)} parameters differ, e.g. {list(wrong.items())[:4]}'
