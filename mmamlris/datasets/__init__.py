# Copyright (c) mmamlris contributors. All rights reserved.
from .refcoco import RefCOCODataset
from .refer_io import load_instances, load_refs
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _transforms_all

__all__ = ['RefCOCODataset', 'load_refs', 'load_instances'] + _transforms_all
