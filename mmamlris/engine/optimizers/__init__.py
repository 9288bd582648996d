# Copyright (c) mmamlris contributors. All rights reserved.
from .ris_optim_constructor import RISOptimWrapperConstructor

__all__ = ['RISOptimWrapperConstructor']
