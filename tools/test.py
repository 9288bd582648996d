# Copyright (c) mmamlris contributors. All rights reserved.
"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

Reports mIoU, oIoU and prec@0.5:0.9 for every split of the config's test set.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmamlris.apis.cli import add_common_args, load_config, make_runner  # noqa: E402
from mmamlris.utils import check_checkpoint_file, run_tool  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a referring segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='write per-expression (ref_id, sent_id, IoU) to this '
                        'JSON file')
    parser.add_argument('--show-dir', help='write, per expression, the image with the '
                        'expression, prediction and GT overlays and the IoU into this dir')
    parser.add_argument('--show', action='store_true', help='show the results in a window')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds per shown image')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args)
    cfg.load_from = check_checkpoint_file(args.checkpoint)
    if args.show or args.show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise SystemExit('The config has no default_hooks.visualization to draw with.')
        hook.update(draw=True, interval=1)
        if args.show:
            hook.update(show=True, wait_time=args.wait_time)
        if args.show_dir:
            hook.update(show=False)
            cfg.visualizer.save_dir = args.show_dir
            cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    if args.out:
        evaluators = cfg.test_evaluator
        for metric in evaluators if isinstance(evaluators, list) else [evaluators]:
            metric['output_file'] = args.out
    runner = make_runner(cfg)
    runner.test()


if __name__ == '__main__':
    run_tool(main)
