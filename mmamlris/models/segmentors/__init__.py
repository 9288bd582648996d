# Copyright (c) mmamlris contributors. All rights reserved.
from .aml_segmentor import AMLSegmentor, MaskedBatch

__all__ = ['AMLSegmentor', 'MaskedBatch']
