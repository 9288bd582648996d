# Copyright (c) mmamlris contributors. All rights reserved.
from .aml_segmentor import AMLSegmentor, Stage1

__all__ = ['AMLSegmentor', 'Stage1']
