# Copyright (c) mmamlris contributors. All rights reserved.

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import nn

from mmamlris.models.decode_heads import BaseRISDecodeHead, LiteRISHead
from mmamlris.models.decode_heads.lite_ris_head import coord_map
from mmamlris.registry import MODELS

IN_CHANNELS = [8, 16, 24, 32]
TEXT_CHANNELS = 12


def _head(**kwargs):
    cfg = dict(type='LiteRISHead', in_channels=IN_CHANNELS, channels=16,
               text_channels=TEXT_CHANNELS, num_heads=2,
               norm_cfg=dict(type='GN', num_groups=4))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _feats(batch=2, size=32, seed=0):
    """Backbone-like features at strides 4, 8, 16, 32 of a ``size`` x ``size`` image."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, size // 4 // 2**i, size // 4 // 2**i, generator=gen)
            for i, c in enumerate(IN_CHANNELS)]


def _text(batch=2, length=6, seed=1):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(batch, length, TEXT_CHANNELS, generator=gen)
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[0, 4:] = False  # the first expression has 4 real tokens
    return feats, mask


def _samples(masks):
    samples = []
    for mask in masks:
        sample = SegDataSample(metainfo=dict(img_shape=tuple(mask.shape)))
        sample.gt_sem_seg = PixelData(data=mask[None].long())
        samples.append(sample)
    return samples


def test_is_a_ris_head_with_the_official_loss_defaults():
    head = _head()
    assert isinstance(head, LiteRISHead) and isinstance(head, BaseRISDecodeHead)
    assert head.out_channels == 2 and head.num_classes == 2
    assert head.align_corners is False
    assert head.input_transform == 'multiple_select' and head.in_index == [0, 1, 2, 3]
    assert head.loss_decode.class_weight == [0.9, 1.1]
    assert head.loss_decode.loss_name == 'loss_ce'
    assert head.text_prompts(_feats()) is None


def test_coord_map_runs_left_to_right_and_top_to_bottom():
    coords = coord_map(2, 2, 4, torch.zeros(1))
    assert coords.shape == (2, 2, 2, 4)
    torch.testing.assert_close(coords[1, 0, 1], torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    torch.testing.assert_close(coords[0, 1, :, 2], torch.tensor([-0.5, 0.5]))


@pytest.mark.parametrize('out_channels', [2, 1])
def test_shapes_loss_keys_and_predict(out_channels):
    kwargs = {}
    if out_channels == 1:
        kwargs = dict(out_channels=1, threshold=0.5,
                      loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True,
                                       avg_non_ignore=True))
    head = _head(**kwargs)
    feats = _feats()
    text, mask = _text()
    logits = head(feats, text, mask)
    assert logits.shape == (2, out_channels, 8, 8)  # the finest level, stride 4

    gts = torch.zeros(2, 32, 32, dtype=torch.long)
    gts[:, 8:20, 4:16] = 1
    losses = head.loss(feats, text, mask, _samples(gts), None)
    assert set(losses) == {'loss_ce', 'acc_seg'}
    assert losses['loss_ce'].ndim == 0 and torch.isfinite(losses['loss_ce'])

    head.eval()
    with torch.no_grad():
        pred = head.predict(feats, text, mask, [dict(img_shape=(32, 32))], None)
    assert pred.shape == (2, out_channels, 32, 32)


@pytest.mark.parametrize('num_attn_levels', [0, 2, 4])
def test_every_parameter_gets_a_gradient(num_attn_levels):
    head = _head(num_attn_levels=num_attn_levels)
    text, mask = _text()
    gts = torch.randint(0, 2, (2, 32, 32))
    losses = head.loss(_feats(), text, mask, _samples(gts), None)
    losses['loss_ce'].backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert not missing
    zero = [n for n, p in head.named_parameters() if not p.grad.abs().sum() > 0]
    assert not zero
    assert sum(isinstance(m, nn.MultiheadAttention) for m in head.modules()) == num_attn_levels


def test_text_changes_the_logits():
    head = _head().eval()
    feats = _feats()
    text, mask = _text()
    other, _ = _text(seed=7)
    with torch.no_grad():
        logits = head(feats, text, mask)
        other_logits = head(feats, other, mask)
    assert not torch.allclose(logits, other_logits, atol=1e-4)
    # Each level's modulation and the word attention both carry the text.
    without_attn = _head(num_attn_levels=0).eval()
    with torch.no_grad():
        assert not torch.allclose(without_attn(feats, text, mask),
                                  without_attn(feats, other, mask), atol=1e-4)


def test_padding_never_changes_the_logits():
    head = _head().eval()
    feats = _feats()
    text, mask = _text()
    with torch.no_grad():
        logits = head(feats, text, mask)
        garbage = text.clone()
        garbage[0, 4:] = 1e4 * torch.randn(2, TEXT_CHANNELS)  # padded slots of sample 0
        torch.testing.assert_close(head(feats, garbage, mask), logits)
        # Longer padding (another batch's L_b) gives the same logits too.
        longer = torch.cat([text, torch.randn(2, 3, TEXT_CHANNELS)], dim=1)
        longer_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
        torch.testing.assert_close(head(feats, longer, longer_mask), logits,
                                   rtol=1e-5, atol=1e-5)
        # A sample without a single real token gives finite logits rather than NaN.
        assert torch.isfinite(head(feats, text, torch.zeros_like(mask))).all()


def test_overfits_four_samples_quickly():
    torch.manual_seed(0)
    # Fixed random conv stack: a stand-in backbone with strides 4, 8, 16, 32.
    stages, cin = [], 3
    for i, cout in enumerate(IN_CHANNELS):
        stride = 4 if i == 0 else 2
        stages.append(nn.Sequential(nn.Conv2d(cin, cout, stride, stride), nn.ReLU()))
        cin = cout
    backbone = nn.ModuleList(stages).requires_grad_(False)
    images = torch.rand(4, 3, 32, 32)
    feats, x = [], images
    for stage in backbone:
        x = stage(x)
        feats.append(x)
    gts = torch.zeros(4, 32, 32, dtype=torch.long)
    # Boxes on the stride-4 grid, so that the stride-4 logits can fit them.
    gts[0, 4:16, 4:16] = 1
    gts[1, 16:28, 0:12] = 1
    gts[2, 0:8, 16:32] = 1
    gts[3, 12:28, 16:28] = 1
    text, mask = _text(batch=4)
    samples = _samples(gts)

    head = _head(dropout_ratio=0.0)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = head.loss(feats, text, mask, samples, None)['loss_ce']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # Measured: 0.65 -> 0.04; a clear factor below that would mean a broken head.
    assert losses[-1] < 0.15 * losses[0], losses[::10]
    acc = head.loss(feats, text, mask, samples, None)['acc_seg']
    assert acc.item() > 90


def test_bad_inputs_raise_clear_errors():
    head = _head()
    text, mask = _text()
    feats = _feats()
    with pytest.raises(ValueError, match='text_channels'):
        head(feats, torch.zeros(2, 6, TEXT_CHANNELS + 1), mask)
    with pytest.raises(ValueError, match='text_mask'):
        head(feats, text, mask[:, :3])
    with pytest.raises(ValueError, match='fine to coarse'):
        _head(in_channels=IN_CHANNELS[::-1])(feats[::-1], text, mask)
    with pytest.raises(ValueError, match='channels'):
        head([f[:, :-1] for f in feats], text, mask)
    with pytest.raises(ValueError, match='num_attn_levels'):
        _head(num_attn_levels=5)
    with pytest.raises(ValueError, match='multiple_select'):
        _head(input_transform='resize_concat')
