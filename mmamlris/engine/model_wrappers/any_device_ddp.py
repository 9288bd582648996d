# Copyright (c) mmamlris contributors. All rights reserved.
"""DDP wrapper that also takes CPU modules (multi-process training with gloo on the CPU)."""
from typing import Optional, Sequence

from mmengine.model import MMDistributedDataParallel
# mmengine's root registry, not mmseg's: the runner looks the wrapper type up with
# ``MODEL_WRAPPERS.get`` on the root, which does not see child registries.
from mmengine.registry import MODEL_WRAPPERS
from torch import nn

__all__ = ['AnyDeviceDistributedDataParallel']


@MODEL_WRAPPERS.register_module()
class AnyDeviceDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that drops ``device_ids`` for a module on the CPU.

    mmengine's runner always passes ``device_ids=[LOCAL_RANK]``, which PyTorch refuses for CPU
    modules. ``tools/train.py`` / ``tools/test.py`` select this wrapper when they are launched
    with ``--launcher pytorch`` on a machine without CUDA; on GPUs it behaves exactly as
    ``MMDistributedDataParallel``.
    """

    def __init__(self, module: nn.Module, device_ids: Optional[Sequence[int]] = None,
                 **kwargs) -> None:
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        super().__init__(module=module, device_ids=None if on_cpu else device_ids, **kwargs)
