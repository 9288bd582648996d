# Copyright (c) mmamlris contributors. All rights reserved.
"""The paper's ablation table in miniature, on SynRef: baseline, + random mask, + AML (paper
defaults), + AML (official-code variant), each over several seeds.

Every (variant, seed) is one ``tools/train.py`` run followed by ``tools/test.py --out`` on
val / testA / testB; the table is computed from the per-expression (I, U) records, so it is
exactly what RISMetric reports, and the AML statistics come from the training log.

Example (about 11 minutes per run on two CPU cores)::

    python tools/analysis_tools/ablation_synref.py --seeds 0 1 2 --out-md ablation.md
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
from typing import Dict, List

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SPLITS = ('val', 'testA', 'testB')
STATS = ('aml_mask_ratio', 'aml_weak_ratio', 'aml_score_mean')
# variant -> (which config, --cfg-options on top of it)
VARIANTS: Dict[str, tuple] = {
    'baseline': ('baseline', []),
    'random': ('aml', ['model.aml.filter.mode=random']),
    'aml': ('aml', []),
    'official': ('official', []),
}
LABELS = {'baseline': 'baseline (no AML)', 'random': '+ random mask (same count)',
          'aml': '+ AML (paper defaults)', 'official': '+ AML (official-code variant)'}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--baseline-config',
                        default=osp.join(ROOT, 'configs/lite/lite_minilm_synref-160x160.py'))
    parser.add_argument(
        '--aml-config',
        default=osp.join(ROOT, 'configs/amlris/amlris_lite_minilm_synref-160x160.py'))
    parser.add_argument(
        '--official-config',
        default=osp.join(ROOT, 'configs/amlris/amlris-official_lite_minilm_synref-160x160.py'))
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--work-dir', default='work_dirs/ablation_synref')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='extra key=value options for every run')
    parser.add_argument('--out-md', help='also write the markdown table to this file '
                        '(rewritten after every run, so an interrupted call leaves a table)')
    parser.add_argument('--rerun', action='store_true',
                        help='train again even where a finished run is in --work-dir '
                        '(by default finished runs are reused, so a call can be resumed)')
    return parser.parse_args()


def run(cmd: List[str], log_file: str) -> None:
    """Run a tool, its output into ``log_file``; stop with the log's tail on failure."""
    with open(log_file, 'w') as log:
        proc = subprocess.run([sys.executable, *cmd], cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(log_file) as log:
            tail = log.read()[-3000:]
        raise SystemExit(f'{" ".join(cmd)} failed (log: {log_file}):\n{tail}')


def scores(records: List[dict]) -> Dict[str, float]:
    """mIoU and oIoU (percent) per split from RISMetric's per-expression records."""
    from mmamlris.evaluation import ris_scores
    out = {}
    for split in SPLITS:
        rows = [r for r in records if r['split'] == split]
        if rows:
            split_scores = ris_scores(rows, ())
            out.update({f'{split}_{k}': split_scores[k] for k in ('mIoU', 'oIoU')})
    return out


def train_stats(work_dir: str) -> Dict[str, float]:
    """Mean AML statistics over the logged training iterations (vis_data/scalars.json)."""
    values: Dict[str, List[float]] = {k: [] for k in STATS}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                for key in STATS:
                    if key in record:
                        values[key].append(record[key])
    return {k: statistics.mean(v) for k, v in values.items() if v}


def one_run(args: argparse.Namespace, variant: str, seed: int) -> Dict[str, float]:
    which, options = VARIANTS[variant]
    config = dict(baseline=args.baseline_config, aml=args.aml_config,
                  official=args.official_config)[which]
    work_dir = osp.join(args.work_dir, f'{variant}_seed{seed}')
    out = osp.join(work_dir, 'per_expression.json')
    if osp.isfile(out) and not args.rerun:
        # Finished by an earlier, interrupted call of this script: reuse it.
        with open(out) as f:
            result = scores(json.load(f))
        result.update(train_stats(work_dir))
        return result
    os.makedirs(work_dir, exist_ok=True)
    options = [f'randomness.seed={seed}', 'custom_hooks=[]', *options, *args.cfg_options]
    run(['tools/train.py', config, '--work-dir', work_dir, '--cfg-options', *options],
        osp.join(work_dir, 'train.log'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    run(['tools/test.py', config, checkpoint, '--work-dir', osp.join(work_dir, 'test'),
         '--out', out, '--cfg-options', *options], osp.join(work_dir, 'test.log'))
    with open(out) as f:
        result = scores(json.load(f))
    result.update(train_stats(work_dir))
    return result


def table(results: Dict[str, List[Dict[str, float]]]) -> str:
    """Markdown: mean ± std over seeds of mIoU / oIoU per split, and the AML statistics."""

    def cell(values: List[float]) -> str:
        if not values:
            return '—'
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return f'{statistics.mean(values):.2f} ± {std:.2f}'

    cols = [f'{s} {m}' for s in SPLITS for m in ('mIoU', 'oIoU')]
    lines = ['| variant | seeds | ' + ' | '.join(cols) + ' | masked | weak |',
             '|---' * (len(cols) + 4) + '|']
    for variant, runs in results.items():
        row = [cell([r[f'{s}_{m}'] for r in runs if f'{s}_{m}' in r])
               for s in SPLITS for m in ('mIoU', 'oIoU')]
        stats = [cell([100 * r[k] for r in runs if k in r])
                 for k in ('aml_mask_ratio', 'aml_weak_ratio')]
        lines.append(f'| {LABELS[variant]} | {len(runs)} | ' + ' | '.join(row + stats) + ' |')
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    from tqdm import tqdm
    # Seed-major, so that an interrupted call has every variant for the seeds it finished.
    jobs = [(v, s) for s in args.seeds for v in args.variants]
    results: Dict[str, List[Dict[str, float]]] = {v: [] for v in args.variants}
    for variant, seed in tqdm(jobs, desc='ablation runs'):
        results[variant].append(one_run(args, variant, seed))
        if args.out_md:
            with open(args.out_md, 'w') as f:
                f.write(table(results) + '\n')
    print(table(results))


if __name__ == '__main__':
    main()
