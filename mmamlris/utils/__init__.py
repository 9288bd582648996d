# Copyright (c) mmamlris contributors. All rights reserved.
from .amp import disable_amp, enable_amp, is_amp
from .atomic_io import AtomicLocalBackend, CheckpointWriteError, atomic_write
from .checkpoint_files import (check_checkpoint_file, newest_intact_checkpoint,
                               read_last_checkpoint)
from .config import find_dataset_cfg, load_config
from .ema_checkpoint import ema_source_weights, write_ema_source_weights
from .env import allow_full_checkpoint_loading
from .errors import (InputError, InputFileNotFoundError, InputValueError, input_error_message,
                     run_tool)
from .fingerprint import tree_fingerprint
from .pretrained import (PACKAGED_MODELS, missing_pretrained_files, offline_model_cfg,
                         resolve_model_dir)

__all__ = [
    'AtomicLocalBackend', 'atomic_write', 'check_checkpoint_file', 'CheckpointWriteError',
    'newest_intact_checkpoint', 'read_last_checkpoint',
    'allow_full_checkpoint_loading', 'disable_amp', 'enable_amp', 'find_dataset_cfg', 'is_amp',
    'InputError', 'InputFileNotFoundError', 'InputValueError', 'input_error_message',
    'load_config', 'PACKAGED_MODELS', 'missing_pretrained_files', 'offline_model_cfg',
    'resolve_model_dir', 'run_tool', 'ema_source_weights', 'write_ema_source_weights',
    'tree_fingerprint'
]
