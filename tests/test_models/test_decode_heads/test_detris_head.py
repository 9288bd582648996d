# Copyright (c) mmamlris contributors. All rights reserved.
"""DETRISHead: DETRIS's neck, decoder and projector (proven in test_detris_head_layers.py)
composed as a decode head, with CLIP's sentence feature and DETRIS's loss."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmamlris.converters import convert_detris_head
from mmamlris.models.decode_heads import DETRISHead

DATA = osp.join(osp.dirname(__file__), '..', '..', 'data', 'detris_official', 'head.pt')


def tiny_head(**kwargs):
    cfg = dict(in_channels=[16, 16, 16], in_index=[0, 1, 2], channels=16, text_channels=16,
               sentence_channels=512, num_heads=2, num_layers=2, ffn_channels=32)
    cfg.update(kwargs)
    return DETRISHead(**cfg)


def test_the_head_composes_the_official_parts():
    official = torch.load(DATA, weights_only=True)
    head = tiny_head()
    missing, unexpected = head.load_state_dict(convert_detris_head(official['state']),
                                               strict=False)
    assert missing == ['text_projection.weight'] and not unexpected
    head.eval()
    logits = head.decode(official['levels'], official['words'], official['text_mask'],
                         official['sentence'])
    assert (logits - official['eval_pred']).abs().max() <= 1e-5 * official['eval_pred'].abs().max()
    assert not head.text_projection.weight.requires_grad


def test_sentence_is_the_last_real_token_projected():
    head = tiny_head(sentence_channels=8)
    words = torch.randn(2, 5, 16)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    expected = head.text_projection(torch.stack([words[0, 2], words[1, 4]]))
    torch.testing.assert_close(head.sentence(words, mask), expected)


def _samples(gts):
    out = []
    for gt in gts:
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=gt[None])
        out.append(sample)
    return out


def test_loss_is_bce_against_the_gt_downsampled_to_the_logits():
    head = tiny_head()
    logits = torch.randn(2, 1, 8, 8)
    gt = (torch.rand(2, 32, 32) > 0.5).long()
    gt[1, :4, :] = 255  # ignored rows (batch padding)
    losses = head.loss_by_feat(logits, _samples(gt))
    small = F.interpolate(gt[:, None].float(), size=(8, 8), mode='nearest')
    valid = small != 255
    expected = F.binary_cross_entropy_with_logits(logits[valid], small[valid])
    torch.testing.assert_close(losses['loss_bce'], expected)
    upsampled = F.binary_cross_entropy_with_logits(  # mmseg's direction would differ
        F.interpolate(logits, size=(32, 32), mode='bilinear')[gt[:, None] != 255],
        gt[:, None][gt[:, None] != 255].float())
    assert not torch.allclose(losses['loss_bce'], upsampled)
    assert 0 <= float(losses['acc_seg']) <= 100


def test_configuration_errors_are_clear():
    with pytest.raises(ValueError, match='reads three levels'):
        tiny_head(in_channels=[16, 16], in_index=[0, 1])
    with pytest.raises(ValueError, match='text_channels \\(24\\) must equal channels'):
        tiny_head(text_channels=24)


def test_loss_trains_on_the_soft_target_when_every_sample_has_one():
    head = tiny_head()
    logits = torch.randn(2, 1, 8, 8)
    gt = (torch.rand(2, 32, 32) > 0.5).long()
    gt[0, :4, :] = 255
    soft = torch.rand(2, 32, 32)
    samples = _samples(gt)
    for sample, target in zip(samples, soft):
        sample.gt_soft_seg = PixelData(data=target[None])
    losses = head.loss_by_feat(logits, samples)
    small_soft = F.interpolate(soft[:, None], size=(8, 8), mode='nearest')
    valid = F.interpolate(gt[:, None].float(), size=(8, 8), mode='nearest') != 255
    expected = F.binary_cross_entropy_with_logits(logits[valid], small_soft[valid])
    torch.testing.assert_close(losses['loss_bce'], expected)
    # one sample without a soft target: the hard GT for all
    del samples[1].gt_soft_seg
    hard = head.loss_by_feat(logits, samples)['loss_bce']
    assert not torch.allclose(hard, expected)


def test_prediction_resizes_the_probabilities_bicubically_as_detris_evaluates():
    head = tiny_head()
    logits = torch.randn(1, 1, 8, 8) * 4
    out = head.predict_by_feat(logits, [dict(img_shape=(32, 32))])
    probs = F.interpolate(logits.sigmoid(), size=(32, 32), mode='bicubic', align_corners=True)
    assert out.shape == (1, 1, 32, 32)
    torch.testing.assert_close(out.sigmoid(), probs.clamp(1e-6, 1 - 1e-6))
    bilinear = F.interpolate(logits, size=(32, 32), mode='bilinear').sigmoid()
    assert not torch.allclose(out.sigmoid(), bilinear, atol=1e-3)
