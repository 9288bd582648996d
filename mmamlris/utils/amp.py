# Copyright (c) mmamlris contributors. All rights reserved.
"""Switch a config to mixed-precision training (``tools/train.py --amp``)."""
import torch
from mmengine.config import Config


def enable_amp(cfg: Config, dtype: str = 'float16') -> None:
    """Make ``cfg.optim_wrapper`` an ``AmpOptimWrapper``.

    AML's stage 1 runs inside the same autocast region as stage 2 (both are inside the
    model's ``loss``), so nothing else changes. mmengine's ``AmpOptimWrapper`` only exists for
    accelerators; on a CPU-only machine this refuses with a clear message instead of failing
    deep inside mmengine.

    Args:
        cfg (Config): The config to modify in place.
        dtype (str): ``'float16'`` (dynamic loss scaling, as CARIS/AMLRIS train) or
            ``'bfloat16'`` (no loss scaling needed).

    Raises:
        SystemExit: When no CUDA device is available, or the config already uses AMP.
    """
    if not torch.cuda.is_available():
        raise SystemExit('--amp needs a CUDA GPU: mmengine\'s AmpOptimWrapper does not run on '
                         'the CPU. Train without --amp on this machine.')
    if dtype not in ('float16', 'bfloat16'):
        raise SystemExit(f'--amp dtype must be float16 or bfloat16, got {dtype!r}.')
    wrapper = cfg.optim_wrapper
    if wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
        wrapper.setdefault('dtype', dtype)
        return
    wrapper.type = 'AmpOptimWrapper'
    wrapper.dtype = dtype
    wrapper.setdefault('loss_scale', 'dynamic' if dtype == 'float16' else 1.0)
