# Copyright (c) mmamlris contributors. All rights reserved.
from .inferencer import RISInferencer

__all__ = ['RISInferencer']
