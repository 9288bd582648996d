# Copyright (c) mmamlris contributors. All rights reserved.
"""``Corrupt``: one ImageNet-C corruption of the loaded image (robustness benchmarks)."""
import os.path as osp
import zlib
from collections import OrderedDict

import numpy as np
from mmcv.transforms import BaseTransform

from mmamlris.registry import TRANSFORMS
from .image_corruptions import check_corruption, corrupt_image


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

    Required Keys:

    - img (np.uint8): ``[H, W, 3]`` BGR (as loaded), at least 32x32
    - img_path (str, optional): its file name seeds the randomness

    Modified Keys:

    - img

    Added Keys:

    - corruption (str), corruption_severity (int)

    Args:
        corruption (str): e.g. ``'gaussian_noise'``, ``'fog'``.
        severity (int): 1 (mildest) to 5.
        seed (int): Mixed into every image's seed. Defaults to 0.
        cache (int): Keep the corrupted versions of the last ``cache`` images (by
            ``img_path``) and reuse them: an image referred to by several expressions is
            corrupted once (``glass_blur`` takes ~0.4 s on a 160 px image). Only valid right
            after the image is loaded, where the image depends on its file alone. Defaults to
            0 (no cache).
    """

    def __init__(self, corruption: str, severity: int, seed: int = 0, cache: int = 0) -> None:
        check_corruption(corruption, severity)
        self.corruption = corruption
        self.severity = severity
        self.seed = seed
        self.cache = cache
        self._done: 'OrderedDict[str, np.ndarray]' = OrderedDict()

    def transform(self, results: dict) -> dict:
        """Replace ``results['img']`` by its corrupted version."""
        key = results.get('img_path') if self.cache else None
        if key is not None and key in self._done:
            self._done.move_to_end(key)
            results['img'] = self._done[key].copy()
        else:
            seed = sample_seed(results, self.corruption, self.seed)  # one draw per image
            rgb = np.ascontiguousarray(results['img'][..., ::-1])
            results['img'] = np.ascontiguousarray(
                corrupt_image(rgb, self.corruption, self.severity, seed)[..., ::-1])
            if key is not None:
                self._done[key] = results['img'].copy()
                if len(self._done) > self.cache:
                    self._done.popitem(last=False)
        results['corruption'] = self.corruption
        results['corruption_severity'] = self.severity
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(corruption={self.corruption!r}, '
                f'severity={self.severity}, seed={self.seed}, cache={self.cache})')
