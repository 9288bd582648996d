# Copyright (c) mmamlris contributors. All rights reserved.
"""Testing an AML model on images masked as its training masked them: the shortcut probe.

Stage 2 of an AML model learns on images whose weak blocks are hidden and is tested on clean
ones. :func:`masked_predict` gives the test images the training-time step first (stage 1 on
the clean image, the model's own scorer and filter, the blocks filled as in training) and
then predicts as usual, so that one checkpoint can be scored both ways:

.. code-block:: none

    masked_predict(model, data)
     ├─ model.data_preprocessor(data)           normalised, padded images
     ├─ model.mask_batch(inputs, samples')      samples' = GT at the network input size
     └─ model.predict(masked_inputs, samples)   the metric reads the untouched samples

A mask that carries a cue the model learned to read -- an oracle never hides the referred
object, so the object is where nothing was hidden -- scores far above the clean images; a
mask that names nothing (blocks chosen without regard to the object) scores about the same
or lower. ``tools/analysis_tools/test_masked.py`` is the command line.
"""
from typing import Dict, Iterable

import torch
from mmengine.evaluator import Evaluator
from mmengine.model import BaseModel
from mmengine.structures import PixelData

from mmamlris.utils import InputValueError
from .iou import resize_labels


def _gt_at_input_size(sample):
    """A shallow copy of ``sample`` whose ``gt_sem_seg`` (and ``gt_objects``) are at its
    ``img_shape`` -- the resized image -- as in a training batch (a test pipeline may load
    the GT at the original size for the metric)."""
    size = sample.img_shape[:2]
    copy = sample.clone()
    for field in ('gt_sem_seg', 'gt_objects'):
        if field in sample:
            setattr(copy, field, PixelData(data=resize_labels(sample.get(field).data, size)))
    return copy


def masked_predict(model: BaseModel, data: dict) -> list:
    """Predict a test batch whose images got the model's training-time AML step.

    Args:
        model (AMLSegmentor): A model with ``aml`` (the step to apply).
        data (dict): A batch from the test dataloader (``inputs``, ``data_samples`` with the
            GT, which oracle scorers read).

    Returns:
        list[SegDataSample]: As ``model.test_step(data)``, predicted from the masked images.
    """
    if not getattr(model, 'with_aml', False):
        raise InputValueError('masked_predict needs a model with alignment-aware masking '
                              '(model.aml); this config trains without it, so its test '
                              'images were never masked.')
    data = model.data_preprocessor(data, False)
    inputs, samples = data['inputs'], data['data_samples']
    if any('gt_sem_seg' not in s for s in samples):
        raise InputValueError('masked_predict: the test samples carry no GT (gt_sem_seg); '
                              'the test pipeline must load the referring mask.')
    with torch.no_grad():
        aml = model.mask_batch(inputs, [_gt_at_input_size(s) for s in samples])
        return model.predict(aml.masked_inputs, samples)


def evaluate_masked(model: BaseModel, dataloader: Iterable,
                    evaluator: Evaluator) -> Dict[str, float]:
    """The test metrics of ``model`` on masked test images (:func:`masked_predict`).

    Args:
        model (AMLSegmentor): The model, not wrapped.
        dataloader (DataLoader): The test dataloader (with the GT).
        evaluator (Evaluator): The test evaluator.

    Returns:
        dict[str, float]: What ``evaluator.evaluate`` returns.
    """
    model.eval()
    for data in dataloader:
        evaluator.process(data_samples=masked_predict(model, data), data_batch=data)
    return evaluator.evaluate(len(dataloader.dataset))
