# Copyright (c) mmamlris contributors. All rights reserved.
"""Write a checkpoint whose BatchNorm statistics are recomputed on clean training images.

``python tools/analysis_tools/recalibrate_bn.py CONFIG CHECKPOINT --out OUT.pth``

An AML run updates the BatchNorm running statistics on clean images (stage 1) and on masked
ones (stage 2), so the buffers it leaves describe a mixture that no test image comes from.
This tool keeps every weight of ``CHECKPOINT`` (its ``state_dict``: with ``EMAHook``
checkpoints the averaged weights, which the tests score) and replaces the running mean and
variance of each BatchNorm layer by their equal-weight average over ``--num-batches`` batches
of the config's training data loader, run through the test forward (no AML step); see
``mmamlris.models.utils.recompute_bn_statistics``. Test ``OUT.pth`` with ``tools/test.py``
or ``test_robustness.py`` and compare with ``CHECKPOINT``: what changes is what the
statistics did. ``OUT.pth`` holds the weights only (``state_dict`` and ``meta``, which
records the recalibration); it does not resume a training.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mmamlris.apis.cli import add_common_args, load_config, make_runner  # noqa: E402
from mmamlris.utils import check_checkpoint_file, run_tool  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='the checkpoint to write')
    parser.add_argument('--num-batches', type=int, default=200, metavar='N',
                        help='training batches to average the statistics over (default 200)')
    parser.add_argument('--data-root', metavar='DIR',
                        help="read the training images from DIR instead of the config's")
    parser.add_argument('--work-dir', help='the dir to save logs')
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.num_batches < 1:
        parser.error(f'--num-batches must be >= 1, got {args.num_batches}')
    if osp.abspath(args.out) == osp.abspath(args.checkpoint):
        parser.error('--out is the checkpoint itself: write the recalibrated weights elsewhere')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch
    from mmengine.model import is_model_wrapper

    from mmamlris.evaluation import with_data_root
    from mmamlris.models.utils import batch_norms, recompute_bn_statistics
    if args.data_root and not osp.isdir(args.data_root):
        raise SystemExit(f'--data-root {args.data_root}: no such directory.')
    cfg = load_config(args)
    cfg.custom_hooks = []  # no hook swaps weights: the checkpoint's state_dict is what is kept
    if args.data_root:
        cfg.train_dataloader = with_data_root(cfg.train_dataloader, args.data_root)
    cfg.train_dataloader.persistent_workers = False  # read once: no workers left behind
    runner = make_runner(cfg)
    checkpoint = runner.load_checkpoint(check_checkpoint_file(args.checkpoint),
                                        map_location='cpu')
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    norms = batch_norms(model)
    if not norms:
        raise SystemExit(f'{args.config}: the model has no BatchNorm layer; nothing to '
                         'recalibrate.')
    loader = runner.build_dataloader(cfg.train_dataloader, seed=runner.seed)
    seen = recompute_bn_statistics(model, loader, args.num_batches)
    reached = sum(int(bn.num_batches_tracked) == seen for bn in norms)
    runner.logger.info(f'recalibrate_bn: {reached} of {len(norms)} BatchNorm '
                       f'layers recalibrated on {seen} training batches (the others are not '
                       'on the test forward and keep their statistics)')
    meta = dict(checkpoint.get('meta', {}))
    meta['precise_bn'] = dict(source=osp.abspath(args.checkpoint), batches=seen,
                              batch_size=cfg.train_dataloader.batch_size,
                              data_root=args.data_root, config=osp.abspath(args.config))
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    tmp = f'{args.out}.tmp-{os.getpid()}'
    torch.save(dict(state_dict=state_dict, meta=meta), tmp)
    os.replace(tmp, args.out)
    print(f'{args.out}: BatchNorm statistics of {seen} batches of '
          f'{cfg.train_dataloader.batch_size} training images')


if __name__ == '__main__':
    run_tool(main)
