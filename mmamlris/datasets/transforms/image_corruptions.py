# Copyright (c) mmamlris contributors. All rights reserved.
"""The ImageNet-C corruptions of the PyPI package ``imagecorruptions``, on today's stack.

``imagecorruptions`` 1.1.2 (the package mmdet's robustness benchmark uses, and its last
release) predates NumPy 2 and scikit-image 0.19. On them ``glass_blur`` and ``gaussian_blur``
fail (they pass ``multichannel=True`` to ``skimage.filters.gaussian``), ``fog`` fails (it reads
``np.float_``) and ``impulse_noise`` ignores NumPy's seed (``skimage.util.random_noise`` now
draws from a generator of its own). The package also declares ``opencv-python``, which would
clash with ``opencv-python-headless``, so it is installed with ``--no-deps``
(``requirements/nodeps.txt``; it needs NumPy, SciPy, scikit-image, OpenCV and Pillow).
:func:`load_imagecorruptions` gives its module a namespace in which those names mean what
they meant when it was written; nothing outside that module's namespace is changed. The
corruptions themselves are the package's, unchanged, called through its own ``corrupt``
(which hands them a PIL image and casts the result to uint8).
"""
import types
import warnings
from typing import Callable, Tuple

import numpy as np

from mmamlris.utils import InputValueError

# The 15 corruptions of ImageNet-C's benchmark (Hendrycks & Dietterich, 2019), in the order
# of ``imagecorruptions.get_corruption_names('common')``: noise, blur, weather, digital.
BENCHMARK_CORRUPTIONS: Tuple[str, ...] = (
    'gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur', 'glass_blur',
    'motion_blur', 'zoom_blur', 'snow', 'frost', 'fog', 'brightness', 'contrast',
    'elastic_transform', 'pixelate', 'jpeg_compression')
# Its four held-out ("validation") corruptions, also available.
HELD_OUT_CORRUPTIONS: Tuple[str, ...] = ('speckle_noise', 'gaussian_blur', 'spatter', 'saturate')
INSTALL_HINT = ('pip install --no-deps imagecorruptions==1.1.2 scikit-image scipy '
                '(or: bash tools/setup_env.sh)')

_CORRUPT: list = []  # the package's ``corrupt`` once imported and adapted


class _NumpyWithAliases(types.ModuleType):
    """NumPy, plus the aliases NumPy 2 removed (``np.float_``), for one module only."""

    def __init__(self) -> None:
        super().__init__('numpy')
        self.float_ = np.float64

    def __getattr__(self, name: str):
        return getattr(np, name)


class _SkimageWithSeededNoise(types.ModuleType):
    """scikit-image, whose ``util.random_noise`` draws from NumPy's global generator (seeded
    by :func:`corrupt_image`) as it did before it took an ``rng`` argument."""

    def __init__(self) -> None:
        import skimage
        super().__init__('skimage')
        self._skimage = skimage
        self.util = types.SimpleNamespace(random_noise=self._random_noise)

    @staticmethod
    def _random_noise(image, **kwargs):
        from skimage.util import random_noise
        kwargs.setdefault('rng', np.random.randint(2**31 - 1))
        return random_noise(image, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._skimage, name)


def _gaussian_with_multichannel(image, sigma=1, multichannel=None, **kwargs):
    """``skimage.filters.gaussian`` accepting the ``multichannel`` flag it dropped in 0.19."""
    from skimage.filters import gaussian
    if multichannel:
        kwargs.setdefault('channel_axis', -1)
    return gaussian(image, sigma=sigma, **kwargs)


def load_imagecorruptions() -> Callable:
    """The package's ``corrupt(image, severity, corruption_name)``, adapted as described above.

    Raises:
        ImportError: ``imagecorruptions`` or one of its dependencies is not installed (the
            message names it and says how to install it).
    """
    if _CORRUPT:
        return _CORRUPT[0]
    try:
        with warnings.catch_warnings():  # it imports pkg_resources
            warnings.simplefilter('ignore')
            import imagecorruptions
            from imagecorruptions import corruptions
    except ImportError as err:
        raise ImportError(
            f'The image corruptions need the package {err.name or "imagecorruptions"!r}, '
            f'which is not installed ({err}). Install them with: {INSTALL_HINT}') from err
    corruptions.np = _NumpyWithAliases()
    corruptions.gaussian = _gaussian_with_multichannel
    corruptions.sk = _SkimageWithSeededNoise()
    _CORRUPT.append(imagecorruptions.corrupt)
    return imagecorruptions.corrupt


def corrupt_image(image: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """Apply one corruption to an RGB image with the package's ``corrupt``, reproducibly.

    The package draws from NumPy's global generator; it is seeded with ``seed`` for the call
    and restored afterwards, so a result depends only on the image, the corruption, the
    severity and the seed (not on the order or the process in which images are corrupted).

    Args:
        image (np.ndarray): ``[H, W, 3]`` uint8 RGB, at least 32x32 (the package's limit).
        name (str): One of :data:`BENCHMARK_CORRUPTIONS` or :data:`HELD_OUT_CORRUPTIONS`.
        severity (int): 1 (mildest) to 5.
        seed (int): Seed of the corruption's randomness (noise, frost crop, ...).

    Returns:
        np.ndarray: ``[H, W, 3]`` uint8 RGB.
    """
    check_corruption(name, severity)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputValueError(f'Corruptions take an [H, W, 3] uint8 image, got '
                              f'{image.dtype} {tuple(image.shape)}.')
    if min(image.shape[:2]) < 32:
        raise InputValueError(f'Corruptions need images of at least 32x32 pixels, got '
                              f'{image.shape[0]}x{image.shape[1]}.')
    corrupt = load_imagecorruptions()
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            out = corrupt(image, severity=severity, corruption_name=name)
    finally:
        np.random.set_state(state)
    return np.ascontiguousarray(out)


def check_corruption(name: str, severity: int) -> None:
    """A clear error for an unknown corruption name or a severity outside 1..5."""
    known = BENCHMARK_CORRUPTIONS + HELD_OUT_CORRUPTIONS
    if name not in known:
        raise InputValueError(f'Unknown corruption {name!r}; known: {", ".join(known)}.')
    if severity not in (1, 2, 3, 4, 5):
        raise InputValueError(f'Corruption severity must be 1..5, got {severity!r}.')
