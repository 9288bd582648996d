# Copyright (c) mmamlris contributors. All rights reserved.
"""Seed dataloader workers from the seed PyTorch gives them, so epoch-based resume is exact."""
import random

import numpy as np
import torch
# mmengine's root registry: the runner looks `worker_init_fn` types up with `FUNCTIONS.get` on
# the root, which does not see child registries.
from mmengine.registry import FUNCTIONS

__all__ = ['worker_init_from_torch_seed']


@FUNCTIONS.register_module()
def worker_init_from_torch_seed(worker_id: int) -> None:
    """Seed NumPy and ``random`` in a worker from ``torch.initial_seed()``.

    PyTorch gives every worker the seed ``base_seed + worker_id``, with ``base_seed`` drawn from
    the main process's torch generator each time a dataloader iterator is created. So with
    ``persistent_workers=False`` every epoch gets new draws (a new random sentence per ref, as
    CARIS), and because :class:`~mmamlris.engine.hooks.RandomStateHook` restores the main
    generator on resume, the workers of a resumed epoch draw exactly what they would have drawn
    in the uninterrupted run. mmengine's default ``worker_init_fn`` seeds NumPy with
    ``seed + worker_id + rank * num_workers`` instead, which repeats the same draws every epoch
    when workers are not persistent, and cannot be resumed exactly when they are.

    Use in a config::

        train_dataloader = dict(
            num_workers=2, persistent_workers=False,
            worker_init_fn=dict(type='worker_init_from_torch_seed'), ...)
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
