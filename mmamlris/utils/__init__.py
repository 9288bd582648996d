# Copyright (c) mmamlris contributors. All rights reserved.
from .amp import enable_amp
from .env import allow_full_checkpoint_loading
from .pretrained import PACKAGED_MODELS, resolve_model_dir

__all__ = ['allow_full_checkpoint_loading', 'enable_amp', 'PACKAGED_MODELS',
           'resolve_model_dir']
