# Copyright (c) mmamlris contributors. All rights reserved.
"""mmamlris: Alignment-aware Masked Learning for referring image segmentation, on OpenMMLab.

Importing the package checks the OpenMMLab stack it runs on and registers every component into
mmseg's registries (configs load it with
``custom_imports=dict(imports=['mmamlris'], allow_failed_imports=False)``).
"""
import warnings as _warnings
from importlib.metadata import PackageNotFoundError, version as _dist_version

from .utils.env import allow_full_checkpoint_loading
from .version import __version__, version_info

# (distribution, minimum inclusive, maximum exclusive); docs/en/stack_notes.md explains the
# pinned stack.
_REQUIRED = (
    ('mmengine', '0.10.0', '0.11.0'),
    ('mmcv', '2.0.0', '2.2.0'),
    ('mmsegmentation', '1.2.0', '1.3.0'),
    ('mmdet', '3.3.0', '3.4.0'),
)
_FIX = 'run `bash tools/setup_env.sh` (it builds the pinned stack into .venv/)'
# mmdet imports `imagecorruptions` (installed for the robustness benchmark) when it loads,
# which imports pkg_resources and warns about it on every run; silence that one warning only.
_warnings.filterwarnings('ignore', message='pkg_resources is deprecated',
                         category=UserWarning, module='imagecorruptions')


def _digits(v: str) -> tuple:
    out = []
    for part in v.split('+')[0].split('.')[:3]:
        num = ''.join(ch for ch in part if ch.isdigit())
        out.append(int(num) if num else 0)
    return tuple(out)


def _check_stack() -> None:
    for dist, low, high in _REQUIRED:
        try:
            found = _dist_version(dist)
        except PackageNotFoundError:
            raise ImportError(f'mmamlris needs {dist}>={low},<{high}, which is not installed; '
                              f'{_FIX}.') from None
        if not _digits(low) <= _digits(found) < _digits(high):
            raise ImportError(f'mmamlris needs {dist}>={low},<{high} but {dist}=={found} is '
                              f'installed; {_FIX}.')


_check_stack()
allow_full_checkpoint_loading()

from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401

__all__ = ['__version__', 'version_info']
