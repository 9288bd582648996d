# Copyright (c) mmamlris contributors. All rights reserved.
from .ris_local_visualizer import Panel, RISLocalVisualizer

__all__ = ['Panel', 'RISLocalVisualizer']
