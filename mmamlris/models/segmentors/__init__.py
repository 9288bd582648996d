# Copyright (c) mmamlris contributors. All rights reserved.
from .aml_segmentor import AMLSegmentor

__all__ = ['AMLSegmentor']
