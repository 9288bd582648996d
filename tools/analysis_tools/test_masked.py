# Copyright (c) mmamlris contributors. All rights reserved.
"""Score an AML checkpoint on clean test images and on test images masked as in training.

``python tools/analysis_tools/test_masked.py CONFIG CHECKPOINT --splits val --out masked.json``

The shortcut probe: the checkpoint is tested twice on the same test set, as usual and with
the model's training-time AML step applied to every test image first (its scorer and filter;
oracle scorers read the GT the test set carries; ``OracleScorer(hide='background' |
'distractors')`` gets every object of the image added to the test pipeline). A masked score
far above the clean one means the mask told the model something it learned to read, a cue
that clean test images lack (see ``mmamlris.evaluation.masked_test``).

Both evaluations use the checkpoint's ``state_dict`` (with ``EMAHook`` checkpoints: the
averaged weights, which the ablation tool reports); the config's custom hooks are left out,
so that no hook swaps weights between them. ``--splits`` and ``--data-root`` as in
``test_robustness.py``. ``--out`` gets both sets of metrics as JSON.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mmamlris.apis.cli import add_common_args, load_config, make_runner  # noqa: E402
from mmamlris.utils import atomic_write, check_checkpoint_file, run_tool  # noqa: E402

SCORES = ('mIoU', 'oIoU', 'gIoU', 'cIoU')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the AML config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='JSON file for the clean and the masked metrics')
    parser.add_argument('--splits', nargs='+', metavar='SPLIT',
                        help='evaluate only these splits of the test set (e.g. val)')
    parser.add_argument('--data-root', metavar='DIR',
                        help="read the test set from DIR instead of the config's data root")
    parser.add_argument('--work-dir', help='the dir to save logs')
    add_common_args(parser)
    return parser.parse_args(argv)


def comparison_table(clean: dict, masked: dict) -> str:
    """Markdown table of the IoU scores both evaluations report (overall and per split, e.g.
    ``mIoU``, ``val_mIoU``), with masked − clean."""
    names = [n for n in clean if n in masked and n.split('_')[-1] in SCORES]
    lines = ['| score | clean | masked as in training | masked − clean |', '|---|---|---|---|']
    lines += [f'| {n} | {clean[n]:.2f} | {masked[n]:.2f} | {masked[n] - clean[n]:+.2f} |'
              for n in names]
    return '\n'.join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    from mmengine.model import is_model_wrapper

    from mmamlris.evaluation import with_data_root, with_objects, with_splits
    from mmamlris.evaluation.masked_test import evaluate_masked
    if args.data_root and not osp.isdir(args.data_root):
        raise SystemExit(f'--data-root {args.data_root}: no such directory.')
    cfg = load_config(args)
    if not cfg.model.get('aml'):
        raise SystemExit(f'{args.config}: the model has no aml (alignment-aware masking); '
                         'give the AML config the checkpoint was trained with.')
    cfg.load_from = check_checkpoint_file(args.checkpoint)
    cfg.custom_hooks = []
    if args.data_root:
        cfg.test_dataloader = with_data_root(cfg.test_dataloader, args.data_root)
    if args.splits:
        cfg.test_dataloader = with_splits(cfg.test_dataloader, args.splits)
    if cfg.model.aml.get('scorer', {}).get('hide', 'context') != 'context':
        cfg.test_dataloader = with_objects(cfg.test_dataloader)
    runner = make_runner(cfg)
    clean = runner.test()
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    runner.logger.info('test_masked: the test set again, each image masked as in training')
    masked = evaluate_masked(model, runner.test_loop.dataloader, runner.test_loop.evaluator)
    table = comparison_table(clean, masked)
    runner.logger.info('\n' + table)
    print(table)
    if args.out:
        atomic_write(args.out, json.dumps(
            dict(config=osp.abspath(args.config), checkpoint=osp.abspath(args.checkpoint),
                 splits=args.splits, clean=clean, masked=masked), indent=1, sort_keys=True))


if __name__ == '__main__':
    run_tool(main)
