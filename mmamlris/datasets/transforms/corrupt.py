# Copyright (c) mmamlris contributors. All rights reserved.
"""``Corrupt``: one ImageNet-C corruption of the loaded image (robustness benchmarks)."""
import os.path as osp
import zlib
from collections import OrderedDict
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmamlris.registry import TRANSFORMS
from mmamlris.utils import InputValueError
from .image_corruptions import check_corruption, corrupt_image
from .loading import referred_mask

REGIONS = ('object', 'context')


def sample_seed(results: dict, *keys) -> int:
    """A per-image seed: the same image gets the same draw in every expression, process and
    run, whatever the order or the folder the dataset lives in (the image's file name and
    ``keys`` hashed)."""
    name = osp.basename(str(results.get('img_path')))
    text = '|'.join(str(k) for k in (name, *keys))
    return zlib.crc32(text.encode('utf-8'))


@TRANSFORMS.register_module()
class Corrupt(BaseTransform):
    """Corrupt the image with one corruption of ImageNet-C (PyPI package ``imagecorruptions``).

    Place it right after ``LoadRISImageFromFile``, as mmdet's robustness benchmark does: the
    corruption sees the image at its original size, before any resize, and the GT is not
    touched. The randomness (noise, frost crop ...) is seeded per image and corruption
    (:func:`sample_seed`), the same for every severity, so a run is reproducible and the
    severities of one image differ only in strength. See
    :mod:`mmamlris.datasets.transforms.image_corruptions` for the names and how the package
    runs on NumPy 2.

    With ``region``, the corruption is confined to the referred object (``'object'``) or to
    everything else (``'context'``): the whole image is corrupted as without it, then only the
    region's pixels take the corrupted values (the two regions together give the whole-image
    corruption). The referred mask is decoded from the annotation at the original size, as
    ``LoadReferringMask`` does; an expression without target has an empty object.

    Required Keys:

    - img (np.uint8): ``[H, W, 3]`` BGR (as loaded), at least 32x32
    - img_path (str, optional): its file name seeds the randomness
    - segmentation / segmentations, height, width: with ``region``, as for
      ``LoadReferringMask``

    Modified Keys:

    - img

    Added Keys:

    - corruption (str), corruption_severity (int), corruption_region (str | None)

    Args:
        corruption (str): e.g. ``'gaussian_noise'``, ``'fog'``.
        severity (int): 1 (mildest) to 5.
        seed (int): Mixed into every image's seed. Defaults to 0.
        cache (int): Keep the corrupted versions of the last ``cache`` images (by
            ``img_path``) and reuse them: an image referred to by several expressions is
            corrupted once (``glass_blur`` takes ~0.4 s on a 160 px image). Only valid right
            after the image is loaded, where the image depends on its file alone. Defaults to
            0 (no cache). With ``region`` the whole-image corruption is what is kept.
        region (str, optional): ``'object'`` or ``'context'``: corrupt only there. Defaults
            to None (the whole image).
    """

    def __init__(self, corruption: str, severity: int, seed: int = 0, cache: int = 0,
                 region: Optional[str] = None) -> None:
        check_corruption(corruption, severity)
        if region not in (None, *REGIONS):
            raise InputValueError(f'Corrupt: region must be one of {REGIONS} or None, got '
                                  f'{region!r}.')
        self.corruption = corruption
        self.severity = severity
        self.seed = seed
        self.cache = cache
        self.region = region
        self._done: 'OrderedDict[str, np.ndarray]' = OrderedDict()

    def transform(self, results: dict) -> dict:
        """Replace ``results['img']`` by its corrupted version."""
        clean = results['img']
        key = results.get('img_path') if self.cache else None
        if key is not None and key in self._done:
            self._done.move_to_end(key)
            corrupted = self._done[key].copy()
        else:
            seed = sample_seed(results, self.corruption, self.seed)  # one draw per image
            rgb = np.ascontiguousarray(clean[..., ::-1])
            corrupted = np.ascontiguousarray(
                corrupt_image(rgb, self.corruption, self.severity, seed)[..., ::-1])
            if key is not None:
                self._done[key] = corrupted.copy()
                if len(self._done) > self.cache:
                    self._done.popitem(last=False)
        if self.region is not None:
            inside = referred_mask(results, 'Corrupt')
            keep = ~inside if self.region == 'object' else inside
            corrupted[keep] = clean[keep]
        results['img'] = corrupted
        results['corruption'] = self.corruption
        results['corruption_severity'] = self.severity
        results['corruption_region'] = self.region
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(corruption={self.corruption!r}, '
                f'severity={self.severity}, seed={self.seed}, cache={self.cache}, '
                f'region={self.region!r})')
