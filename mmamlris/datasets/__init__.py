# Copyright (c) mmamlris contributors. All rights reserved.
from .refcoco import RefCOCODataset
from .refer_io import load_instances, load_refs
from .transforms import (LoadReferringMask, LoadRISImageFromFile, PackRISInputs,
                         SampleExpression, TokenizeExpression, decode_segmentation,
                         diagnose_image_bytes)
from .worker_init import worker_init_from_torch_seed

__all__ = [
    'RefCOCODataset', 'load_refs', 'load_instances', 'worker_init_from_torch_seed',
    'LoadRISImageFromFile', 'diagnose_image_bytes', 'LoadReferringMask', 'decode_segmentation',
    'SampleExpression', 'TokenizeExpression', 'PackRISInputs'
]
