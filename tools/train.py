# Copyright (c) mmamlris contributors. All rights reserved.
"""Train a referring segmentor: ``python tools/train.py CONFIG [options]``."""
import argparse
import logging
import os.path as osp
import sys
from typing import Optional

import torch
from mmengine.logging import print_log

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmamlris.apis.cli import (add_common_args, check_pretrained_files,  # noqa: E402
                               load_config, make_runner)
from mmamlris.utils import (CheckpointWriteError, InputError, check_checkpoint_file,  # noqa: E402
                            newest_intact_checkpoint, read_last_checkpoint, run_tool)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a referring segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=None,
        help='resume from a checkpoint; without a path, from the latest one in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision training (CUDA only; fp16 with dynamic loss '
                        'scale by default)')
    parser.add_argument('--amp-dtype', choices=['float16', 'bfloat16'], default='float16',
                        help='autocast dtype of --amp (bfloat16 needs no loss scaling)')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args)
    from mmamlris.utils.amp import disable_amp, enable_amp
    if args.amp:
        enable_amp(cfg, args.amp_dtype)
    elif not torch.cuda.is_available() and disable_amp(cfg):
        print_log(f'{args.config} trains in mixed precision, which needs CUDA: this machine has '
                  f'none, so it trains in float32 ({cfg.optim_wrapper.type}).',
                  logger='current', level=logging.WARNING)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, resume_point(cfg.work_dir)
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, check_checkpoint_file(args.resume)
    check_pretrained_files(cfg)
    runner = make_runner(cfg)
    from mmamlris.engine.optimizers import NonFiniteLossError
    try:
        runner.train()
    except (NonFiniteLossError, CheckpointWriteError) as error:
        raise SystemExit(f'Training stopped: {error}') from None


def resume_point(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (no path) continues from.

    The one ``last_checkpoint`` names if it is complete; otherwise, with a warning, the newest
    complete checkpoint of the work dir; ``None`` (start from scratch) when there is none.
    """
    last = read_last_checkpoint(work_dir)
    if last is not None:
        try:
            return check_checkpoint_file(last)
        except InputError as error:
            problem = str(error)
    else:
        problem = f'{osp.join(work_dir, "last_checkpoint")} is missing or empty'
    fallback = newest_intact_checkpoint(work_dir)
    if fallback is not None:
        print_log(f'--resume: {problem}; resuming from the newest intact checkpoint, {fallback}.',
                  logger='current', level=logging.WARNING)
    elif last is not None:
        print_log(f'--resume: {problem}, and {work_dir} has no intact checkpoint; training '
                  f'starts from the beginning.', logger='current', level=logging.WARNING)
    return fallback


if __name__ == '__main__':
    run_tool(main)
