# Copyright (c) mmamlris contributors. All rights reserved.
"""SynRef scenes with overlapping objects (``overlap`` of :func:`generate_synref`).

By default objects barely touch and the referred ones are drawn last, so a GT polygon is its
object's visible outline. With a larger overlap the objects are drawn in random order, a
referred object may be partly hidden by others, and every annotation holds the object's
**visible** region (RLE) instead of its polygon. A scene in which some object would show less
than :data:`MIN_VISIBLE` of its area is drawn again, so that every object a sentence names
(target or landmark) can still be seen.
"""
from typing import List, Sequence

import numpy as np
from pycocotools import mask as mask_utils

from .scene import _Object

MIN_VISIBLE = 0.5
_ORDER_TRIES = 20


def full_masks(objects: Sequence[_Object], height: int, width: int) -> List[np.ndarray]:
    """``[H, W]`` bool per object: its whole polygon, rasterised as COCO decodes it."""
    return [mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(
        [obj.polygon.reshape(-1).tolist()], height, width))).astype(bool) for obj in objects]


def visible_masks(full: Sequence[np.ndarray], order: Sequence[int]) -> List[np.ndarray]:
    """``[H, W]`` bool per object: what is left of it after the objects drawn later."""
    visible = [m.copy() for m in full]
    for pos, i in enumerate(order):
        for j in order[pos + 1:]:
            visible[i] &= ~full[j]
    return visible


def drawing_order(rng: np.random.Generator, full: Sequence[np.ndarray]):
    """A random drawing order under which every object shows at least :data:`MIN_VISIBLE`
    of its area, with its visible masks; ``None`` if none of a few draws gives one."""
    for _ in range(_ORDER_TRIES):
        order = [int(i) for i in rng.permutation(len(full))]
        visible = visible_masks(full, order)
        if all(v.sum() >= MIN_VISIBLE * max(int(f.sum()), 1) for v, f in zip(visible, full)):
            return order, visible
    return None


def rle_annotation(mask: np.ndarray) -> dict:
    """COCO fields of a visible region: compressed RLE (JSON-ready), area and bbox."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    bbox = [round(float(v), 2) for v in mask_utils.toBbox(rle)]
    return dict(segmentation=dict(size=[int(v) for v in rle['size']],
                                  counts=rle['counts'].decode('ascii')),
                area=float(mask_utils.area(rle)), bbox=bbox)
