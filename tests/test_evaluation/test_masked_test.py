# Copyright (c) mmamlris contributors. All rights reserved.
"""masked_predict: a test batch predicted from the images masked as the model's training
masks them (the shortcut probe)."""
import types

import pytest
import torch
from mmengine.structures import PixelData

from mmamlris.evaluation.masked_test import _gt_at_input_size, masked_predict
from mmamlris.registry import MODELS
from mmamlris.testing.ris_inputs import demo_ris_inputs, tiny_aml_cfg, tiny_segmentor_cfg
from mmamlris.utils import InputValueError

BLOCK = 16


@pytest.fixture(scope='module')
def oracle_model():
    """A tiny AML model whose oracle hides half of the 16 blocks of a 64x64 image, never
    the referred object (one block: rows and columns 16-32)."""
    torch.manual_seed(0)
    aml = tiny_aml_cfg(scorer=dict(type='OracleScorer'),
                       filter=dict(type='AlignmentAwareFilter', block_size=BLOCK, count=0.5))
    model = MODELS.build(tiny_segmentor_cfg(aml=aml))
    model.eval()
    return model


def _hidden_blocks(clean: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """``[B, 4, 4]`` True where the image the model saw differs from the clean one."""
    changed = (clean != seen).any(dim=1).float()
    return torch.nn.functional.max_pool2d(changed[:, None], BLOCK)[:, 0].bool()


@pytest.mark.parametrize('gt_scale', [1, 2])
def test_predicts_from_the_images_the_oracle_masked(oracle_model, gt_scale):
    """The prediction is made from the masked images (half of the blocks hidden, never the
    referred object's), also when the test pipeline loaded the GT at another size than the
    resized image, and it differs from the clean prediction."""
    model = oracle_model
    data = demo_ris_inputs(batch_size=2)
    for sample in data['data_samples']:  # the GT as a test pipeline may load it: original size
        gt = sample.gt_sem_seg.data
        sample.gt_sem_seg = PixelData(data=gt.repeat_interleave(gt_scale, 1)
                                      .repeat_interleave(gt_scale, 2))
    clean = model.data_preprocessor(data, False)
    seen = []
    predict = model.predict

    def spy(inputs, samples):
        seen.append(inputs)
        return predict(inputs, samples)

    model.predict = spy
    try:
        masked = masked_predict(model, data)
    finally:
        del model.predict
    hidden = _hidden_blocks(clean['inputs'], seen[0])
    assert hidden.sum(dim=(1, 2)).tolist() == [8, 8]
    assert not hidden[:, 1, 1].any()  # the referred object's block is never hidden
    with torch.no_grad():
        plain = model.predict(clean['inputs'], clean['data_samples'])
    assert not torch.equal(masked[0].seg_logits.data, plain[0].seg_logits.data)
    # the metric reads the GT the pipeline loaded, untouched
    assert masked[0].gt_sem_seg.data.shape[-1] == 64 * gt_scale


def test_gt_is_brought_to_the_input_size_on_a_copy():
    data = demo_ris_inputs(batch_size=1, image_shapes=((32, 32), ))
    sample = data['data_samples'][0]
    sample.gt_sem_seg = PixelData(data=torch.arange(16).view(1, 4, 4).repeat_interleave(8, 1)
                                  .repeat_interleave(8, 2))  # 32x32 of 8x8 cells
    sample.gt_objects = PixelData(data=torch.ones(1, 32, 32, dtype=torch.uint8))
    sample.set_metainfo(dict(img_shape=(4, 4)))
    copy = _gt_at_input_size(sample)
    assert torch.equal(copy.gt_sem_seg.data, torch.arange(16).view(1, 4, 4))
    assert copy.gt_objects.data.shape == (1, 4, 4)
    assert copy.gt_objects.data.dtype == torch.uint8
    assert sample.gt_sem_seg.data.shape == (1, 32, 32)  # the original is untouched


def test_a_model_without_aml_or_a_batch_without_gt_is_a_clear_error(oracle_model):
    with pytest.raises(InputValueError, match='needs a model with alignment-aware masking'):
        masked_predict(types.SimpleNamespace(with_aml=False), {})
    data = demo_ris_inputs(batch_size=1)
    del data['data_samples'][0].gt_sem_seg
    with pytest.raises(InputValueError, match='carry no GT'):
        masked_predict(oracle_model, data)
