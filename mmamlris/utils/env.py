# Copyright (c) mmamlris contributors. All rights reserved.
"""Environment fixes applied once, when :mod:`mmamlris` is imported."""
import os

WEIGHTS_ONLY_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'


def allow_full_checkpoint_loading() -> None:
    """Let mmengine 0.10.7 load its own checkpoints on torch >= 2.6.

    torch 2.6 made ``torch.load(weights_only=True)`` the default, and mmengine 0.10.7 calls
    ``torch.load`` without the argument, so resuming a Runner checkpoint (which pickles the
    message hub and numpy objects) fails with ``UnpicklingError``. Setting the documented
    environment switch here means users never have to export it by hand. A value the user set
    explicitly is left alone.
    """
    os.environ.setdefault(WEIGHTS_ONLY_ENV, '1')
