# Copyright (c) mmamlris contributors. All rights reserved.
from .mobilenetv2_deepsort import (DEEPSORT_WEIGHTS, convert_deepsort_mobilenetv2,
                                   deepsort_weights_path, load_deepsort_mobilenetv2)

__all__ = [
    'DEEPSORT_WEIGHTS', 'convert_deepsort_mobilenetv2', 'deepsort_weights_path',
    'load_deepsort_mobilenetv2'
]
