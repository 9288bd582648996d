# Copyright (c) mmamlris contributors. All rights reserved.
from .aml_visualization_hook import AMLVisualizationHook, denormalize_images
from .random_state_hook import RandomStateHook

__all__ = ['AMLVisualizationHook', 'denormalize_images', 'RandomStateHook']
