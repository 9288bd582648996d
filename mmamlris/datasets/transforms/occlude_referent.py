# Copyright (c) mmamlris contributors. All rights reserved.
"""``OccludeReferent``: a texture patch over part of the referred object (RIS robustness)."""
import math

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmamlris.registry import TRANSFORMS
from mmamlris.utils import InputValueError
from .corrupt import sample_seed
from .loading import referred_mask


def texture(rng: np.random.Generator, height: int, width: int, cell: int = 6) -> np.ndarray:
    """``[H, W, 3]`` uint8: smooth random colour blobs with fine grain (an occluder's look)."""
    coarse = rng.random((height // cell + 2, width // cell + 2, 3), dtype=np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0.0, 0.08, (height, width, 3)).astype(np.float32)
    return np.uint8(np.clip(smooth + grain, 0.0, 1.0) * 255)


@TRANSFORMS.register_module()
class OccludeReferent(BaseTransform):
    """Cover a given fraction of the referred object's pixels with a texture patch.

    A random direction is drawn and the object's pixels with the smallest projection on it
    -- ``ceil(fraction * area)`` of them, i.e. the part of the object on one side of a
    straight edge -- take the colours of a random texture. No pixel outside the object
    changes, so the occlusion is confined to the object and its share of the object is
    exact. An expression without target (gRefCOCO) leaves the image unchanged. For several
    targets the union is occluded. Randomness is seeded per image and referred object, the
    same for every fraction: a smaller occlusion of an object lies inside a larger one.

    Place it right after ``LoadRISImageFromFile``: the referred mask is decoded from the
    annotation at the original size, as ``LoadReferringMask`` does (the GT that the metric
    reads is loaded by the pipeline as before and is not changed).

    Required Keys:

    - img (np.uint8): ``[H, W, 3]``
    - segmentation / segmentations, height, width: as for ``LoadReferringMask``
    - img_path, ref_id (optional): seed the randomness

    Modified Keys:

    - img

    Added Keys:

    - corruption (``'occlusion'``), corruption_severity (the fraction)

    Args:
        fraction (float): Share of the object's pixels covered, in (0, 1].
        seed (int): Mixed into every sample's seed. Defaults to 0.
    """

    def __init__(self, fraction: float, seed: int = 0) -> None:
        if not 0.0 < float(fraction) <= 1.0:
            raise InputValueError(f'OccludeReferent: fraction must be in (0, 1], got '
                                  f'{fraction!r}.')
        self.fraction = float(fraction)
        self.seed = seed

    def transform(self, results: dict) -> dict:
        """Paint the texture over ``fraction`` of the referred object in ``results['img']``."""
        img = results['img']
        mask = referred_mask(results, 'OccludeReferent')
        ys, xs = np.nonzero(mask)
        if len(ys):
            rng = np.random.default_rng(
                sample_seed(results, results.get('ref_id'), self.seed))
            angle = rng.uniform(0.0, 2.0 * math.pi)
            projection = xs * math.cos(angle) + ys * math.sin(angle)
            count = math.ceil(self.fraction * len(ys))
            chosen = np.argsort(projection, kind='stable')[:count]
            top, left = ys.min(), xs.min()
            patch = texture(rng, ys.max() - top + 1, xs.max() - left + 1)
            img = img.copy()
            img[ys[chosen], xs[chosen]] = patch[ys[chosen] - top, xs[chosen] - left]
            results['img'] = img
        results['corruption'] = 'occlusion'
        results['corruption_severity'] = self.fraction
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(fraction={self.fraction}, seed={self.seed})'
