# Copyright (c) mmamlris contributors. All rights reserved.
from .aml_visualization_hook import AMLVisualizationHook, denormalize_images

__all__ = ['AMLVisualizationHook', 'denormalize_images']
