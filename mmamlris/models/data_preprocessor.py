# Copyright (c) mmamlris contributors. All rights reserved.
"""Data preprocessor of referring segmentation: images as in mmseg, plus the expression tokens."""
from typing import Any, Dict, Tuple

import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.utils import SampleList
from torch import Tensor

from mmamlris.registry import MODELS

TOKEN_FIELDS = ('text_token_ids', 'text_attention_mask')


def _token_field(data_sample: Any, name: str, index: int) -> Tensor:
    """Read one 1-D token field of a data sample as an int64 tensor."""
    if name not in data_sample:
        raise ValueError(
            f'Data sample {index} has no `{name}` field: add '
            "dict(type='TokenizeExpression', ...) to the pipeline before PackRISInputs, so "
            'that every sample carries text_token_ids and text_attention_mask.')
    value = torch.as_tensor(getattr(data_sample, name))
    if value.dim() != 1:
        raise ValueError(f'Data sample {index}: `{name}` must be a 1-D tensor [L], got shape '
                         f'{tuple(value.shape)}.')
    return value.long()


def stack_text_inputs(data_samples: SampleList) -> Tuple[Tensor, Tensor]:
    """Pad the token fields of the samples to the longest one and stack them.

    Args:
        data_samples (list[SegDataSample]): Samples with the data fields ``text_token_ids``
            and ``text_attention_mask`` (int ``[L_i]`` each, made by ``TokenizeExpression``).

    Returns:
        tuple[Tensor, Tensor]: ``input_ids`` and ``attention_mask``, int64 ``[B, L_b]`` with
        ``L_b = max_i L_i``, on the device of the samples' tensors; the padding has id 0 and
        mask 0.

    Raises:
        ValueError: If a sample has no token fields (the pipeline lacks
            ``TokenizeExpression``), a field is not 1-D, or the ids and mask of a sample differ
            in length.
    """
    if not data_samples:
        raise ValueError('stack_text_inputs needs at least one data sample.')
    ids, masks = [], []
    for index, sample in enumerate(data_samples):
        sample_ids = _token_field(sample, 'text_token_ids', index)
        sample_mask = _token_field(sample, 'text_attention_mask', index)
        if sample_ids.shape != sample_mask.shape:
            raise ValueError(
                f'Data sample {index}: text_token_ids has {sample_ids.numel()} tokens but '
                f'text_attention_mask has {sample_mask.numel()}.')
        ids.append(sample_ids)
        masks.append(sample_mask)
    length = max(t.numel() for t in ids)
    device = ids[0].device
    input_ids = torch.zeros((len(ids), length), dtype=torch.long, device=device)
    attention_mask = torch.zeros_like(input_ids)
    for row, (sample_ids, sample_mask) in enumerate(zip(ids, masks)):
        input_ids[row, :sample_ids.numel()] = sample_ids.to(device)
        attention_mask[row, :sample_mask.numel()] = sample_mask.to(device)
    return input_ids, attention_mask


@MODELS.register_module()
class RISDataPreProcessor(SegDataPreProcessor):
    """:class:`SegDataPreProcessor` that also batches the tokens of the expressions.

    Images and ``gt_sem_seg`` are normalised, padded and stacked exactly as mmseg does (see
    :class:`mmseg.models.SegDataPreProcessor` for the arguments ``mean``, ``std``, ``size``,
    ``size_divisor``, ``pad_val``, ``seg_pad_val``, ``bgr_to_rgb``, ``rgb_to_bgr`` and
    ``test_cfg``). In addition, the data fields ``text_token_ids`` and ``text_attention_mask`` of
    all data samples are padded to the longest of the batch, ``L_b`` (id 0, mask 0), as int64
    on the model's device. The segmentor stacks them with :func:`stack_text_inputs`.

    As in mmseg, training batches are padded to ``size`` or ``size_divisor`` (one of them is
    required for training), and test images are stacked unpadded unless ``test_cfg`` gives a
    ``size`` or ``size_divisor`` (all the images of a test batch must then have one size).
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Normalise, pad and stack the images, then pad the token fields.

        Args:
            data (dict): ``inputs`` (list of uint8 ``[3, H, W]``) and ``data_samples`` (list of
                SegDataSample with the token fields) from the dataloader.
            training (bool): Whether the batch is a training batch.

        Returns:
            dict: ``inputs`` ``[B, 3, H, W]`` float and ``data_samples`` whose
            ``text_token_ids`` / ``text_attention_mask`` are int64 ``[L_b]`` on the device.
        """
        data_samples = data.get('data_samples')
        if not data_samples:
            raise ValueError('RISDataPreProcessor needs `data_samples` with the tokenised '
                             'expression (PackRISInputs makes them); got none.')
        if training and self.size is None and self.size_divisor is None:
            raise ValueError('RISDataPreProcessor pads training batches as mmseg does: set '
                             '`size` (e.g. (448, 448)) or `size_divisor` (e.g. 32).')
        for index, sample in enumerate(data_samples):  # fail before any work
            for name in TOKEN_FIELDS:
                _token_field(sample, name, index)
        data = super().forward(data, training)
        input_ids, attention_mask = stack_text_inputs(data['data_samples'])
        for sample, sample_ids, sample_mask in zip(data['data_samples'], input_ids,
                                                   attention_mask):
            sample.text_token_ids = sample_ids
            sample.text_attention_mask = sample_mask
        return data
