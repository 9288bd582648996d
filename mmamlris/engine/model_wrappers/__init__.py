# Copyright (c) mmamlris contributors. All rights reserved.
from .any_device_ddp import AnyDeviceDistributedDataParallel

__all__ = ['AnyDeviceDistributedDataParallel']
