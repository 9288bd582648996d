# Copyright (c) mmamlris contributors. All rights reserved.
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.models import SegDataPreProcessor
from mmseg.structures import SegDataSample

from mmamlris.models import RISDataPreProcessor, stack_text_inputs
from mmamlris.registry import MODELS

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def _sample(height, width, ids, seed=0, with_tokens=True):
    """A packed (uint8 image, SegDataSample) pair as PackRISInputs makes it."""
    gen = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 256, (3, height, width), generator=gen, dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(ori_shape=(height, width), img_shape=(height, width),
                                         text=f'expression {seed}'))
    sample.gt_sem_seg = PixelData(
        data=torch.randint(0, 2, (1, height, width), generator=gen, dtype=torch.long))
    if with_tokens:
        sample.text_token_ids = torch.tensor(ids, dtype=torch.long)
        sample.text_attention_mask = torch.ones(len(ids), dtype=torch.long)
    return img, sample


def _batch(*pairs):
    return dict(inputs=[p[0] for p in pairs], data_samples=[p[1] for p in pairs])


def _preprocessor(**kwargs):
    cfg = dict(type='RISDataPreProcessor', mean=MEAN, std=STD, bgr_to_rgb=False,
               size_divisor=8, pad_val=0, seg_pad_val=255)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_training_batch_normalises_pads_and_stacks_like_mmseg():
    pairs = [_sample(20, 24, [101, 1996, 102], seed=1),
             _sample(16, 30, [101, 1996, 2417, 4418, 102], seed=2)]
    ids_before = [p[1].text_token_ids.clone() for p in pairs]
    processor = _preprocessor()
    out = processor(_batch(*pairs), training=True)
    inputs, samples = out['inputs'], out['data_samples']

    assert inputs.shape == (2, 3, 24, 32)  # max (20, 30) rounded up to multiples of 8
    assert inputs.dtype == torch.float32
    mean, std = torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1)
    expected = (pairs[0][0].float() - mean) / std
    torch.testing.assert_close(inputs[0, :, :20, :24], expected)
    assert torch.all(inputs[0, :, 20:] == 0) and torch.all(inputs[0, :, :, 24:] == 0)

    assert tuple(samples[0].img_shape) == (20, 24)
    assert tuple(samples[0].pad_shape) == (24, 32)
    assert tuple(samples[1].img_shape) == (16, 30)
    assert samples[1].gt_sem_seg.data.shape == (1, 24, 32)
    assert torch.all(samples[1].gt_sem_seg.data[:, 16:] == 255)

    # Tokens travel unchanged, on the device; the segmentor stacks them once per forward,
    # padded to the batch max (5) with id 0 and mask 0.
    assert samples[0].text_token_ids.tolist() == ids_before[0].tolist()
    assert samples[1].text_token_ids.tolist() == ids_before[1].tolist()
    for sample in samples:
        assert sample.text_token_ids.device == inputs.device

    ids, mask = stack_text_inputs(samples)
    assert ids.shape == mask.shape == (2, 5)
    assert ids.dtype == mask.dtype == torch.int64
    assert ids[0].tolist() == [101, 1996, 102, 0, 0]
    assert mask[0].tolist() == [1, 1, 1, 0, 0] and mask[1].tolist() == [1] * 5

    # Images and GT are exactly what mmseg's SegDataPreProcessor makes.
    reference = SegDataPreProcessor(mean=MEAN, std=STD, size_divisor=8)(
        _batch(_sample(20, 24, [1], seed=1), _sample(16, 30, [1], seed=2)), training=True)
    torch.testing.assert_close(inputs, reference['inputs'])
    assert torch.equal(samples[1].gt_sem_seg.data, reference['data_samples'][1].gt_sem_seg.data)


def test_bgr_to_rgb_flips_the_channels():
    img, sample = _sample(8, 8, [101, 102])
    out = _preprocessor(mean=[0, 0, 0], std=[1, 1, 1], bgr_to_rgb=True)(
        _batch((img, sample)), training=True)
    torch.testing.assert_close(out['inputs'][0], img.flip(0).float())


def test_test_mode_stacks_without_padding_unless_test_cfg_says_so():
    pairs = [_sample(20, 24, [101, 102], seed=1), _sample(20, 24, [101, 5, 6, 102], seed=2)]
    out = _preprocessor()(_batch(*pairs), training=False)
    assert out['inputs'].shape == (2, 3, 20, 24)  # mmseg: no padding at test time
    assert 'pad_shape' not in out['data_samples'][0]
    ids, mask = stack_text_inputs(out['data_samples'])
    assert ids[0].tolist() == [101, 102, 0, 0] and mask[0].tolist() == [1, 1, 0, 0]

    pairs = [_sample(20, 24, [101, 102], seed=1), _sample(20, 24, [101, 102], seed=2)]
    out = _preprocessor(test_cfg=dict(size_divisor=16))(_batch(*pairs), training=False)
    assert out['inputs'].shape == (2, 3, 32, 32)


def test_missing_tokens_say_which_transform_is_missing():
    pairs = [_sample(8, 8, [101, 102]), _sample(8, 8, [101, 102], with_tokens=False)]
    with pytest.raises(ValueError, match='TokenizeExpression') as info:
        _preprocessor()(_batch(*pairs), training=True)
    assert 'Data sample 1' in str(info.value)
    with pytest.raises(ValueError, match='TokenizeExpression'):
        stack_text_inputs([pairs[1][1]])


def test_other_bad_inputs_raise_clear_errors():
    img, sample = _sample(8, 8, [101, 102])
    with pytest.raises(ValueError, match='size_divisor'):
        RISDataPreProcessor(mean=MEAN, std=STD)(_batch((img, sample)), training=True)
    with pytest.raises(ValueError, match='data_samples'):
        _preprocessor()(dict(inputs=[img]), training=False)
    sample.text_attention_mask = torch.ones(3, dtype=torch.long)
    with pytest.raises(ValueError, match='text_attention_mask has 3'):
        stack_text_inputs([sample])
    sample.text_token_ids = torch.ones(1, 3, dtype=torch.long)
    with pytest.raises(ValueError, match='1-D'):
        stack_text_inputs([sample])
