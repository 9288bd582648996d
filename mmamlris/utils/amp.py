# Copyright (c) mmamlris contributors. All rights reserved.
"""Switch a config to mixed-precision training (``tools/train.py --amp``)."""
import torch
from mmengine.config import Config

from .errors import InputValueError

# fp32 optimizer wrapper -> its mixed-precision counterpart
AMP_WRAPPERS = {
    'OptimWrapper': 'AmpOptimWrapper',
    'SkipNonFiniteOptimWrapper': 'SkipNonFiniteAmpOptimWrapper',
}


def enable_amp(cfg: Config, dtype: str = 'float16') -> None:
    """Make ``cfg.optim_wrapper`` mixed precision: ``SkipNonFiniteOptimWrapper`` (our
    schedules) becomes ``SkipNonFiniteAmpOptimWrapper``, mmengine's ``OptimWrapper`` becomes
    ``AmpOptimWrapper``.

    AML's stage 1 runs inside the same autocast region as stage 2 (both are inside the
    model's ``loss``), so nothing else changes. mmengine's ``AmpOptimWrapper`` only exists for
    accelerators; on a CPU-only machine this refuses with a clear message instead of failing
    deep inside mmengine.

    Args:
        cfg (Config): The config to modify in place.
        dtype (str): ``'float16'`` (dynamic loss scaling, as CARIS/AMLRIS train) or
            ``'bfloat16'`` (no loss scaling needed).

    Raises:
        InputValueError: When no CUDA device is available, the dtype is unknown, or the
            optimizer wrapper has no AMP counterpart.
    """
    if not torch.cuda.is_available():
        raise InputValueError('--amp needs a CUDA GPU: mmengine\'s AmpOptimWrapper does not '
                              'run on the CPU. Train without --amp on this machine.')
    if dtype not in ('float16', 'bfloat16'):
        raise InputValueError(f'--amp dtype must be float16 or bfloat16, got {dtype!r}.')
    wrapper = cfg.optim_wrapper
    kind = wrapper.get('type', 'OptimWrapper')
    if kind in AMP_WRAPPERS.values():
        wrapper.setdefault('dtype', dtype)
        return
    if kind not in AMP_WRAPPERS:
        raise InputValueError(f'--amp does not know the AMP counterpart of optim_wrapper '
                              f'type {kind!r}; set it in the config (one of '
                              f'{sorted(AMP_WRAPPERS.values())}).')
    wrapper.type = AMP_WRAPPERS[kind]
    wrapper.dtype = dtype
    wrapper.setdefault('loss_scale', 'dynamic' if dtype == 'float16' else 1.0)


def is_amp(cfg: Config) -> bool:
    """Whether ``cfg.optim_wrapper`` trains in mixed precision."""
    return cfg.optim_wrapper.get('type', 'OptimWrapper') in AMP_WRAPPERS.values()


def disable_amp(cfg: Config) -> bool:
    """Turn a mixed-precision ``cfg.optim_wrapper`` into its float32 counterpart, in place.

    ``tools/train.py`` does this, with a warning, when a config that trains in fp16 (the CARIS
    recipe) is run on a machine without CUDA, and the benchmark tool does it on ``--device
    cpu``.

    Returns:
        bool: Whether the config was changed.
    """
    if not is_amp(cfg):
        return False
    wrapper = cfg.optim_wrapper
    fp32 = {amp: plain for plain, amp in AMP_WRAPPERS.items()}
    wrapper.type = fp32[wrapper.type]
    for key in ('dtype', 'loss_scale', 'use_fsdp'):
        wrapper.pop(key, None)
    return True
