# Copyright (c) mmamlris contributors. All rights reserved.
"""The CARIS / AMLRIS converter against outputs of the official code.

The fixture ``tests/data/caris_official/`` holds tensors only. They were made outside this
repository by running the official CARIS code (lsa1997/CARIS at commit 4b24546; only its
imports patched to mmcv 2 / mmengine / mmdet 3 and three timm helpers) and the
``TextGuidedVisualEnhancer`` of the official AMLRIS code (pipashu1/AMLRIS at 930e56b) on the
CPU in fp32, eval mode:

- the official modules built with small sizes: Swin (embed 16, depths 2-2-2-2, heads
  1-2-2-4, window 7), a 12-layer BERT of width 32 (2 heads, FFN 48, vocabulary 120), the
  conditional prompts (pool sizes 1 and 2: 5 prompts), the pixel decoder (width 32, 2 layers,
  2 heads, 3 levels, 4 points, FFN and attention widths 128, 5 visual prompts) and AMLRIS's
  text projection (32 -> 128);
- ``torch.manual_seed(2026)``; every floating tensor of the state dict replaced by random
  values (so that no swapped pair of tensors can agree by chance);
- inputs: a ``[2, 3, 112, 112]`` standard-normal image batch, 9 token ids per sample (the
  second sample padded after 6).

``caris_official_tiny.pth`` is that model saved as the official ``train.py`` saves it
(``model``, ``optimizer``, ``epoch``, ``args`` = ``argparse.Namespace``, ...), including
``criterion.seg_criterion.weight`` and AMLRIS's ``aug.*``. ``caris_official_tiny_outputs.pth``:
the inputs, the four Swin outputs, the conditional prompts, the BERT outputs, the decoder
logits, the whole model's upsampled logits, AMLRIS's relevance (``[B, N, L]``, its softmax
over the tokens) and the official parameter groups (lr, weight decay of every parameter
name, from ``CARIS.params_to_optimize`` with lr 1e-4).
"""
import os.path as osp

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmamlris.converters import caris as caris_conv
from mmamlris.converters import convert_caris_state_dict, load_official_checkpoint
from mmamlris.registry import MODELS
from mmamlris.testing.tiny_configs import REPO_ROOT
from mmamlris.utils import InputError, load_config

DATA = osp.join(REPO_ROOT, 'tests', 'data', 'caris_official')
CKPT = osp.join(DATA, 'caris_official_tiny.pth')
TOL = 1e-5
NUM_TOKENS = 9


def tiny_caris_cfg(aml=None):
    """Our CARIS at the fixture's sizes (the keys the converter prints for it)."""
    cfg = load_config(osp.join(REPO_ROOT, 'configs/_base_/models/caris_swin-b_bert-base.py'))
    model = cfg.model
    model.backbone.update(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4],
                          drop_path_rate=0.0, init_cfg=None)
    model.text_encoder = dict(
        type='HFTextEncoder', pretrained=None,
        config=dict(model_type='bert', vocab_size=120, hidden_size=32, num_hidden_layers=12,
                    num_attention_heads=2, intermediate_size=48, max_position_embeddings=40,
                    type_vocab_size=2))
    model.decode_head.update(in_channels=[16, 32, 64, 128], text_channels=32, channels=32,
                             num_layers=2, num_heads=2, attn_inner_channels=128,
                             ffn_channels=128)
    if aml is not None:
        model.aml = aml
    return model


@pytest.fixture(scope='module')
def golden():
    return torch.load(osp.join(DATA, 'caris_official_tiny_outputs.pth'), weights_only=True)


@pytest.fixture(scope='module')
def conversion():
    return convert_caris_state_dict(load_official_checkpoint(CKPT))


def build_converted(conversion, aml=None):
    init_default_scope('mmseg')
    model = MODELS.build(tiny_caris_cfg(aml))
    state = {k: v for k, v in conversion.state_dict.items()
             if aml is not None or not k.startswith('aml.')}
    model.load_state_dict(state, strict=True)
    return model.eval()


def max_diff(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


def test_every_tensor_is_mapped_or_dropped_for_a_reason(conversion):
    raw = load_official_checkpoint(CKPT)
    assert len(conversion.state_dict) + len(conversion.dropped) == len(raw) == 490
    assert {k for k, _ in conversion.dropped} == {
        'criterion.seg_criterion.weight', 'aug.fuse_gate.weight', 'aug.fuse_gate.bias'}
    config = conversion.config
    assert config['model.backbone.depths'] == [2, 2, 2, 2]
    assert config['model.backbone.num_heads'] == [1, 2, 2, 4]
    assert config['model.backbone.window_size'] == 7
    assert config['model.decode_head.num_layers'] == 2
    assert config['model.decode_head.num_text_prompts'] == 5
    assert config['text hidden size / layers'] == (32, 12)


def test_converted_model_matches_the_official_outputs(conversion, golden):
    model = build_converted(conversion)
    mask = golden['attention_mask']
    with torch.no_grad():
        feats = model.extract_feat(golden['image'])
        for ours, official in zip(feats, golden['swin']):
            assert max_diff(ours, official) <= TOL
        prompts = model.decode_head.text_prompts(feats)
        assert max_diff(prompts, golden['prompts']) <= TOL
        text, text_mask = model.text_encoder(golden['input_ids'], mask, prompts)
        assert max_diff(text, golden['text'][:, :NUM_TOKENS]) <= TOL
        # the decoder alone, on the official features
        logits = model.decode_head(list(golden['swin']), golden['text'][:, :NUM_TOKENS],
                                   mask.bool())
        assert max_diff(logits, golden['decoder_logits']) <= TOL
        # the whole model, upsampled to the input as CARIS does
        whole = model.decode_head(feats, text, text_mask)
        whole = torch.nn.functional.interpolate(whole, size=(112, 112), mode='bilinear',
                                                align_corners=True)
        assert max_diff(whole, golden['logits_upsampled']) <= TOL


def test_amlris_projection_scores_as_the_released_model(conversion, golden):
    aml = dict(type='AlignmentAwareMasking',
               scorer=dict(type='ReleasedRelevanceScorer', vis_channels=128, text_channels=32),
               filter=dict(type='ReleasedBlockFilter'))
    model = build_converted(conversion, aml)
    with torch.no_grad():
        score = model.aml.scorer(golden['swin'], golden['text'][:, :NUM_TOKENS], None)
    official = golden['relevance'].amax(-1)  # PatchMax of the official [B, N, L] relevance
    assert max_diff(score.flatten(1), official) <= TOL


def test_swapped_vis_norms_fail_the_decoder_check(conversion, golden, monkeypatch):
    # the trap: v_norm1 -> vis_norms.0 (by name) instead of the applied order v_norm2 first
    def swap(repl):
        if not repl or 'vis_norms' not in repl:
            return repl
        return repl.replace('vis_norms.0', 'vis_norms.X').replace(
            'vis_norms.1', 'vis_norms.0').replace('vis_norms.X', 'vis_norms.1')

    swapped = tuple((pattern, swap(repl)) for pattern, repl in caris_conv._DECODER)
    monkeypatch.setitem(caris_conv._RENAMES, 'decode_head.', swapped)
    wrong = convert_caris_state_dict(load_official_checkpoint(CKPT))
    model = build_converted(wrong)  # loads strict: names and shapes all fit
    with torch.no_grad():
        logits = model.decode_head(list(golden['swin']), golden['text'][:, :NUM_TOKENS],
                                   golden['attention_mask'].bool())
    assert max_diff(logits, golden['decoder_logits']) > 1e-2


def test_bad_checkpoints_get_one_clear_error(tmp_path):
    with pytest.raises(InputError, match='no such checkpoint'):
        load_official_checkpoint(str(tmp_path / 'missing.pth'))
    truncated = tmp_path / 'truncated.pth'
    with open(CKPT, 'rb') as f:
        truncated.write_bytes(f.read()[:100000])
    with pytest.raises(InputError, match='truncated.pth: not a readable checkpoint'):
        load_official_checkpoint(str(truncated))
    other = tmp_path / 'other.pth'
    torch.save(dict(model=dict(weight=torch.zeros(2))), other)
    with pytest.raises(InputError, match='not a CARIS/AMLRIS checkpoint'):
        load_official_checkpoint(str(other))
    with pytest.raises(InputError, match='belong to no part'):
        convert_caris_state_dict({'pixel_decoder.level_encoding.weight': torch.zeros(3, 4),
                                  'head.fc.weight': torch.zeros(2)})


def test_tool_writes_a_checkpoint_that_loads_strict(tmp_path, capsys):
    from tools.model_converters import caris2mmamlris
    dst = tmp_path / 'out' / 'caris_tiny_mmamlris.pth'
    caris2mmamlris.main([CKPT, str(dst)])
    printed = capsys.readouterr().out
    assert 'dropped criterion.seg_criterion.weight' in printed
    assert 'model.backbone.depths=[2,2,2,2]' in printed
    assert 'AMLRIS checkpoint' in printed
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['converter'] == 'caris2mmamlris'
    init_default_scope('mmseg')
    aml = dict(type='AlignmentAwareMasking',
               scorer=dict(type='ReleasedRelevanceScorer', vis_channels=128, text_channels=32),
               filter=dict(type='ReleasedBlockFilter'))
    MODELS.build(tiny_caris_cfg(aml)).load_state_dict(ckpt['state_dict'], strict=True)


def test_parameter_groups_match_the_official_ones(golden):
    """Every parameter gets the official lr and weight decay under the CARIS schedule."""
    init_default_scope('mmseg')
    model = MODELS.build(tiny_caris_cfg())
    schedule = load_config(osp.join(REPO_ROOT, 'configs/_base_/schedules/schedule_50e.py'))
    optim_cfg = dict(schedule.optim_wrapper, type='OptimWrapper')
    optim_cfg.pop('dtype'), optim_cfg.pop('loss_scale')
    optim = build_optim_wrapper(model, optim_cfg)
    ours = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optim.optimizer.param_groups:
        for p in group['params']:
            ours[names[id(p)]] = (group['lr'], group['weight_decay'])
    expected = {}
    for name, (lr, decay) in golden['param_groups'].items():
        new = caris_conv._rename(name)
        if new is not None:  # aug.* (AMLRIS) and the criterion have no model parameter here
            expected[new] = (lr, decay)
    assert set(ours) == set(expected)
    wrong = {k: (ours[k], expected[k]) for k in ours
             if ours[k][1] != expected[k][1] or abs(ours[k][0] - expected[k][0]) > 1e-12}
    assert not wrong, f'{len(wrong)} parameters differ, e.g. {list(wrong.items())[:4]}'
