# Copyright (c) mmamlris contributors. All rights reserved.
"""Data preprocessor of referring segmentation: images as in mmseg, plus the expression tokens."""
from typing import Any, Dict, Tuple

import numpy as np
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
    """:class:`SegDataPreProcessor` that also checks the tokens of the expressions.

    Images and ``gt_sem_seg`` are normalised, padded and stacked exactly as mmseg does (see
    :class:`mmseg.models.SegDataPreProcessor` for the arguments ``mean``, ``std``, ``size``,
    ``size_divisor``, ``pad_val``, ``seg_pad_val``, ``bgr_to_rgb``, ``rgb_to_bgr`` and
    ``test_cfg``). The data fields ``text_token_ids`` and ``text_attention_mask`` of every data
    sample are checked before any work (a missing ``TokenizeExpression`` is a clear error) and
    moved to the model's device with the samples; the segmentor stacks them into ``[B, L_b]``
    once per forward, with :func:`stack_text_inputs`.

    As in mmseg, training batches are padded to ``size`` or ``size_divisor`` (one of them is
    required for training), and test images are stacked unpadded unless ``test_cfg`` gives a
    ``size`` or ``size_divisor`` (all the images of a test batch must then have one size).
    :meth:`denormalize` undoes the normalisation, for drawing what the model saw.
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Normalise, pad and stack the images; check the token fields.

        Args:
            data (dict): ``inputs`` (list of uint8 ``[3, H, W]``) and ``data_samples`` (list of
                SegDataSample with the token fields) from the dataloader.
            training (bool): Whether the batch is a training batch.

        Returns:
            dict: ``inputs`` ``[B, 3, H, W]`` float and ``data_samples`` on the device.
        """
        data_samples = data.get('data_samples')
        if not data_samples:
            raise ValueError('RISDataPreProcessor needs `data_samples` with the tokenised '
                             'expression (PackRISInputs makes them); got none.')
        if training and self.size is None and self.size_divisor is None:
            raise ValueError('RISDataPreProcessor pads training batches as mmseg does: set '
                             '`size` (e.g. (448, 448)) or `size_divisor` (e.g. 32).')
        for index, sample in enumerate(data_samples):  # fail before any work
            ids = _token_field(sample, TOKEN_FIELDS[0], index)
            mask = _token_field(sample, TOKEN_FIELDS[1], index)
            if ids.shape != mask.shape:
                raise ValueError(
                    f'Data sample {index}: text_token_ids has {ids.numel()} tokens but '
                    f'text_attention_mask has {mask.numel()}.')
        return super().forward(data, training)

    def denormalize(self, inputs: Tensor) -> np.ndarray:
        """Undo the normalisation: model inputs -> RGB uint8 images.

        Args:
            inputs (Tensor): ``[B, 3, H, W]`` images as the model receives them.

        Returns:
            np.ndarray: RGB uint8 ``[B, H, W, 3]`` (the channels are taken to be RGB when this
            preprocessor converts BGR to RGB, as for the BGR images that ``LoadImageFromFile``
            reads, and BGR otherwise).
        """
        x = inputs.detach().float()
        if self._enable_normalize:
            x = x * self.std.to(x) + self.mean.to(x)
        if not self.channel_conversion:
            x = x.flip(1)  # BGR as loaded by cv2 -> RGB
        x = x.round().clamp(0, 255).to(torch.uint8)
        return x.permute(0, 2, 3, 1).cpu().numpy()
