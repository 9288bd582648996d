# Copyright (c) mmamlris contributors. All rights reserved.
from .ris_metric import RISMetric

__all__ = ['RISMetric']
