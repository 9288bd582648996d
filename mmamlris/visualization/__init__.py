# Copyright (c) mmamlris contributors. All rights reserved.
from .ris_local_visualizer import Panel, RISLocalVisualizer, mask_iou

__all__ = ['Panel', 'RISLocalVisualizer', 'mask_iou']
