# Copyright (c) mmamlris contributors. All rights reserved.
"""ReLA's fused Swin, pixel decoder and whole model against the official code.

Written outside this repository by the official ReLA code (henghuiding/ReLA, commit 3ca9551;
detectron2's ``configurable``, ``Conv2d`` (conv, norm, activation), ``ShapeSpec``,
``get_norm`` and registries, fvcore's ``c2_xavier_fill``, timm's three layer helpers and
torchvision's ONNX check stubbed; the compiled deformable attention absent, so that its module
falls back to its own PyTorch path, as on a CPU):

- ``tests/data/rela_official/backbone_outputs.pt``: ReLA's ``MultiModalSwinTransformer`` loaded
  with the weights of ``tests/data/lavt_official/backbone.pt`` (minus LAVT's last-stage gate,
  which ReLA does not build) and run on its inputs, eval mode: the four levels in fp32 and fp64.
- ``tests/data/rela_official/pixel_decoder.pt``: ReLA's (Mask2Former's)
  ``MSDeformAttnPixelDecoder`` with inputs of 16/32/48/64 channels at strides 4-32 (maps
  32x40 down to 4x5, odd sizes included), ``conv_dim=64, mask_dim=48``, GN, 4 heads, 2 encoder
  layers, FFN 96, weights drawn after ``torch.manual_seed(0)`` (norm scales 1 + N(0, 0.2²),
  biases N(0, 0.1²), sampling offsets N(0, 0.05²), others N(0, 0.15²)), eval mode.
- ``tests/data/rela_official/model.pt``: the model as ``GRES.forward`` and
  ``ReferringHead.layers`` run it (HF ``BertModel`` -> fused Swin -> pixel decoder -> query
  decoder, no word mask), the Swin and BERT weights of ``tests/data/lavt_official/model.pt``,
  a pixel decoder (32 channels, 1 encoder layer) and a query decoder (hidden 32, 4 heads, FFN
  64, 3 layers, 100 queries) drawn after ``torch.manual_seed(2)`` as above (the language
  projection N(0, 0.05²) and gate 0.7 instead of the official zeros); images ``[2, 3, 64,
  64]``, 8 tokens (8 and 5 real), a GT whose second sample has no target. Stored: the eval
  outputs, the evaluator's binary mask and no-target decision, the training-mode loss (the
  criterion's ``loss_mask`` times ``MASK_WEIGHT`` 5) and the gradients of 10 parameters.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmamlris.converters import (convert_lavt_backbone, convert_rela_decoder,
                                 convert_rela_pixel_decoder, rename_lavt_key)
from mmamlris.converters.rela import _rename as rela_decoder_key
from mmamlris.registry import MODELS

DATA = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data')


def load(name):
    return torch.load(osp.join(DATA, name), weights_only=True)


def _float(state):
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def pixel_decoder_cfg(channels, out_channels, heads, layers, ffn):
    return dict(
        strides=[4, 8, 16, 32], num_outs=3, feat_channels=channels, out_channels=out_channels,
        norm_cfg=dict(type='GN', num_groups=32),
        encoder=dict(num_layers=layers, layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=channels, num_heads=heads, num_levels=3, num_points=4,
                               dropout=0.0, batch_first=True),
            ffn_cfg=dict(embed_dims=channels, feedforward_channels=ffn, ffn_drop=0.0,
                         act_cfg=dict(type='ReLU', inplace=True)))),
        positional_encoding=dict(num_feats=channels // 2, normalize=True))


def test_the_official_rela_backbone_is_lavts():
    """ReLA's fused Swin computes what LAVTSwinTransformer computes."""
    lavt, rela = load('lavt_official/backbone.pt'), load('rela_official/backbone_outputs.pt')
    net = MODELS.build(dict(
        type='LAVTSwinTransformer', fusion_heads=lavt['cfg']['num_heads_fusion'],
        swin=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=7,
                  drop_path_rate=0.0, out_indices=(0, 1, 2, 3)))).eval()
    net.load_state_dict(convert_lavt_backbone(lavt['state']), strict=True)
    net = net.double()
    with torch.no_grad():
        outs = net(lavt['img'].double(), lavt['l'].transpose(1, 2).double(),
                   lavt['l_mask'][..., 0].bool())
    for ours, ref in zip(outs, rela['outs_fp64']):
        assert (ours - ref).abs().max() <= 1e-10


def test_mmdet_pixel_decoder_equals_relas():
    """Level order, positional encoding and reference points agree: identical outputs."""
    from mmdet.models.layers import MSDeformAttnPixelDecoder
    official = load('rela_official/pixel_decoder.pt')
    decoder = MSDeformAttnPixelDecoder(**ConfigDict(
        in_channels=[16, 32, 48, 64], **pixel_decoder_cfg(64, 48, 4, 2, 96))).eval()
    decoder.load_state_dict(convert_rela_pixel_decoder(official['state'], prefix=''),
                            strict=True)
    with torch.no_grad():
        mask_feats, levels = decoder(official['feats'])
    assert (mask_feats - official['mask_features']).abs().max() <= 1e-5
    assert len(levels) == 3
    for ours, ref in zip(levels, official['multi_scale']):  # coarse to fine
        assert ours.shape == ref.shape
        assert (ours - ref).abs().max() <= 1e-5


@pytest.fixture(scope='module')
def official():
    return load('rela_official/model.pt')


@pytest.fixture(scope='module')
def lavt():
    data = load('lavt_official/model.pt')
    data['state'], data['bert_state'] = _float(data['state']), _float(data['bert_state'])
    return data


def build_model(lavt, official):
    dec = official['dec_cfg']
    model = MODELS.build(dict(
        type='AMLSegmentor',
        backbone=dict(type='LAVTSwinTransformer', text_channels=768, fusion_heads=[1, 2, 1, 2],
                      swin=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4],
                                window_size=7, drop_path_rate=0.0, out_indices=(0, 1, 2, 3))),
        text_encoder=dict(type='HFTextEncoder', pretrained=None,
                          config=dict(model_type='bert', **lavt['bert_cfg'])),
        decode_head=dict(
            type='ReLAHead', in_channels=[16, 32, 64, 128], in_index=[0, 1, 2, 3],
            channels=32, text_channels=768, align_corners=False,
            pixel_decoder=pixel_decoder_cfg(32, 32, 4, 1, 64),
            decoder=dict(num_heads=dec['nheads'], ffn_channels=dec['dim_feedforward'],
                         num_layers=dec['dec_layers'], num_queries=dec['num_queries']))))
    state = {f'backbone.{k}': v
             for k, v in convert_lavt_backbone(lavt['state'], 'backbone.').items()}
    state.update({f'text_encoder.model.{k}': v for k, v in lavt['bert_state'].items()})
    state.update({f'decode_head.pixel_decoder.{k}': v for k, v in
                  convert_rela_pixel_decoder(official['pixel_state'], prefix='').items()})
    state.update({f'decode_head.decoder.{k}': v for k, v in
                  convert_rela_decoder(official['predictor_state'], prefix='').items()})
    model.load_state_dict(state, strict=True)
    return model


def samples(official):
    out = []
    for i in range(2):
        sample = SegDataSample(metainfo=dict(
            img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64),
            no_target=bool(official['empty'][i])))
        sample.gt_sem_seg = PixelData(data=official['gt'][i].long())
        sample.set_data(dict(text_token_ids=official['ids'][i],
                             text_attention_mask=official['mask'][i]))
        out.append(sample)
    return out


def test_whole_model_inference_matches_the_official_model(lavt, official):
    model = build_model(lavt, official).eval()
    with torch.no_grad():
        feats, text = model._encode(official['img'], (official['ids'], official['mask']))
        out = model.decode_head.forward_all(feats, *text)
        logits = model.encode_decode(official['img'], samples(official))
    scale = official['eval_masks'].abs().max()
    assert (out.masks - official['eval_masks']).abs().max() <= 1e-5 * scale
    assert (out.minimap - official['eval_minimap']).abs().max() <= 1e-4
    assert (out.no_target - official['eval_nt']).abs().max() <= 1e-5
    # the evaluator's decisions: the same mask pixels and no-target calls
    assert torch.equal(out.no_target.argmax(1), official['pred_nt'])
    assert torch.equal(logits.argmax(1).to(torch.uint8), official['pred_mask'])


def test_training_step_matches_the_official_loss_and_gradients(lavt, official):
    model = build_model(lavt, official).train()
    losses = model.loss(official['img'], samples(official))
    terms = {k: v for k, v in losses.items() if 'loss' in k}
    assert set(terms) == {'decode.loss_mask', 'decode.loss_minimap', 'decode.loss_no_target'}
    total = sum(terms.values())
    assert abs(total.item() - official['loss'].item()) <= 1e-5 * official['loss'].item()
    total.backward()
    params = dict(model.named_parameters())

    def ours(name):
        scope, key = name.split('.', 1)
        if scope == 'predictor':
            return 'decode_head.decoder.' + rela_decoder_key(key)
        if scope == 'pixel':
            return 'decode_head.pixel_decoder.' + next(iter(convert_rela_pixel_decoder(
                {key: torch.zeros(1)}, prefix='')))
        if scope == 'backbone':
            return rename_lavt_key('backbone.' + key)
        return 'text_encoder.model.' + key

    for name, grad in official['grads'].items():
        if grad.dim() == 3 and grad.shape[-1] == 1:  # a PWAM Conv1d there, a Linear here
            grad = grad[..., 0]
        ref = grad.abs().max().item()
        assert (params[ours(name)].grad - grad).abs().max().item() <= 1e-4 * max(ref, 1e-3), \
            name
