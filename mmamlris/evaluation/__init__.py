# Copyright (c) mmamlris contributors. All rights reserved.
from .iou import intersect_and_union, mask_iou, record_iou, ris_scores
from .metrics import RISMetric

__all__ = ['intersect_and_union', 'mask_iou', 'record_iou', 'ris_scores', 'RISMetric']
