# Copyright (c) mmamlris contributors. All rights reserved.
"""Command-line plumbing shared by ``tools/train.py`` and ``tools/test.py`` (the tools stay thin
wrappers over it, so that they also run from an installed package's ``.mim/tools``)."""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Options every OpenMMLab tool has: ``--cfg-options`` and the launcher."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, e.g. train_cfg.max_iters=100 '
        'model.aml.filter.tau=0.3; lists as key="[a,b]"')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """Read the config, apply the command line and choose the work dir."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    from mmamlris.utils import load_config as load_config_file
    cfg = load_config_file(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.launcher != 'none' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """Multi-process training / evaluation without CUDA: gloo, CPU-capable DDP.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and its runner passes
    ``device_ids`` to DDP, both of which fail on a CPU-only machine; so the process group is
    created here from torchrun's environment (mmengine then uses it as it is) and the model
    is wrapped by ``AnyDeviceDistributedDataParallel``.
    """
    import torch.distributed as dist
    if cfg.launcher != 'pytorch':
        raise SystemExit(f'--launcher {cfg.launcher} needs CUDA GPUs; on the CPU launch with '
                         'tools/dist_train.sh / tools/dist_test.sh (--launcher pytorch).')
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    dist_cfg['backend'] = 'gloo'  # NCCL needs GPUs
    cfg.setdefault('env_cfg', {})['dist_cfg'] = dist_cfg
    if not dist.is_initialized():
        dist.init_process_group(**dist_cfg)
    wrapper = cfg.get('model_wrapper_cfg') or {}
    if wrapper.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        cfg.model_wrapper_cfg = dict(wrapper, type='AnyDeviceDistributedDataParallel')


def make_runner(cfg: Config) -> Runner:
    """Build the runner (``runner_type`` when the config names one)."""
    if 'runner_type' in cfg:
        from mmamlris.registry import RUNNERS
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def check_pretrained_files(cfg: Config) -> None:
    """Stop before building anything when a pretrained file the config names is missing."""
    from mmamlris.utils import InputFileNotFoundError, missing_pretrained_files
    missing = missing_pretrained_files(cfg.model, 'model')
    load_from = cfg.get('load_from')
    if load_from and '://' not in load_from and not osp.isfile(load_from):
        missing.append(('load_from', load_from))
    if missing:
        lines = '\n'.join(f'  {field} = {path!r}' for field, path in missing)
        first = missing[0][0]
        raise InputFileNotFoundError(
            f'Pretrained file(s) named by the config do not exist:\n{lines}\nDownload them to '
            'that path (the config README lists where they come from), point the field at '
            f'the file, or train from scratch with --cfg-options {first.rsplit(".", 1)[0]}=None.')
