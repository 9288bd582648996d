# Copyright (c) mmamlris contributors. All rights reserved.
"""Which pixels of a padded batch belong to the real images (the rest is padding)."""
import math
from typing import Optional, Tuple

import torch
from mmseg.utils import OptSampleList
from torch import Tensor

__all__ = ['real_image_pixels']


def real_image_pixels(data_samples: OptSampleList, image_size: Tuple[int, int],
                      device: torch.device) -> Optional[Tensor]:
    """``[B, 1, H, W]`` bool, True on the pixels of each sample's image; None when that is
    every pixel of the batch (or the samples do not say).

    A letterboxed sample (``letterbox_box = (x0, y0, x1, y1)``, from ``LetterBox``) has its
    image in that box (a pixel touching it counts); any other sample has it in the top-left
    ``img_shape`` (the data preprocessor pads at the bottom and the right).
    """
    if not data_samples:
        return None
    height, width = image_size
    boxes = []
    for sample in data_samples:
        box = sample.metainfo.get('letterbox_box')
        if box is not None:
            x0, y0, x1, y1 = box
            boxes.append((max(0, math.floor(y0)), min(height, math.ceil(y1)),
                          max(0, math.floor(x0)), min(width, math.ceil(x1))))
        elif 'img_shape' in sample.metainfo:
            h, w = sample.metainfo['img_shape'][:2]
            boxes.append((0, min(height, h), 0, min(width, w)))
        else:
            boxes.append((0, height, 0, width))
    if all(box == (0, height, 0, width) for box in boxes):
        return None
    valid = torch.zeros(len(boxes), 1, height, width, dtype=torch.bool, device=device)
    for index, (top, bottom, left, right) in enumerate(boxes):
        valid[index, :, top:bottom, left:right] = True
    return valid
