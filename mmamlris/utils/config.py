# Copyright (c) mmamlris contributors. All rights reserved.
"""Read a config as every tool of mmamlris does, and look inside dataset wrappers."""
import os.path as osp
from typing import Optional, Sequence, Union

from mmengine.config import Config

from .errors import InputFileNotFoundError

__all__ = ['load_config', 'find_dataset_cfg']


def load_config(path: str, cfg_options: Optional[dict] = None,
                init_scope: bool = False) -> Config:
    """Read a config file and apply the command line (importing ``mmamlris.utils`` has
    already registered every component of mmamlris).

    Args:
        path (str): The config file.
        cfg_options (dict, optional): ``--cfg-options`` (``DictAction``) to merge in.
        init_scope (bool): Also set the config's ``default_scope`` (mmseg) as the default
            registry scope, for tools that build components without a Runner.

    Returns:
        Config: The config.

    Raises:
        InputFileNotFoundError: If ``path`` is not a file.
    """
    if not osp.isfile(path):
        raise InputFileNotFoundError(f'Config file {path!r} does not exist.')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if init_scope:
        from mmengine.registry import init_default_scope
        init_default_scope(cfg.get('default_scope', 'mmseg'))
    return cfg


def find_dataset_cfg(dataset_cfg: Union[dict, None],
                     keys: Union[str, Sequence[str]] = 'pipeline') -> Optional[dict]:
    """The dataset config that holds ``keys``, looking through dataset wrappers.

    ``ConcatDataset`` (``datasets``: its first dataset) and ``RepeatDataset`` /
    ``ClassBalancedDataset`` (``dataset``) are unwrapped until a config with one of ``keys``
    is found.

    Args:
        dataset_cfg (dict | None): A dataset config, possibly a wrapper.
        keys (str | Sequence[str]): The key(s) wanted, e.g. ``'pipeline'`` or ``'split'``.

    Returns:
        dict | None: That (inner) config itself, not a copy, or ``None`` if there is none.
    """
    keys = (keys, ) if isinstance(keys, str) else tuple(keys)
    dataset = dataset_cfg
    while isinstance(dataset, dict) and not any(k in dataset for k in keys):
        if dataset.get('datasets'):
            dataset = dataset['datasets'][0]
        elif dataset.get('dataset'):
            dataset = dataset['dataset']
        else:
            return None
    return dataset if isinstance(dataset, dict) else None
