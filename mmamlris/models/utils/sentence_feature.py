# Copyright (c) mmamlris contributors. All rights reserved.
"""The sentence feature: the mean of an expression's real token features."""
from torch import Tensor

__all__ = ['sentence_feature']


def sentence_feature(text_feat: Tensor, text_mask: Tensor) -> Tensor:
    """Masked mean of the token features, float32.

    Args:
        text_feat (Tensor): ``[B, N, C]`` token features.
        text_mask (Tensor): ``[B, N]``, True (or 1) for real tokens.

    Returns:
        Tensor: ``[B, C]``; zeros for a row without any real token.
    """
    valid = text_mask.bool()[..., None].float()
    return (text_feat.float() * valid).sum(1) / valid.sum(1).clamp(min=1)
