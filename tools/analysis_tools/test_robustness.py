# Copyright (c) mmamlris contributors. All rights reserved.
"""Robustness of a checkpoint to image corruptions and to occlusion of the referred object.

``python tools/analysis_tools/test_robustness.py CONFIG CHECKPOINT --out robustness.json``

Evaluates the config's test set clean, then once per (corruption, severity): the 15
ImageNet-C corruptions of the PyPI package ``imagecorruptions`` at severities 1-5 (as mmdet's
``tools/analysis_tools/test_robustness.py``) and ``occlusion`` (a texture patch over 10-50 %
of the referred object, ``OccludeReferent``), each applied right after the image is loaded.
Prints, per corruption, the score at each severity and their mean, then mPC (mean over the
whole-image ImageNet-C corruptions and severities) and rPC (mPC / clean). A corruption
named ``name@object`` or ``name@context`` is confined to the referred object or to the rest
of the image (where a model's loss comes from). Works for any config whose test
pipeline starts with ``LoadRISImageFromFile`` (RefCOCO family, gRefCOCO, SynRef).
``--splits val`` evaluates only those splits of the test set (80 evaluations of the whole
RefCOCO test set take long), ``--data-root DIR`` reads the test set from another root.
``--overlap-data-root DIR`` also evaluates the clean pipeline on the same splits read from
DIR: SynRef generated with ``--overlap`` (objects that hide parts of each other, the other
seed and settings as the clean set).

``--out`` holds every metric of every evaluation and is rewritten after each one; a second
call with the same ``--out`` reuses what is there (an interrupted benchmark resumes), as
long as it was made with the same config and checkpoint.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mmamlris.apis.cli import add_common_args, load_config, make_runner  # noqa: E402
from mmamlris.utils import atomic_write, check_checkpoint_file, run_tool  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True,
                        help='JSON file of all results (read first: finished evaluations are '
                        'reused)')
    parser.add_argument('--corruptions', nargs='+', default=['all'],
                        help='names or groups: all (the 15 ImageNet-C ones + occlusion), '
                        'benchmark, noise, blur, weather, digital, holdout, ris, or single '
                        'names such as fog occlusion; an ImageNet-C name or group with '
                        '@object or @context is confined to the referred object or to the '
                        'rest of the image, e.g. defocus_blur@object (default: all)')
    parser.add_argument('--severities', nargs='+', type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument('--metric', help='the score to summarise (default: mIoU, or gIoU for '
                        'a GRES metric)')
    parser.add_argument('--seed', type=int, default=0,
                        help='mixed into the per-image seed of every corruption')
    parser.add_argument('--splits', nargs='+', metavar='SPLIT',
                        help='evaluate only these splits of the test set (e.g. val; default: '
                        'all of them)')
    parser.add_argument('--data-root', metavar='DIR',
                        help="read the test set from DIR instead of the config's data root")
    parser.add_argument('--overlap-data-root', metavar='DIR',
                        help='also evaluate the test splits read from DIR (e.g. SynRef made '
                        'with tools/dataset_converters/synref.py --overlap 0.5)')
    parser.add_argument('--work-dir', help='the dir to save logs')
    add_common_args(parser)
    return parser.parse_args(argv)


def _load_results(path: str, setting: dict) -> dict:
    if not osp.isfile(path):
        return dict(setting=setting, clean=None, corrupted={})
    try:
        with open(path, encoding='utf-8') as f:
            results = json.load(f)
        results['corrupted']  # noqa: B018 -- the file's shape
    except (ValueError, KeyError, TypeError) as err:
        raise SystemExit(f'--out {path}: not a robustness results file ({err}); give another '
                         'path or remove it.')
    if results.get('setting') != setting:
        raise SystemExit(f'--out {path} holds results of {results.get("setting")}, this call '
                         f'is {setting}; give another --out to keep both.')
    return results


def _save(path: str, results: dict) -> None:
    atomic_write(path, json.dumps(results, indent=1, sort_keys=True))  # never half-written


def main(argv=None) -> None:
    args = parse_args(argv)
    from mmamlris.datasets.transforms.image_corruptions import load_imagecorruptions
    from mmamlris.evaluation import (degradation_transform, expand_corruptions,
                                     robustness_table, with_data_root, with_degradation,
                                     with_splits)
    corruptions = expand_corruptions(args.corruptions)
    if any(s not in (1, 2, 3, 4, 5) for s in args.severities):
        raise SystemExit(f'--severities must be within 1..5, got {args.severities}.')
    for option, root in (('--data-root', args.data_root),
                         ('--overlap-data-root', args.overlap_data_root)):
        if root and not osp.isdir(root):
            raise SystemExit(f'{option} {root}: no such directory.')
    if any(name != 'occlusion' for name in corruptions):
        try:
            load_imagecorruptions()
        except ImportError as err:
            raise SystemExit(str(err))
    cfg = load_config(args)
    cfg.load_from = check_checkpoint_file(args.checkpoint)
    if args.data_root:
        cfg.test_dataloader = with_data_root(cfg.test_dataloader, args.data_root)
    if args.splits:
        cfg.test_dataloader = with_splits(cfg.test_dataloader, args.splits)
    setting = dict(config=osp.abspath(args.config), checkpoint=osp.abspath(args.checkpoint),
                   cfg_options=sorted(f'{k}={v}' for k, v in (args.cfg_options or {}).items()),
                   seed=args.seed, splits=args.splits,
                   data_root=args.data_root and osp.abspath(args.data_root),
                   overlap_data_root=args.overlap_data_root
                   and osp.abspath(args.overlap_data_root))
    results = _load_results(args.out, setting)
    clean_loader = cfg.test_dataloader
    runner = make_runner(cfg)
    if results['clean'] is None:
        results['clean'] = runner.test()
        _save(args.out, results)
    else:  # resumed: build the loop and load the weights as test() would, without scoring
        runner.test_loop  # noqa: B018 -- the property builds the loop
        runner.load_or_resume()
    metric = args.metric or ('gIoU' if 'gIoU' in results['clean'] else 'mIoU')
    if metric not in results['clean']:
        raise SystemExit(f'--metric {metric}: the test metric reports {sorted(results["clean"])}.')
    for name in corruptions:
        for severity in args.severities:
            done = results['corrupted'].setdefault(name, {})
            if str(severity) in done:
                continue
            transform = degradation_transform(name, severity, args.seed)
            runner.logger.info(f'robustness: {name}, severity {severity}: {transform}')
            runner.test_loop.dataloader = runner.build_dataloader(
                with_degradation(clean_loader, transform))
            done[str(severity)] = runner.test_loop.run()
            _save(args.out, results)
    if args.overlap_data_root and results.get('overlap') is None:
        runner.logger.info(f'robustness: overlapping objects from {args.overlap_data_root}')
        runner.test_loop.dataloader = runner.build_dataloader(
            with_data_root(clean_loader, args.overlap_data_root))
        results['overlap'] = runner.test_loop.run()
        _save(args.out, results)
    wanted = {name: {int(s): m for s, m in results['corrupted'][name].items()
                     if int(s) in args.severities} for name in corruptions}
    table = robustness_table(results['clean'], wanted, metric)
    if results.get('overlap'):
        score, clean = results['overlap'][metric], results['clean'][metric]
        table += (f'\n\noverlapping objects ({args.overlap_data_root}): {score:.2f}, '
                  f'{100 * score / clean if clean else 0:.1f} % of clean')
    runner.logger.info('\n' + table)
    print(table)


if __name__ == '__main__':
    run_tool(main)
