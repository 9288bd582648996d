# Copyright (c) mmamlris contributors. All rights reserved.
"""Map a map on a letterboxed canvas back onto the original image."""
from typing import Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import Tensor

__all__ = ['unletterbox']


def unletterbox(maps: Tensor, inverse: Sequence[Sequence[float]],
                ori_shape: Tuple[int, int]) -> Tensor:
    """Warp ``[C, H, W]`` maps on the canvas back to the image, as DETRIS evaluates.

    ``cv2.warpAffine`` of each channel with the canvas -> image matrix that ``LetterBox``
    recorded, bicubic, 0 outside the canvas (computed on the CPU in float32, as DETRIS does;
    the result returns to the maps' device and dtype).

    Args:
        maps (Tensor): ``[C, H, W]`` (e.g. probabilities) on the canvas.
        inverse (Sequence[Sequence[float]]): ``[2, 3]`` affine matrix, canvas -> image.
        ori_shape (tuple[int, int]): ``(h, w)`` of the image.

    Returns:
        Tensor: ``[C, h, w]``.
    """
    height, width = int(ori_shape[0]), int(ori_shape[1])
    matrix = np.asarray(inverse, dtype=np.float64)
    if matrix.shape != (2, 3):
        raise ValueError(f'unletterbox: letterbox_inverse must be a 2x3 matrix, got shape '
                         f'{matrix.shape}.')
    source = maps.detach().float().cpu().numpy()
    out = [cv2.warpAffine(channel, matrix, (width, height), flags=cv2.INTER_CUBIC,
                          borderValue=0.) for channel in source]
    return torch.from_numpy(np.stack(out)).to(device=maps.device, dtype=maps.dtype)
