# Copyright (c) mmamlris contributors. All rights reserved.
from .iou import (gres_scores, intersect_and_union, mask_areas, mask_iou, record_iou,
                  ris_scores)
from .metrics import GRESMetric, RISMetric

__all__ = [
    'gres_scores', 'intersect_and_union', 'mask_areas', 'mask_iou', 'record_iou', 'ris_scores',
    'GRESMetric', 'RISMetric'
]
