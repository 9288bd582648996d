# Copyright (c) mmamlris contributors. All rights reserved.
from .aml_step import draw_aml_step
from .ris_local_visualizer import Panel, RISLocalVisualizer

__all__ = ['Panel', 'RISLocalVisualizer', 'draw_aml_step']
