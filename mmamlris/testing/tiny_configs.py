# Copyright (c) mmamlris contributors. All rights reserved.
"""Shrink the shipped SynRef configs to seconds-long runs on a tiny generated SynRef."""
import os.path as osp
from typing import Dict, Optional

from mmamlris.utils import load_config
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
TINY_AML: Dict = {'model.aml.scorer.vis_channels': 64, 'model.aml.scorer.text_channels': 32}


def make_tiny_synref(data_root: str, num_images: int = 12, img_size: int = 64,
                     seed: int = 0) -> str:
    """Generate a tiny SynRef (every split present) into ``data_root``."""
    from mmamlris.datasets.synref import generate_synref
    generate_synref(data_root, num_images=num_images, img_size=img_size, seed=seed)
    return data_root


def write_tiny_config(config: str, out_file: str, data_root: str, max_iters: int = 2,
                      extra: Optional[Dict] = None, keep_model: bool = False) -> str:
    """Write ``config`` (a path under ``configs/``) shrunk to a toy run on ``data_root``.

    The model becomes :data:`TINY_MODEL` (and :data:`TINY_AML` when the config has AML) unless
    ``keep_model`` (a config whose model is small already, e.g. the toy DETRIS), every
    dataloader reads ``data_root`` with batch 2 and no worker processes, training stops after
    ``max_iters`` iterations with one validation and one checkpoint at the end.

    Returns:
        str: ``out_file``.
    """
    cfg = load_config(osp.join(REPO_ROOT, 'configs', config))
    options = {} if keep_model else dict(TINY_MODEL)
    if cfg.model.get('aml') is not None and not keep_model:
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


def write_untrained_checkpoint(config: str, out_file: str, seed: int = 0) -> str:
    """Build the model of ``config`` (pretrained files this machine lacks replaced by random
    init) with ``torch.manual_seed(seed)`` and save its weights as a checkpoint to
    ``out_file``; returns ``out_file``."""
    import torch

    from mmamlris.registry import MODELS
    from mmamlris.utils import offline_model_cfg
    torch.manual_seed(seed)
    model = MODELS.build(offline_model_cfg(load_config(config).model)[0])
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), out_file)
    return out_file


def run_repo_tool(*args: str, timeout: int = 600) -> str:
    """Run ``python <tool> <args>`` from the repository root (one thread); return its output.

    Raises:
        AssertionError: With the output's tail, if the tool exits with a non-zero status.
    """
    import os
    import subprocess
    import sys
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr
