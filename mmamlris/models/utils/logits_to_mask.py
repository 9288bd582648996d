# Copyright (c) mmamlris contributors. All rights reserved.
"""Decoder logits -> binary mask, as mmseg's post-processing decides."""
from torch import Tensor

__all__ = ['logits_to_mask']


def logits_to_mask(logits: Tensor, threshold: float = 0.5) -> Tensor:
    """Turn segmentation logits into the predicted mask, the way mmseg does.

    Two or more channels: the argmax over the channels (1 = object for RIS decoders); one
    channel: ``sigmoid(logits) > threshold``, in the dtype of the logits (as mmseg's
    ``postprocess_result``).

    Args:
        logits (Tensor): ``[..., C, H, W]``.
        threshold (float): Threshold of one-channel decoders (``decode_head.threshold``).

    Returns:
        Tensor: ``[..., 1, H, W]``: int64 labels (``C > 1``) or 0./1. (``C == 1``).
    """
    if logits.shape[-3] > 1:
        return logits.argmax(dim=-3, keepdim=True)
    return (logits.sigmoid() > threshold).to(logits)
