# Copyright (c) mmamlris contributors. All rights reserved.
"""Shrink the shipped SynRef configs to seconds-long runs on a tiny generated SynRef."""
import copy
import importlib.util
import os.path as osp
from types import ModuleType
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config

from mmamlris.utils import PACKAGED_MODELS
from .tiny_text_model import tiny_bert_config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Narrow ResNet-18, 2-layer BERT, small head: the shipped lite configs at toy size.
TINY_MODEL: Dict = {
    'model.backbone.stem_channels': 8,
    'model.backbone.base_channels': 8,
    'model.text_encoder': dict(pretrained=None, config=tiny_bert_config()),
    'model.decode_head.in_channels': [8, 16, 32, 64],
    'model.decode_head.channels': 16,
    'model.decode_head.text_channels': 32,
}
TINY_AML: Dict = {'model.aml.vis_channels': 64, 'model.aml.text_channels': 32}


def load_script(*path: str) -> ModuleType:
    """Import a script of the repo (``tools/``, ``demo/`` are not packages) by its path."""
    name = '_script_' + '_'.join(p.replace('.py', '') for p in path)
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO_ROOT, *path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_tool(*path: str) -> ModuleType:
    """Import a script of ``tools/`` by its path below ``tools/``."""
    return load_script('tools', *path)


def make_tiny_synref(data_root: str, num_images: int = 12, img_size: int = 64,
                     seed: int = 0) -> str:
    """Generate a tiny SynRef (every split present) into ``data_root``."""
    synref = load_tool('dataset_converters', 'synref.py')
    synref.generate_synref(data_root, num_images=num_images, img_size=img_size, seed=seed)
    return data_root


def write_tiny_config(config: str, out_file: str, data_root: str, max_iters: int = 2,
                      extra: Optional[Dict] = None) -> str:
    """Write ``config`` (a path under ``configs/``) shrunk to a toy run on ``data_root``.

    The model becomes :data:`TINY_MODEL` (and :data:`TINY_AML` when the config has AML), every
    dataloader reads ``data_root`` with batch 2 and no worker processes, training stops after
    ``max_iters`` iterations with one validation and one checkpoint at the end.

    Returns:
        str: ``out_file``.
    """
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', config))
    options = dict(TINY_MODEL)
    if cfg.model.get('aml') is not None:
        options.update(TINY_AML)
    loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options.update({f'{name}.{k}': v for k, v in loader.items()})
    options.update({
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': max_iters,
        'default_hooks.checkpoint.interval': max_iters,
        'default_hooks.logger.interval': 1,
        'param_scheduler': [dict(type='ConstantLR', factor=1.0, by_epoch=False)],
    })
    options.update(extra or {})
    cfg.merge_from_dict(options)
    for dataset in cfg.test_dataloader.dataset.datasets:
        dataset.data_root = data_root
    cfg.dump(out_file)
    return out_file


def offline_model_cfg(model_cfg) -> Tuple[dict, List[str]]:
    """Replace pretrained files this machine lacks by random init of the same architecture.

    Returns:
        tuple: The model config and notes saying what was replaced.
    """
    model_cfg = copy.deepcopy(model_cfg)
    notes = []
    init_cfg = model_cfg.backbone.get('init_cfg') or {}
    checkpoint = init_cfg.get('checkpoint') if isinstance(init_cfg, dict) else None
    if checkpoint is not None and not osp.isfile(checkpoint):
        model_cfg.backbone.pop('init_cfg')
        notes.append(f'backbone: {checkpoint} absent -> random init')
    text = model_cfg.text_encoder
    name = text.get('pretrained')
    if name is not None and name not in PACKAGED_MODELS and not osp.isdir(name):
        text.pretrained = None
        text.config = dict(model_type='bert')  # bert-base-uncased architecture
        notes.append(f'text encoder: {name} absent -> random BERT-base')
    return model_cfg, notes
