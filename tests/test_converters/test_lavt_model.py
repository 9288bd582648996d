# Copyright (c) mmamlris contributors. All rights reserved.
"""The whole LAVT model (fused Swin, decoder, BERT, loss) against the official code.

``tests/data/lavt_official/model.pt`` was written outside this repository by the official LAVT
code (yz93/LAVT-RIS, commit 1da0af9: ``lib/_utils.py`` ``LAVT`` with ``lib/backbone.py``
``MultiModalSwinTransformer`` and ``lib/mask_predictor.py`` ``SimpleDecoding``, and its vendored
``bert/modeling_bert.py`` ``BertModel`` with the pooler set to None as in its ``train.py``;
imports of timm, mmseg and its checkpoint helper stubbed, nothing else changed). Sizes: Swin
``embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=7,
num_heads_fusion=[1, 2, 1, 2]``, no drop path; decoder ``SimpleDecoding(128)``; BERT with
768-d words (LAVT hard-codes 768), 1 layer, 4 heads, FFN 96, vocabulary 120, no dropout.
Weights drawn after ``torch.manual_seed(1)``: norm scales 1 + N(0, 0.2²), biases N(0, 0.1²),
relative position tables N(0, 0.5²), gates N(0, 0.05²), embeddings N(0, 0.5²), other Swin
weights N(0, 0.15²), decoder and BERT weights N(0, 0.08²), BN running means N(0, 0.2²) and
variances 0.5 + U(0, 1); every weight rounded to float16 (stored so). Inputs: images
``[2, 3, 64, 96]``, 8 token ids with 8 and 5 real tokens, a random binary target. Stored: the
eval-mode logits (fp32, and fp64 from the same weights), then one training-mode forward as the
official ``train.py`` runs it (CE with weights [0.9, 1.1] on the logits at input size), its
loss, the gradients of 14 named parameters and the BN running statistics after it.
"""
import os.path as osp

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmamlris.converters import convert_lavt_state_dict
from mmamlris.registry import MODELS

DATA = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'lavt_official',
                'model.pt')


def _float(state):
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


@pytest.fixture(scope='module')
def official():
    data = torch.load(DATA, weights_only=True)
    data['state'], data['bert_state'] = _float(data['state']), _float(data['bert_state'])
    return data


def build_model(official):
    cfg = official['cfg']
    swin = dict(embed_dims=cfg['embed_dim'], depths=cfg['depths'], num_heads=cfg['num_heads'],
                window_size=cfg['window_size'], drop_path_rate=0.0, out_indices=(0, 1, 2, 3))
    embed = cfg['embed_dim']
    return MODELS.build(dict(
        type='AMLSegmentor',
        backbone=dict(type='LAVTSwinTransformer', swin=swin, text_channels=768,
                      fusion_heads=cfg['num_heads_fusion']),
        text_encoder=dict(type='HFTextEncoder', pretrained=None,
                          config=dict(model_type='bert', **official['bert_cfg'])),
        decode_head=dict(
            type='LAVTHead', in_channels=[embed * 2**i for i in range(4)],
            in_index=[0, 1, 2, 3], channels=4 * embed, dropout_ratio=0.0, num_classes=2,
            out_channels=2, align_corners=True,
            loss_decode=dict(type='RISCrossEntropyLoss', class_weight=[0.9, 1.1]))))


def samples(official):
    out = []
    for i in range(official['img'].shape[0]):
        sample = SegDataSample()
        shape = tuple(official['img'].shape[-2:])
        sample.set_metainfo(dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        sample.gt_sem_seg = PixelData(data=official['target'][i:i + 1].long())
        sample.set_data(dict(text_token_ids=official['ids'][i],
                             text_attention_mask=official['mask'][i]))
        out.append(sample)
    return out


def converted(official, state=None):
    return convert_lavt_state_dict(state or official['state'], official['bert_state'])


@pytest.fixture(scope='module')
def model(official):
    model = build_model(official)
    model.load_state_dict(converted(official).state_dict, strict=True)
    return model


def eval_logits(model, official, dtype=torch.float32):
    model = model.to(dtype).eval()
    with torch.no_grad():
        logits = model.encode_decode(official['img'].to(dtype), samples(official))
    model.float()
    return logits


def test_conversion_reports_what_it_dropped_and_read(official):
    conversion = converted(official)
    # the last stage's gate (its output is never read) is the only thing dropped
    assert [k for k, _ in conversion.dropped] == [
        'backbone.layers.3.res_gate.0.weight', 'backbone.layers.3.res_gate.2.weight']
    cfg = conversion.config
    assert cfg['model.backbone.swin.depths'] == [2, 2, 2, 2]
    assert cfg['model.backbone.swin.num_heads'] == [1, 2, 2, 4]
    assert cfg['model.backbone.swin.window_size'] == 7
    assert cfg['model.decode_head.in_channels'] == [16, 32, 64, 128]
    assert cfg['model.decode_head.channels'] == 64
    assert cfg['text hidden size / layers'] == (768, 1)
    # the lavt_one layout (BERT inside the model, with a pooler) converts to the same tensors
    one = dict(official['state'])
    one.update({f'text_encoder.{k}': v for k, v in official['bert_state'].items()})
    one['text_encoder.pooler.dense.bias'] = torch.zeros(768)
    lavt_one = convert_lavt_state_dict(one)
    assert lavt_one.dropped[2:] == [('text_encoder.pooler.dense.bias',
                                     'BERT pooler, unused by LAVT')]
    assert lavt_one.state_dict.keys() == conversion.state_dict.keys()


def test_whole_model_inference_matches_the_official_model(model, official):
    ours64 = eval_logits(model, official, torch.float64)
    assert ours64.shape == official['eval_logits_fp64'].shape
    assert (ours64 - official['eval_logits_fp64']).abs().max() <= 1e-10
    # fp32: no further from the exact (fp64) logits than the official code's own fp32 run is
    # (1.03e-4 on the machine that recorded it; ours: 5.5e-5 with AVX2 kernels, 5.9e-5 with
    # AVX-512 ones). A direct fp32-to-fp32 bound depends on both machines' kernels: 7.3e-5
    # (AVX2) and 1.2e-4 (AVX-512 Xeon) were measured.
    ours32 = eval_logits(model, official)
    official_error = (official['eval_logits'] - official['eval_logits_fp64']).abs().max()
    assert (ours32 - official['eval_logits_fp64']).abs().max() <= official_error
    assert (ours32 - official['eval_logits']).abs().max() <= 2 * official_error


def test_training_step_matches_the_official_loss_gradients_and_bn_statistics(official):
    model = build_model(official)
    conversion = converted(official)
    model.load_state_dict(conversion.state_dict, strict=True)
    model.train()
    losses = model.loss(official['img'], samples(official))
    assert set(k for k in losses if 'loss' in k) == {'decode.loss_ce'}
    assert abs(losses['decode.loss_ce'].item() - official['loss'].item()) <= 1e-6
    losses['decode.loss_ce'].backward()
    # every parameter learns (the official last-stage gate, which would not, is not built)
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
    # Our name of each recorded official gradient: convert a state dict in which those
    # tensors are replaced by their gradients, and see which of our tensors changed.
    marked = dict(official['state'])
    marked.update(official['grads'])
    bert_marked = dict(official['bert_state'])
    bert_marked.update(official['bert_grads'])
    grads = convert_lavt_state_dict(marked, bert_marked).state_dict
    params = dict(model.named_parameters())
    compared = 0
    for name, grad in grads.items():
        if torch.equal(grad, conversion.state_dict[name]):
            continue
        compared += 1
        scale = grad.abs().max().item()
        assert (params[name].grad - grad).abs().max().item() <= 1e-4 * max(scale, 1.0), name
    assert compared == len(official['grads']) + len(official['bert_grads'])
    state = model.state_dict()
    after = convert_lavt_state_dict({**official['state'], **official['bn_after']},
                                    official['bert_state']).state_dict
    running = [k for k in after if 'running_' in k]
    assert len(running) == 12
    for key in running:
        assert (state[key] - after[key]).abs().max() <= 1e-5, key


def test_a_wrong_mapping_is_caught(model, official):
    # swapping the two layers of a language gate loads without an error (both C x C) ...
    wrong = converted(official).state_dict
    key0, key2 = 'backbone.fusions.2.gate.0.weight', 'backbone.fusions.2.gate.2.weight'
    wrong[key0], wrong[key2] = wrong[key2], wrong[key0]
    broken = build_model(official)
    broken.load_state_dict(wrong, strict=True)
    # ... and moves the output far beyond the tolerance above
    assert (eval_logits(broken, official) - official['eval_logits']).abs().max() > 1e-2
