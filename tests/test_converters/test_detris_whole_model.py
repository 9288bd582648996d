# Copyright (c) mmamlris contributors. All rights reserved.
"""The whole DETRIS in AMLSegmentor equals the official model on converted weights.

``tests/data/detris_official/whole.pt`` was written by DETRIS's own ``DETRIS.forward``
(jiaqihuang01/DETRIS, commit c94b1e1: ``model/segmenter.py``, ``fusion.py``, ``clip.py``,
``dinov2``, ``adapter.py``, ``layers.py``; xFormers disabled, ``fvcore`` stubbed), run outside
this repository with ``DETRIS.__init__``'s file loading replaced by building the parts at tiny
sizes: DINOv2 embed 48, 4 blocks, 2 heads, patch 14, a table for 70 px, 4 registers,
LayerScale, aligners (bottleneck 32) in blocks 1 and 3, levels after blocks 1 and 2 and the
normed last block; CLIP text width 512 (the aligners, neck and projector hard-code 512),
4 heads, 2 layers, vocabulary 100 (``<sot>`` 98, ``<eot>`` 99), 20 positions, 9 tokens,
projection 512, a text adapter (bottleneck 16) in layer 1; neck 48 -> 512, decoder 1 layer
(8 heads, FFN 64, dropout 0.1), projector (512, 256, 3). Weights drawn at random (seed 11:
N(0, 0.2), norm weights 1 + N(0, 0.2), BN running variances in [0.5, 1.5]; the projector's
kernel generator then x0.002 so that the training logits are O(1-10)). The 23 M weights are
not stored: the file holds the recipe (the official state dict's keys in order, with the kind
of draw of each) and per-tensor checksums; :func:`official_state` draws them again from the
seed and checks every tensor against its checksum. Two 56x56 images (4x4
patches, the table interpolated), one expression padded with id 0, a soft 0/0.4/0.7/1 mask.
Recorded: eval-mode levels, words, sentence and logits; train-mode logits and loss with the
dropout drawn after ``torch.manual_seed(5)``, and the same step in fp64 (the same dropout
draws; CLIP's LayerNorm, which casts to fp32 for fp16 weights, run as a plain LayerNorm there)
with the gradients of five trained weights. The gradients are compared in fp64: at these
weights the step is ill-conditioned -- the official fp32 gradients are up to 3e-4 from its own
fp64 ones, and ours, whose levels carry different fp32 rounding (transformers' attention), up
to 1e-2 -- while in fp64 the two agree to 1e-7 (our loss is computed in fp32 by design; the
fp64 logits themselves agree to 7.6e-9, a residue not traced down).
"""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmamlris.converters import convert_detris_state_dict
from mmamlris.registry import MODELS

GRADS = {  # official name -> ours
    'dinov2.blocks.1.adapter.D_fc1.weight': 'backbone.aligners.1.down.weight',
    'txt_backbone.transformer.resblocks.1.adapter.D_fc1.weight':
    'text_encoder.adapters.1.down.weight',
    'neck.f4_proj.0.weight': 'decode_head.neck.level_proj.1.conv.weight',
    'decoder.layers.0.multihead_attn.out_proj.bias':
    'decode_head.decoder.layers.0.cross_attn.out_proj.bias',
    'proj.txt.bias': 'decode_head.projector.txt.bias',
}


@pytest.fixture
def official(detris_official):
    return detris_official


@pytest.fixture
def build(detris_tiny_model_cfg):
    """Our model at the official sizes, with ``state_dict`` loaded strictly."""
    def build_model(state_dict):
        model = MODELS.build(detris_tiny_model_cfg)
        model.load_state_dict(state_dict, strict=True)
        return model
    return build_model


def samples(official):
    out = []
    for ids, soft in zip(official['ids'], official['soft_mask']):
        sample = SegDataSample(metainfo=dict(img_shape=(56, 56)))
        sample.text_token_ids = ids
        sample.text_attention_mask = (ids != 0).long()
        sample.gt_sem_seg = PixelData(data=(soft > 0.5).long())
        sample.gt_soft_seg = PixelData(data=soft)
        out.append(sample)
    return out


def _close(ours, ref, rel=1e-4):
    """Within ``rel`` of the largest reference value: fp32 rounding through the towers differs
    from one CPU to another (1e-5 held on an Intel Xeon, not on an AMD EPYC); the fp64 checks
    below are the tight ones."""
    return (ours - ref).abs().max() <= rel * max(ref.abs().max(), 1.0)


def test_the_converted_checkpoint_loads_strictly_and_drops_only_unused_clip_tensors(official,
                                                                                    build):
    conversion = convert_detris_state_dict(official['state'])
    assert [k for k, _ in conversion.dropped] == ['txt_backbone.logit_scale']
    build(conversion.state_dict)  # strict
    assert conversion.config['model.backbone.adapter_layers'] == [1, 3]
    assert conversion.config['model.text_encoder.adapter_layers'] == [1]
    assert conversion.config['model.decode_head.in_channels'] == [48, 48, 48]


def test_towers_levels_head_and_mask_match_the_official_model(official, build):
    model = build(convert_detris_state_dict(official['state']).state_dict).eval()
    data = samples(official)
    ids = official['ids']
    with torch.no_grad():
        words, mask = model.text_encoder(ids, (ids != 0).long())
        assert _close(words, official['eval_words'])
        assert _close(model.decode_head.sentence(words, mask), official['eval_sentence'])
        levels = model.extract_feat(official['img'], (words, mask))
        for ours, ref in zip(levels, official['eval_levels']):
            assert _close(ours, ref)
        logits = model._forward(official['img'], data)
    assert logits.shape == official['eval_pred'].shape == (2, 1, 16, 16)
    assert _close(logits, official['eval_pred'])


def test_training_logits_loss_and_gradients_match_the_official_model(official, build):
    model = build(convert_detris_state_dict(official['state']).state_dict).train()
    torch.manual_seed(5)  # the same dropout draws (aligners, decoder)
    text_inputs = (official['ids'], (official['ids'] != 0).long())
    feats, text = model._encode(official['img'], text_inputs)
    # fp32: 1.1e-5 of the largest logit apart on an Intel Xeon, more on an AMD EPYC (batch
    # statistics of the adapters' and the head's BatchNorms amplify the rounding)
    assert _close(model.decode_head(feats, *text), official['train_pred'])
    torch.manual_seed(5)
    assert _close(model.loss(official['img'], samples(official))['decode.loss_bce'],
                  official['train_loss'])
    model.double()
    torch.manual_seed(5)
    feats, text = model._encode(official['img'].double(), text_inputs)
    # measured 7.6e-9 (not ~1e-13 as for LAVT: a residue in fp64 that was not traced down)
    assert _close(model.decode_head(feats, *text), official['train_fp64_pred'], rel=1e-7)
    data = samples(official)
    for sample in data:
        sample.gt_soft_seg.data = sample.gt_soft_seg.data.double()
    torch.manual_seed(5)
    loss = model.loss(official['img'].double(), data)['decode.loss_bce']
    assert abs(float(loss) - float(official['train_fp64_loss'])) <= 1e-6
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(loss, [params[GRADS[n]] for n in official['grad_names']])
    for grad, ref in zip(grads, official['train_fp64_grads']):
        assert (grad - ref).abs().max() <= 1e-6 * ref.abs().max()


def test_a_swapped_aligner_is_caught(official, build):
    state = convert_detris_state_dict(official['state']).state_dict
    for key in [k for k in state if k.startswith('backbone.aligners.1.')]:
        other = key.replace('aligners.1.', 'aligners.3.')
        state[key], state[other] = state[other], state[key]
    model = build(state).eval()
    with torch.no_grad():
        logits = model._forward(official['img'], samples(official))
    assert not _close(logits, official['eval_pred'], rel=1e-2)
