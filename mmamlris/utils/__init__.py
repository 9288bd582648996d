# Copyright (c) mmamlris contributors. All rights reserved.
from .amp import disable_amp, enable_amp, is_amp
from .env import allow_full_checkpoint_loading
from .errors import InputError, InputFileNotFoundError, InputValueError, input_error_message
from .pretrained import PACKAGED_MODELS, missing_pretrained_files, resolve_model_dir

__all__ = [
    'allow_full_checkpoint_loading', 'disable_amp', 'enable_amp', 'is_amp', 'InputError',
    'InputFileNotFoundError', 'InputValueError', 'input_error_message', 'PACKAGED_MODELS',
    'missing_pretrained_files', 'resolve_model_dir'
]
