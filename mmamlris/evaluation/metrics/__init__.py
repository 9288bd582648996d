# Copyright (c) mmamlris contributors. All rights reserved.
from .gres_metric import GRESMetric
from .ris_metric import RISMetric

__all__ = ['GRESMetric', 'RISMetric']
