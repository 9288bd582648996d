# Copyright (c) mmamlris contributors. All rights reserved.
from . import transforms
from .grefcoco import GRefCOCODataset
from .refcoco import RefCOCODataset
from .refer_io import load_instances, load_refs
from .transforms import *  # noqa: F401,F403
from .worker_init import worker_init_from_torch_seed

__all__ = [
    'GRefCOCODataset', 'RefCOCODataset', 'load_refs', 'load_instances',
    'worker_init_from_torch_seed'
]
__all__ += transforms.__all__
