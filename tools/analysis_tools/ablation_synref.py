# Copyright (c) mmamlris contributors. All rights reserved.
"""The paper's ablation table in miniature, on SynRef, with every scorer of mmamlris.

Rows (``--variants``): the baseline (no AML), a random mask of the same size, a MaskRIS-style
random mask of half the blocks, AML with the paper's PatchMax scorer, the released code's step,
and AML with the oracle, learned and decoder scorers. Every (variant, seed) is one
``tools/train.py`` run of ``--aml-config`` (``--baseline-config`` for the baseline) with the
variant's AML settings written into a config of its own, then ``tools/test.py --out`` on
val / testA / testB. The scores come from the per-expression (I, U) records (exactly what
RISMetric reports); the AML columns (target ROC-AUC, object / context pixels masked, masked
fraction) are the means over the second half of the logged training iterations. On
SynRef-GRES (a GRES config, whose GRESMetric records say whether each expression has a target)
the scores are gIoU, cIoU and N-acc instead of mIoU and oIoU, and the paired differences are
taken on gIoU and cIoU.

The markdown report gives mean ± std over the seeds per split, then the paired difference to the
baseline of the same seed (val mIoU and oIoU: mean ± std, and wins out of N; ``--reference``
pairs against another row, e.g. ``aml`` to compare two AML settings) with its minimal
detectable effect ``MDE = 2 · std(Δ) / √n`` (a mean Δ smaller than the MDE is within the seed
noise) and the seeds that would bring the MDE to 1 point at that spread, then val
mIoU and oIoU per seed. ``--out-png`` draws val mIoU / oIoU with error bars, and the
paired differences to the reference (one dot per pair). Finished runs are reused and an
interrupted run continues from its last checkpoint (`tools/train.py --resume`), so an
interrupted call resumes. ``--report-only`` tabulates
the finished runs and trains nothing (e.g. while a call runs). ``--ema`` (weight averaging,
evaluated on the averaged weights; with ``--score-trained`` the trained weights of the same
run are scored too and recorded as ``trained_*``, so that one run shows what the averaging
bought; ``--ema-begin`` averages only the end of training), ``--eval-data-root`` (a larger
evaluation set) and ``--iters`` (a longer schedule, the learning-rate decay stretched with
it) are the levers that make the instrument more precise; they apply to every row and are
part of a run's recorded setting.

``--robustness [NAME ...]`` also measures each run's robustness once it is tested:
``tools/analysis_tools/test_robustness.py`` on the last checkpoint (by default the 15
ImageNet-C corruptions and the occlusion of the referred object at severities 1-5, on the val
split of the evaluation set; ``--robustness-data-root``, ``--robustness-splits`` and
``--robustness-severities`` choose others, ``--robustness-overlap DIR`` adds a SynRef with
overlapping objects). Its mPC, rPC, occlusion score and overlap score join the run's record,
and the report gets a robustness table with paired differences and MDEs. A run recorded
without robustness gets it from its checkpoint when its run folder is still there; otherwise
it is listed (train it again with ``--rerun``).

``--records FILE`` keeps one small JSON line per finished (variant, seed): its scores, its AML
statistics and the setting it ran with (configs, scorer and cfg options), with the date and
the commit. A run found there is not trained again, so the file, committed with the results,
carries an ablation across machines whose run folders are gone. A cell averaged over fewer
seeds than its row has (a record that holds only some of the columns) says ``(n=K)``.

Runs of one config and seed differ from one CPU to another (floating-point kernels), so a
paired difference is taken only between runs of one seed *and one machine* (each record says
which, ``machine``): a call that would train into a ``--records`` file of another machine's
runs stops, and ``--pool-records FILE ...`` adds the runs of other machines' files (read only)
to the report, each paired with the reference of its own machine, the differences pooled.
A campaign can so advance on whichever machine is at hand, one records file per machine.

The defaults are the ablation of ``configs/amlris/README.md``: the quick-start model (pretrained
MobileNetV2 + MiniLM-L6) with and without AML, the learned scorer reading the stride-16 level
too (add ``--records configs/amlris/results/ablation_synref_mbv2.jsonl`` to reuse the committed
runs). Example (17-40 minutes per 1,500-iteration run on two CPU cores)::

    python tools/analysis_tools/ablation_synref.py --seeds 0 1 2 --out-md ablation.md \\
        --out-png docs/en/_static/ablation_synref_mbv2.png
"""
import argparse
import ast
import glob
import json
import math
import os
import os.path as osp
import platform
import re
import statistics
import subprocess
import sys
import textwrap
import time
from collections import Counter
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SPLITS = ('val', 'testA', 'testB')
ROBUSTNESS_OUT = 'robustness.json'  # --robustness: test_robustness.py's --out
TARGET_MDE = 1.0  # the report's 'seeds for MDE' column: seeds to detect a 1-point effect
RAW_OUT = 'trained_per_expression.json'  # --ema: the scores of the trained (not averaged) weights
# The two headline scores per split: RISMetric's, or GRESMetric's when the records hold a
# ``target`` field (SynRef-GRES, gRefCOCO), with N-acc beside them.
RIS_SCORES = ('mIoU', 'oIoU')
GRES_SCORES = ('gIoU', 'cIoU', 'N-acc')
# Robustness columns (``{key}_{metric}`` in a record): the clean score on the benchmark's
# split, mPC and rPC (ImageNet-C), occlusion of the referred object (and relative to clean),
# overlapping objects.
ROBUST_KEYS = ('robust_clean', 'mPC', 'rPC', 'occlusion', 'occlusion_rel', 'overlap')
STATS = ('aml_mask_ratio', 'aml_weak_ratio', 'aml_target_auc', 'aml_object_masked',
         'aml_context_masked')
# Share of the blocks the equal-share oracle rows mask: what PatchMax masked on the SynRef
# models (aml_mask_ratio 0.12-0.13 in the committed records).
EQUAL_SHARE = 0.125
RELEASED_STEP = dict(stage1_loss_weight=0.5, stage2_loss_weight=0.5, stage2_text='clean')
# variant -> (scorer override, filter override, segmentor options); None = the baseline.
# An override replaces the config's scorer / filter (its channels and block size are kept).
VARIANTS: Dict[str, Optional[tuple]] = {
    'baseline': None,
    'random': (None, dict(mode='random'), {}),
    'random50': (None, dict(type='RandomBlockFilter', ratio=0.5), {}),
    'aml': (None, None, {}),
    'official': (dict(type='ReleasedRelevanceScorer'), dict(type='ReleasedBlockFilter'),
                 RELEASED_STEP),
    'oracle': (dict(type='OracleScorer'), None, {}),
    'learned': (dict(type='LearnedScorer'), None, {}),
    'decoder': (dict(type='DecoderScorer'), None, {}),
    # The cheap stage 1: half-scale image, stride-16 level, so a cell still covers 32 pixels.
    'aml_half': (dict(in_index=-2), None, dict(stage1_scale=0.5)),
    # The paper's blocks hidden from the stage-2 loss instead of the image.
    'aml_loss': (None, None, dict(aml=dict(mask_target='loss'))),
    # Which context matters? The oracle hiding all context, only background, or only other
    # objects, each masking the same share of the blocks (EQUAL_SHARE).
    'oracle_eq': (dict(type='OracleScorer', hide='context'), dict(count=EQUAL_SHARE), {}),
    'oracle_background': (dict(type='OracleScorer', hide='background'),
                          dict(count=EQUAL_SHARE), {}),
    'oracle_distractors': (dict(type='OracleScorer', hide='distractors'),
                           dict(count=EQUAL_SHARE), {}),
}
# The oracle rows that need every object of the image (RefCOCODataset(with_objects=True) and
# LoadObjectsMask in the training pipeline).
OBJECT_VARIANTS = ('oracle_background', 'oracle_distractors')
LABELS = {
    'baseline': 'baseline (no AML)',
    'random': '+ random mask (same count)',
    'random50': '+ random mask (50 % of the blocks)',
    'aml': '+ AML, PatchMax (paper)',
    'official': '+ AML, released-code step',
    'oracle': '+ AML, oracle scorer (GT)',
    'learned': '+ AML, learned scorer',
    'decoder': '+ AML, decoder scorer',
    'aml_half': '+ AML, PatchMax, stage 1 at half scale',
    'aml_loss': '+ AML, PatchMax, blocks ignored in the loss (image untouched)',
    'oracle_eq': '+ oracle, all context, 12.5 % of the blocks',
    'oracle_background': '+ oracle, background only, 12.5 % of the blocks',
    'oracle_distractors': '+ oracle, other objects only, 12.5 % of the blocks',
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--baseline-config',
        default=osp.join(ROOT, 'configs/lite/lite_mbv2_minilm_synref-160x160.py'))
    parser.add_argument(
        '--aml-config',
        default=osp.join(ROOT, 'configs/amlris/amlris_lite_mbv2_minilm_synref-160x160.py'))
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--work-dir', default='work_dirs/ablation_mbv2')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='extra key=value options for every run')
    parser.add_argument(
        '--scorer-options', nargs='*', metavar='VARIANT.KEY=VALUE',
        default=['learned.aux_feat_indices=[-2]', 'learned.aux_channels=[96]'],
        help='extra scorer arguments of one variant, VALUE a Python literal (default: '
        'learned.aux_feat_indices=[-2] learned.aux_channels=[96], the stride-16 level of the '
        'default MobileNetV2 config; give the option with no value for none)')
    parser.add_argument('--ema', type=float, default=None, metavar='MOMENTUM',
                        help='average the weights during training (mmengine EMAHook with this '
                        'momentum, e.g. 0.002) and evaluate the averaged weights')
    parser.add_argument('--score-trained', action='store_true',
                        help='with --ema: also test the trained (not averaged) weights of each '
                        'run, recorded as trained_* (what the averaging bought; one more test '
                        'pass per run)')
    parser.add_argument('--ema-begin', type=int, default=0, metavar='ITER',
                        help='with --ema: average only from this iteration on (the averaged '
                        'weights follow the trained ones until then; EMAHook begin_iter)')
    parser.add_argument('--iters', type=int, default=None, metavar='N',
                        help="train N iterations instead of the config's: the schedulers that "
                        'end with the training end at N too (a PolyLR still decays to its '
                        'minimum), and validation runs once, at the end')
    parser.add_argument('--eval-data-root', metavar='DIR',
                        help='evaluate (val and test) on the splits read from DIR instead of '
                        "the config's data root, e.g. a larger SynRef generated with the same "
                        'options and another seed; training data unchanged')
    parser.add_argument('--robustness', nargs='*', metavar='NAME',
                        help='also run tools/analysis_tools/test_robustness.py on every run '
                        '(corruption names or groups as its --corruptions; none: all)')
    parser.add_argument('--robustness-severities', nargs='+', type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument('--robustness-splits', nargs='+', default=['val'], metavar='SPLIT',
                        help='the splits the robustness benchmark evaluates (default: val)')
    parser.add_argument('--robustness-data-root', metavar='DIR',
                        help='read the robustness benchmark\'s test set from DIR (default: '
                        'the evaluation set: --eval-data-root or the config\'s)')
    parser.add_argument('--robustness-overlap', metavar='DIR',
                        help='with --robustness: also score the clean model on DIR, SynRef '
                        'generated with --overlap (objects hiding parts of each other)')
    parser.add_argument('--out-md', help='also write the markdown report to this file '
                        '(rewritten after every run, so an interrupted call leaves a report)')
    parser.add_argument('--out-png', help='also draw the bar chart of val mIoU / oIoU there')
    parser.add_argument('--reference', default='baseline', choices=list(VARIANTS),
                        help='the row the paired differences are taken against (one of '
                        '--variants; default: the baseline, dashes if it is not run)')
    parser.add_argument('--report-only', action='store_true',
                        help='tabulate the finished runs in --work-dir and train nothing; '
                        'unfinished (variant, seed) pairs are listed and left out')
    parser.add_argument('--records', metavar='FILE',
                        help='JSON-lines file of finished runs: read first (a run found there '
                        'with the same setting is not trained again), rewritten after every run')
    parser.add_argument('--pool-records', nargs='+', default=[], metavar='FILE',
                        help='records of the same setting trained on other machines (read '
                        'only, e.g. one file per machine): their runs join the report, each '
                        'paired only with the reference run of its own seed and machine')
    parser.add_argument('--rerun', action='store_true',
                        help='train again even where a finished run is in --work-dir '
                        '(by default finished runs are reused, so a call can be resumed)')
    args = parser.parse_args(argv)
    if args.reference != 'baseline' and args.reference not in args.variants:
        parser.error(f'--reference {args.reference} is not one of --variants {args.variants}')
    if args.report_only and args.rerun:
        parser.error('--report-only trains nothing: it cannot be given with --rerun')
    if args.ema_begin and not args.ema:
        parser.error('--ema-begin needs --ema')
    if args.score_trained and not args.ema:
        parser.error('--score-trained needs --ema')
    if args.ema_begin < 0:
        parser.error(f'--ema-begin must be >= 0, got {args.ema_begin}')
    if args.iters is not None and args.ema_begin >= args.iters:
        parser.error(f'--ema-begin {args.ema_begin} must lie in [0, --iters {args.iters})')
    if args.robustness is None and args.robustness_overlap:
        parser.error('--robustness-overlap needs --robustness')
    if args.robustness is not None:
        from mmamlris.evaluation import expand_corruptions
        from mmamlris.utils import InputValueError
        try:
            args.robustness = expand_corruptions(args.robustness or ['all'])
        except InputValueError as err:
            parser.error(f'--robustness: {err}')
        if any(s not in (1, 2, 3, 4, 5) for s in args.robustness_severities):
            parser.error(f'--robustness-severities must be within 1..5, got '
                         f'{args.robustness_severities}')
    args.scorer_options = parse_scorer_options(args.scorer_options)
    return args


def parse_scorer_options(items: List[str]) -> Dict[str, dict]:
    """``['learned.embed_dim=32']`` -> ``{'learned': {'embed_dim': 32}}``."""
    options: Dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition('=')
        variant, dot, name = key.partition('.')
        if not (sep and dot and name) or variant not in VARIANTS:
            raise SystemExit(f'--scorer-options: expected VARIANT.KEY=VALUE with VARIANT one of '
                             f'{sorted(VARIANTS)}, got {item!r}.')
        try:
            options.setdefault(variant, {})[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise SystemExit(f'--scorer-options: {item!r}: the value is not a Python literal.')
    return options


def run(cmd: List[str], log_file: str) -> None:
    """Run a tool, its output into ``log_file``; stop with the log's tail on failure."""
    with open(log_file, 'a') as log:
        proc = subprocess.run([sys.executable, *cmd], cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(log_file) as log:
            tail = log.read()[-3000:]
        raise SystemExit(f'{" ".join(cmd)} failed (log: {log_file}):\n{tail}')


def scores(records: List[dict]) -> Dict[str, float]:
    """Per split, mIoU and oIoU (percent) from RISMetric's per-expression records, or gIoU,
    cIoU and N-acc from GRESMetric's (records with a ``target`` field)."""
    from mmamlris.evaluation import gres_scores, ris_scores
    gres = any('target' in r for r in records)
    reduce, names = (gres_scores, GRES_SCORES) if gres else (ris_scores, RIS_SCORES)
    out = {}
    for split in SPLITS:
        rows = [r for r in records if r['split'] == split]
        if rows:
            split_scores = reduce(rows, ())
            out.update({f'{split}_{k}': split_scores[k] for k in names})
    return out


def score_names(results: Dict[str, List[dict]]) -> tuple:
    """``GRES_SCORES`` if any run was scored by GRESMetric, else ``RIS_SCORES``."""
    gres = any(f'{s}_gIoU' in r for runs in results.values() for r in runs for s in SPLITS)
    return GRES_SCORES if gres else RIS_SCORES


def train_stats(work_dir: str) -> Dict[str, float]:
    """Mean AML statistics over the second half of the logged iterations (scalars.json)."""
    by_iter: Dict[int, dict] = {}  # a resumed run logs some iterations twice: keep the last
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if any(key in record for key in STATS):
                    by_iter[record.get('iter', len(by_iter))] = record
    values = {k: [by_iter[i][k] for i in sorted(by_iter) if k in by_iter[i]] for k in STATS}
    return {k: statistics.mean(v[len(v) // 2:]) for k, v in values.items() if v}


def level_channels(decode_head: dict, index: int) -> int:
    """The width of backbone level ``index`` as the decode head's config declares it."""
    in_channels, in_index = decode_head['in_channels'], decode_head['in_index']
    levels = max(in_index) + 1
    return int(in_channels[list(in_index).index(index % levels)])


def variant_config(args: argparse.Namespace, variant: str, path: str) -> str:
    """Write the config of one variant (the AML config with its overrides) to ``path``."""
    from mmamlris.utils import load_config
    spec = VARIANTS[variant]
    if spec is None:
        if not (args.ema or args.eval_data_root or args.iters):
            return args.baseline_config
        cfg = load_config(args.baseline_config)
        _apply_instrument(args, cfg)
        cfg.dump(path)
        return path
    scorer, block_filter, options = spec
    options = dict(options)
    cfg = load_config(args.aml_config)
    aml = cfg.model.aml
    aml.update(options.pop('aml', {}))
    if scorer is not None and 'type' in scorer:  # another scorer: keep the level and widths
        kept = {k: aml.scorer[k] for k in ('in_index', 'vis_channels', 'text_channels')
                if k in aml.scorer}
        aml.scorer = dict(scorer, **kept)
    elif scorer is not None:  # the same scorer on another level: that level's width
        aml.scorer.update(scorer)
        aml.scorer.vis_channels = level_channels(cfg.model.decode_head, scorer['in_index'])
    aml.scorer.update(args.scorer_options.get(variant, {}))
    if block_filter is not None:
        if 'type' in block_filter:  # another filter: keep only the block size
            aml.filter = dict(block_filter, block_size=aml.filter.block_size)
        else:
            aml.filter.update(block_filter)
    if aml.scorer.get('type') == 'OracleScorer':  # it scores the filter's blocks
        aml.scorer.block_size = aml.filter.block_size
    cfg.model.update(options)
    if variant in OBJECT_VARIANTS:
        from mmamlris.evaluation import with_objects
        cfg.train_dataloader = with_objects(cfg.train_dataloader)
    _apply_instrument(args, cfg)
    cfg.dump(path)
    return path


def _apply_instrument(args: argparse.Namespace, cfg) -> None:
    """The measurement settings shared by every row: weight averaging (``--ema``,
    ``--ema-begin``), the evaluation set (``--eval-data-root``) and the schedule's length
    (``--iters``)."""
    if args.ema:
        cfg.custom_hooks = [dict(type='EMAHook', ema_type='ExponentialMovingAverage',
                                 momentum=args.ema, update_buffers=True, priority=49,
                                 begin_iter=args.ema_begin)]
    if args.iters:
        _set_iters(cfg, args.iters)
    if args.eval_data_root:
        from mmamlris.evaluation import with_data_root
        cfg.val_dataloader = with_data_root(cfg.val_dataloader, args.eval_data_root)
        cfg.test_dataloader = with_data_root(cfg.test_dataloader, args.eval_data_root)


def _set_iters(cfg, iters: int) -> None:
    """Train ``iters`` iterations: schedulers that ended with the training end there too."""
    old = cfg.train_cfg.max_iters
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    for scheduler in cfg.param_scheduler:
        if scheduler.get('end') == old:
            scheduler.end = iters


def setting(args: argparse.Namespace, variant: str) -> dict:
    """What a run of ``variant`` depends on besides its seed (stored with its record)."""
    config = args.baseline_config if VARIANTS[variant] is None else args.aml_config
    config = osp.abspath(config)
    if config.startswith(ROOT + os.sep):
        config = osp.relpath(config, ROOT)
    out = dict(config=config, scorer_options=args.scorer_options.get(variant, {}),
               cfg_options=list(args.cfg_options))
    if args.ema:  # only when used, so that earlier records keep matching
        out['ema'] = args.ema
    if args.ema_begin:
        out['ema_begin'] = args.ema_begin
    if args.iters:
        out['iters'] = args.iters
    if args.eval_data_root:
        out['eval_data_root'] = args.eval_data_root
    return out


def load_records(path: Optional[str]) -> Dict[tuple, dict]:
    """``{(variant, seed): record}`` from a ``--records`` file (empty if absent)."""
    records: Dict[tuple, dict] = {}
    if not path or not osp.isfile(path):
        return records
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = (record['variant'], record['seed'])
            except (ValueError, KeyError, TypeError) as err:
                raise SystemExit(f'--records {path}, line {number}: not a run record '
                                 f'(a JSON object with "variant" and "seed"): {err}')
            if key in records:
                raise SystemExit(f'--records {path}, line {number}: {key[0]} seed {key[1]} '
                                 f'is recorded twice.')
            records[key] = record
    return records


def save_records(path: str, records: Dict[tuple, dict]) -> None:
    """One line per run, sorted, so that the committed file changes line by line."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        for key in sorted(records, key=lambda k: (str(k[0]), k[1])):
            f.write(json.dumps(records[key], sort_keys=True) + '\n')
    os.replace(tmp, path)  # never a half-written file


def machine() -> str:
    """What a run trained on: the GPU, or the CPU's model name and widest vector extension,
    with the torch build (runs of one config and seed differ from one machine to another)."""
    import torch
    if torch.cuda.is_available():
        return f'{torch.cuda.get_device_name()}, torch {torch.__version__}'
    name, flags = platform.machine(), ''
    try:
        with open('/proc/cpuinfo') as f:
            info = f.read()
        name = re.search(r'^model name\s*:\s*(.+)$', info, re.M).group(1).strip()
        flags = re.search(r'^flags\s*:\s*(.+)$', info, re.M).group(1).split()
    except (OSError, AttributeError):  # not Linux, or another cpuinfo layout
        pass
    isa = next((i for i in ('avx512f', 'avx2', 'neon', 'asimd') if i in flags), 'unknown ISA')
    return (f'{name}, {isa}, {torch.get_num_threads()} threads, '
            f'torch {torch.__version__}')


def data_fingerprints(args: argparse.Namespace, variant: str) -> Dict[str, str]:
    """``{data folder: fingerprint}`` of every folder a run of ``variant`` reads (training
    set, evaluation set, robustness sets), so that runs on two machines can be checked to
    have read the same files (SynRef is regenerated on each machine). Folders missing here
    are left out."""
    from mmamlris.utils import find_dataset_cfg, load_config, tree_fingerprint
    config = args.baseline_config if VARIANTS[variant] is None else args.aml_config
    cfg = load_config(config)
    roots = [(find_dataset_cfg(cfg.train_dataloader.dataset, 'data_root') or {}).get(
        'data_root'), args.eval_data_root]
    if args.robustness is not None:
        roots += [args.robustness_data_root, args.robustness_overlap]
    out = {}
    for root in dict.fromkeys(r for r in roots if r):
        path = root if osp.isabs(root) else osp.join(ROOT, root)
        if osp.isdir(path):
            out[root] = tree_fingerprint(path)
    return out


def _commit() -> Optional[str]:
    proc = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT,
                          capture_output=True, text=True)
    return proc.stdout.strip() or None


def recorded_run(args: argparse.Namespace, records: Dict[tuple, dict], variant: str,
                 seed: int, path: Optional[str] = None) -> Optional[dict]:
    """The record of (variant, seed) if it ran with this call's setting; a record of another
    setting stops the call rather than being mixed into the table or overwritten. ``path``
    names a ``--pool-records`` file (read only: ``--rerun`` does not concern it)."""
    record = records.get((variant, seed))
    if record is None or (args.rerun and path is None):
        return None
    if record.get('setting') != setting(args, variant):
        option = '--pool-records' if path else '--records'
        raise SystemExit(
            f'{option} {path or args.records}: {variant} seed {seed} was recorded with the '
            f'setting {record.get("setting")}, this call asks for {setting(args, variant)}. '
            f'Use another --records file for another setting (or --rerun to replace the run).')
    return record


def check_machine(path: Optional[str], records: Dict[tuple, dict]) -> None:
    """Stop a call that would train on this machine into a records file of runs trained on
    another one: a config and seed train differently from one CPU to another, so the new
    runs could not be paired with the recorded ones (records without a ``machine`` pass)."""
    here = machine()
    others = sorted({r['machine'] for r in records.values() if r.get('machine')} - {here})
    if others:
        raise SystemExit(
            f'--records {path} holds runs trained on {"; ".join(others)}, and this machine is '
            f'{here}: runs of one seed differ from one machine to another, so runs of this '
            'machine cannot be paired with those. Record this machine\'s runs in a file of '
            f'their own (--records) and add {path} to the report with --pool-records.')


def run_options(args: argparse.Namespace, seed: int) -> List[str]:
    """The ``--cfg-options`` of every tool call of one seed's run."""
    # --ema keeps the variant config's EMAHook; otherwise no custom hook (visualisation).
    hooks = [] if args.ema else ['custom_hooks=[]']
    return [f'randomness.seed={seed}', *hooks, *args.cfg_options]


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named in the run folder's ``last_checkpoint`` file, if it exists."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        checkpoint = f.read().strip()
    return checkpoint if osp.isfile(checkpoint) else None


def one_run(args: argparse.Namespace, variant: str, seed: int) -> Optional[Dict[str, float]]:
    """Train and test one (variant, seed) unless it is finished; None if ``--report-only``
    finds it unfinished."""
    work_dir = osp.join(args.work_dir, f'{variant}_seed{seed}')
    out = osp.join(work_dir, 'per_expression.json')
    if args.report_only and not osp.isfile(out):
        return None
    if not (osp.isfile(out) and not args.rerun):
        os.makedirs(work_dir, exist_ok=True)
        stale = osp.join(work_dir, ROBUSTNESS_OUT)  # scores of the weights trained before
        if osp.isfile(stale):
            os.remove(stale)
        config = variant_config(args, variant, osp.join(work_dir, f'{variant}_config.py'))
        options = run_options(args, seed)
        # --resume: a run interrupted earlier continues from its last checkpoint.
        run(['tools/train.py', config, '--work-dir', work_dir, '--resume', '--cfg-options',
             *options],
            osp.join(work_dir, 'train.log'))
        checkpoint = last_checkpoint(work_dir)
        if checkpoint is None:
            raise SystemExit(f'{work_dir}: training ended without a checkpoint to test.')
        run(['tools/test.py', config, checkpoint, '--work-dir', osp.join(work_dir, 'test'),
             '--out', out, '--cfg-options', *options], osp.join(work_dir, 'test.log'))
        if args.ema and args.score_trained:  # the trained weights too: what averaging bought
            from mmamlris.utils import write_ema_source_weights
            raw = write_ema_source_weights(checkpoint, osp.join(work_dir, 'trained_weights.pth'))
            run(['tools/test.py', config, raw, '--work-dir', osp.join(work_dir, 'test_trained'),
                 '--out', osp.join(work_dir, RAW_OUT), '--cfg-options', *options,
                 'custom_hooks=[]', 'resume=False'],  # weights only: nothing to resume
                osp.join(work_dir, 'test_trained.log'))
    with open(out) as f:
        result = scores(json.load(f))
    if osp.isfile(osp.join(work_dir, RAW_OUT)):
        with open(osp.join(work_dir, RAW_OUT)) as f:
            result.update({f'trained_{k}': v for k, v in scores(json.load(f)).items()})
    result.update(train_stats(work_dir))
    result['seed'] = seed
    return result


def robustness_setting(args: argparse.Namespace) -> dict:
    """What the robustness scores of a run depend on besides the run (kept in its record)."""
    return dict(corruptions=list(args.robustness), severities=list(args.robustness_severities),
                splits=list(args.robustness_splits),
                data_root=args.robustness_data_root or args.eval_data_root,
                overlap=args.robustness_overlap)


def robustness(args: argparse.Namespace, variant: str,
               seed: int) -> Optional[Dict[str, object]]:
    """The robustness scores of a finished run, from ``test_robustness.py`` on its last
    checkpoint (resumable: the tool reuses its ``--out``); None when the run folder has no
    checkpoint, or (``--report-only``) no finished benchmark."""
    work_dir = osp.join(args.work_dir, f'{variant}_seed{seed}')
    out = osp.join(work_dir, ROBUSTNESS_OUT)
    if not args.report_only:
        checkpoint = last_checkpoint(work_dir)
        if checkpoint is None:
            return None
        config = variant_config(args, variant, osp.join(work_dir, f'{variant}_config.py'))
        cmd = ['tools/analysis_tools/test_robustness.py', config, checkpoint, '--out', out,
               '--corruptions', *args.robustness,
               '--severities', *map(str, args.robustness_severities),
               '--splits', *args.robustness_splits,
               '--work-dir', osp.join(work_dir, 'robustness')]
        if args.robustness_data_root:
            cmd += ['--data-root', args.robustness_data_root]
        if args.robustness_overlap:
            cmd += ['--overlap-data-root', args.robustness_overlap]
        run(cmd + ['--cfg-options', *run_options(args, seed)],
            osp.join(work_dir, 'robustness.log'))
    return robustness_scores(args, out)


def robustness_scores(args: argparse.Namespace, path: str) -> Optional[Dict[str, object]]:
    """mPC, rPC, the occlusion and overlap scores (the two headline metrics) of a
    ``test_robustness.py --out`` file; None if it is missing or lacks an evaluation."""
    from mmamlris.evaluation import robustness_summary
    if not osp.isfile(path):
        return None
    with open(path) as f:
        results = json.load(f)
    done = results.get('corrupted', {})
    wanted = {name: {s: done.get(name, {}).get(str(s)) for s in args.robustness_severities}
              for name in args.robustness}
    if results.get('clean') is None or any(m is None for by_severity in wanted.values()
                                           for m in by_severity.values()):
        return None
    if args.robustness_overlap and results.get('overlap') is None:
        return None
    names = GRES_SCORES if 'gIoU' in results['clean'] else RIS_SCORES
    out: Dict[str, object] = {}
    for metric in names[:2]:
        summary = robustness_summary(results['clean'], wanted, metric)
        out[f'robust_clean_{metric}'] = summary['clean']
        out.update({f'{key}_{metric}': summary[key] for key in ROBUST_KEYS[1:-1]
                    if key in summary})
        if results.get('overlap'):
            out[f'overlap_{metric}'] = float(results['overlap'][metric])
    out['robustness'] = robustness_setting(args)
    out['robustness_date'] = time.strftime('%Y-%m-%d')
    return out


def _is_robustness_key(key: str) -> bool:
    """Whether a record's key holds a robustness score or its setting."""
    return key in ('robustness', 'robustness_date') or key.startswith(
        tuple(f'{k}_' for k in ROBUST_KEYS))


def _cell(values: List[float], runs: Optional[int] = None) -> str:
    """Mean ± std; ``(n=K)`` where only K of the row's ``runs`` have the value."""
    if not values:
        return '—'
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    cell = f'{statistics.mean(values):.2f} ± {std:.2f}'
    return cell if runs is None or len(values) >= runs else f'{cell} (n={len(values)})'


def pair_key(run: dict) -> tuple:
    """What a paired difference matches on: the seed and the machine (a config and seed train
    differently from one CPU to another, so only runs of one machine are paired; records
    without a ``machine`` pair with each other)."""
    return run['seed'], run.get('machine')


def paired_diffs(runs: List[dict], baseline: List[dict], key: str) -> List[float]:
    """``run - baseline`` of ``key`` for every (seed, machine) both have."""
    base = {pair_key(r): r[key] for r in baseline if key in r}
    return [r[key] - base[pair_key(r)] for r in runs if key in r and pair_key(r) in base]


def mde(diffs: List[float]) -> Optional[float]:
    """Minimal detectable effect of a paired comparison, ``2 * std(diffs) / sqrt(n)``: about
    the smallest mean difference that stands out of the seed noise (two standard errors)."""
    if len(diffs) < 2:
        return None
    return 2.0 * statistics.stdev(diffs) / len(diffs) ** 0.5


def seeds_for_mde(diffs: List[float], target: float = TARGET_MDE) -> Optional[int]:
    """How many seeds would bring the MDE to ``target`` if the paired spread stays what these
    seeds show: the smallest n with ``2 * std(diffs) / sqrt(n) <= target``, at least 3. None
    below three differences: a spread estimated from two has one degree of freedom and can be
    off by a factor of ten, too loose to plan a campaign with."""
    if len(diffs) < 3:
        return None
    return max(3, math.ceil((2.0 * statistics.stdev(diffs) / target) ** 2 - 1e-9))


def paired(runs: List[dict], baseline: List[dict], key: str) -> str:
    """Mean ± std of ``run - baseline`` over the seeds both have, and the wins out of N."""
    diffs = paired_diffs(runs, baseline, key)
    if not diffs:
        return '—'
    wins = sum(d > 0 for d in diffs)
    return f'{_cell(diffs)} ({wins}/{len(diffs)})'


def table(results: Dict[str, List[dict]], reference: str = 'baseline') -> str:
    """Markdown: scores per split, paired differences to ``reference``, the AML statistics."""
    names = score_names(results)
    first, second = names[:2]
    cols = [f'{s} {m}' for s in SPLITS for m in names]
    versus = '' if reference == 'baseline' else f' vs {reference}'
    extra = [f'Δ val {first}{versus} (wins)', f'Δ val {second}{versus} (wins)',
             f'MDE val {first}', f'seeds for MDE {TARGET_MDE:g}', 'target AUC',
             'object masked', 'context masked', 'masked']
    lines = ['| variant | seeds | ' + ' | '.join(cols + extra) + ' |',
             '|---' * (len(cols) + len(extra) + 2) + '|']
    reference_runs = results.get(reference, [])
    several = len(run_machines(results)) > 1
    for variant, runs in results.items():
        n = len(runs)
        row = [_cell([r[f'{s}_{m}'] for r in runs if f'{s}_{m}' in r], n)
               for s in SPLITS for m in names]
        if variant == reference:
            row += ['—'] * 4
        else:
            diffs = paired_diffs(runs, reference_runs, f'val_{first}')
            detectable, needed = mde(diffs), seeds_for_mde(diffs)
            row += [paired(runs, reference_runs, f'val_{first}'),
                    paired(runs, reference_runs, f'val_{second}'),
                    '—' if detectable is None else f'{detectable:.2f}',
                    '—' if needed is None else str(needed)]
        row.append(_cell([r['aml_target_auc'] for r in runs if 'aml_target_auc' in r], n))
        row += [_cell([100 * r[k] for r in runs if k in r], n)
                for k in ('aml_object_masked', 'aml_context_masked', 'aml_mask_ratio')]
        lines.append(f'| {LABELS[variant]} | {run_count(runs, several)} | '
                     + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def run_machines(results: Dict[str, List[dict]]) -> Counter:
    """How many runs of the table each machine trained (``None``: not recorded)."""
    return Counter(r.get('machine') for runs in results.values() for r in runs)


def run_count(runs: List[dict], several: bool) -> str:
    """A row's number of runs, and where the table pools machines, how many of each."""
    if not (several and runs):
        return str(len(runs))
    counts = Counter(short_machine(r.get('machine')) for r in runs)
    return f'{len(runs)} (' + ', '.join(f'{k} {name}' for name, k in sorted(counts.items())) + ')'


def short_machine(machine: Optional[str]) -> str:
    """A machine's name for a column head: the CPU or GPU model without its trademarks,
    e.g. 'Intel(R) Xeon(R) Processor, avx512f, ...' -> 'Intel Xeon'."""
    if not machine:
        return 'machine not recorded'
    name = re.sub(r'\((R|TM)\)|\bProcessor\b|\bCPU\b|@.*', ' ', machine.split(',')[0])
    return ' '.join(name.split())


def seed_table(results: Dict[str, List[dict]], key: Optional[str] = None) -> str:
    """Markdown: one column per seed (per seed and machine where the runs come from several),
    so that a reader sees the spread behind the mean (``key`` defaults to the first val
    score: ``val_mIoU`` or ``val_gIoU``)."""
    key = key or f'val_{score_names(results)[0]}'
    columns = sorted({pair_key(r) for runs in results.values() for r in runs},
                     key=lambda k: (k[0], str(k[1])))
    several = len(run_machines(results)) > 1
    heads = [f'seed {s}, {short_machine(m)}' if several else f'seed {s}' for s, m in columns]
    lines = [f'| {key.replace("_", " ")} | ' + ' | '.join(heads) + ' |',
             '|---' * (len(columns) + 1) + '|']
    for variant, runs in results.items():
        by_run = {pair_key(r): r[key] for r in runs if key in r}
        cells = [f'{by_run[c]:.2f}' if c in by_run else '—' for c in columns]
        lines.append(f'| {LABELS[variant]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def robustness_table(results: Dict[str, List[dict]], reference: str = 'baseline') -> str:
    """Markdown: the robustness scores of the first metric per row, with the paired
    differences (and their MDE) of mPC, occlusion and overlap; '' if no run has them."""
    metric = score_names(results)[0]
    labels = dict(robust_clean='clean', mPC='mPC', rPC='rPC %', occlusion='occlusion',
                  occlusion_rel='occlusion % of clean', overlap='overlap')
    keys = [k for k in ROBUST_KEYS
            if any(f'{k}_{metric}' in r for runs in results.values() for r in runs)]
    if not keys:
        return ''
    compared = [k for k in ('mPC', 'occlusion', 'overlap') if k in keys]
    versus = '' if reference == 'baseline' else f' vs {reference}'
    head = [f'{labels[k]} {metric}' for k in keys]
    for key in compared:
        head += [f'Δ {key}{versus} (wins)', f'MDE {key}']
    lines = ['| variant | seeds | ' + ' | '.join(head) + ' |', '|---' * (len(head) + 2) + '|']
    reference_runs = results.get(reference, [])
    for variant, runs in results.items():
        n = len(runs)
        have = [r for r in runs if any(f'{k}_{metric}' in r for k in keys)]
        row = [_cell([r[f'{k}_{metric}'] for r in have if f'{k}_{metric}' in r], len(have))
               for k in keys]
        for key in compared:
            diffs = paired_diffs(have, reference_runs, f'{key}_{metric}')
            detectable = mde(diffs)
            row += ['—', '—'] if variant == reference else [
                paired(have, reference_runs, f'{key}_{metric}'),
                '—' if detectable is None else f'{detectable:.2f}']
        seeds = f'{len(have)}' if len(have) == n else f'{len(have)} of {n}'
        lines.append(f'| {LABELS[variant]} | {seeds} | ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def pairing_note(results: Dict[str, List[dict]], reference: str = 'baseline') -> str:
    """Sentences on the machines behind the table ('' if one): the machines and their runs,
    and the runs left unpaired because the ``reference`` of their seed ran on another machine
    only (records without a ``machine`` are not compared)."""
    machines = run_machines(results)
    if len(machines) < 2:
        return ''
    counts = ', '.join(f'{m or "machine not recorded"} ({k} runs)'
                       for m, k in sorted(machines.items(), key=lambda item: str(item[0])))
    note = (f'Runs of {len(machines)} machines, each paired only with the {reference} run of '
            f'its own seed and machine (a config and seed train differently from one CPU to '
            f'another; the seeds column counts runs): {counts}. A row\'s means average its '
            'own machines, so rows of different machines compare by their paired Δ only.')
    base = {pair_key(r) for r in results.get(reference, [])}
    seeds = {r['seed'] for r in results.get(reference, [])}
    unpaired = [f'{variant} seed {r["seed"]} ({short_machine(r.get("machine"))})'
                for variant, runs in results.items() if variant != reference for r in runs
                if r['seed'] in seeds and pair_key(r) not in base]
    if unpaired:
        note += (f' Not paired (the {reference} of the seed ran on another machine only): '
                 f'{", ".join(unpaired)}.')
    return note


def data_note(results: Dict[str, List[dict]]) -> str:
    """A sentence naming the data folders whose files differ between runs ('' if none; runs
    recorded without fingerprints are not compared)."""
    seen: Dict[str, Dict[str, set]] = {}
    for runs in results.values():
        for r in runs:
            for root, fingerprint in (r.get('data') or {}).items():
                seen.setdefault(root, {}).setdefault(fingerprint, set()).add(
                    short_machine(r.get('machine')))
    differ = [f'{root}: ' + ', '.join(f'{fp} ({" / ".join(sorted(m))})'
                                      for fp, m in sorted(fps.items()))
              for root, fps in sorted(seen.items()) if len(fps) > 1]
    if not differ:
        return ''
    return ('The runs did not all read the same files (data fingerprints differ; generate the '
            'data again, or compare only runs of one fingerprint): ' + '; '.join(differ) + '.')


def report(results: Dict[str, List[dict]], reference: str) -> str:
    """The summary table, the robustness table (when measured), then the two val scores
    (mIoU and oIoU, or gIoU and cIoU) per seed."""
    first, second = score_names(results)[:2]
    parts = [table(results, reference), pairing_note(results, reference), data_note(results),
             robustness_table(results, reference),
             seed_table(results, f'val_{first}'), seed_table(results, f'val_{second}')]
    return '\n\n'.join(part for part in parts if part)


def panel_rows(results: Dict[str, List[dict]], metrics: List[str]) -> List[str]:
    """The rows a chart panel shows: those with a value of one of its metrics (a row measured
    clean only is left out of the robustness panel rather than drawn as a zero bar)."""
    return [v for v, runs in results.items()
            if any(metric in r for metric in metrics for r in runs)]


def chart(results: Dict[str, List[dict]], path: str, reference: str = 'baseline') -> None:
    """Bar chart of the two val scores (mean, std error bars, one dot per seed), a panel with
    mPC and the occlusion score of the rows where robustness was measured, and a last panel
    with the paired difference of the first val score to ``reference`` (mean, std, one dot
    per pair): the panel to read when the rows' runs come from different machines."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = [v for v, runs in results.items() if runs]
    first, second = score_names(results)[:2]
    panels = [([f'val_{first}', f'val_{second}'], 'percent (SynRef val, 160x160 resized)')]
    robust = [f'{k}_{first}' for k in ('mPC', 'occlusion')
              if any(f'{k}_{first}' in r for n in names for r in results[n])]
    if robust:
        panels.append((robust, f'{first} under corruption (val)'))
    deltas = {n: paired_diffs(results[n], results.get(reference, []), f'val_{first}')
              for n in names if n != reference}
    deltas = {n: d for n, d in deltas.items() if d}
    count = len(panels) + bool(deltas)
    fig, axes = plt.subplots(1, count, figsize=(count * (1.3 * len(names) + 2), 4),
                             squeeze=False)
    seeds = sorted({r['seed'] for runs in results.values() for r in runs})
    for ax, (metrics, ylabel) in zip(axes[0], panels):
        names = panel_rows(results, metrics)
        width = 0.8 / len(metrics)
        for i, metric in enumerate(metrics):
            values = [[r[metric] for r in results[n] if metric in r] for n in names]
            means = [statistics.mean(v) if v else 0 for v in values]
            stds = [statistics.stdev(v) if len(v) > 1 else 0 for v in values]
            xs = [k + (i - (len(metrics) - 1) / 2) * width for k in range(len(names))]
            ax.bar(xs, means, width, yerr=stds, capsize=3, label=metric.replace('_', ' '))
            for x, v in zip(xs, values):
                ax.plot([x] * len(v), v, 'k.', markersize=4)
        ax.set_xticks(range(len(names)))
        counts = [sum(metrics[0] in r for r in results[n]) for n in names]
        ax.set_xticklabels([tick_label(n, k) for n, k in zip(names, counts)], fontsize=7)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    axes[0][0].set_title(f'SynRef ablation, seeds {seeds}; bars: mean ± std, dots: seeds')
    if deltas:
        _delta_panel(axes[0][-1], deltas, f'Δ val {first} vs {reference} (paired)')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _delta_panel(ax, deltas: Dict[str, List[float]], ylabel: str) -> None:
    """Mean ± std of each row's paired differences, a dot per pair, and the zero line."""
    names = list(deltas)
    means = [statistics.mean(d) for d in deltas.values()]
    stds = [statistics.stdev(d) if len(d) > 1 else 0 for d in deltas.values()]
    ax.bar(range(len(names)), means, 0.6, yerr=stds, capsize=3, color='tab:gray')
    for k, d in enumerate(deltas.values()):
        ax.plot([k] * len(d), d, 'k.', markersize=4)
    ax.axhline(0, color='k', linewidth=0.8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([tick_label(n, len(d)) for n, d in deltas.items()], fontsize=7)
    ax.set_ylabel(ylabel)


def tick_label(variant: str, seeds: int, width: int = 20) -> str:
    """The chart's label of a row: its label's parts, one per line, wrapped at ``width``
    characters (neighbouring bars' labels must not run into each other), and the seed count."""
    parts = LABELS[variant].replace('+ ', '').split(', ')
    lines = [line for part in parts for line in textwrap.wrap(part, width)]
    return '\n'.join(lines + [f'({seeds} seed{"s" if seeds > 1 else ""})'])


def write_outputs(args: argparse.Namespace, results: Dict[str, List[dict]]) -> None:
    """The report to ``--out-md`` and the chart to ``--out-png``, where given."""
    if args.out_md:
        with open(args.out_md, 'w') as f:
            f.write(report(results, args.reference) + '\n')
    if args.out_png:
        chart(results, args.out_png, args.reference)


def main(argv=None) -> None:
    args = parse_args(argv)
    from tqdm import tqdm
    # Seed-major, so that an interrupted call has every variant for the seeds it finished.
    jobs = [(v, s) for s in args.seeds for v in args.variants]
    results: Dict[str, List[dict]] = {v: [] for v in args.variants}
    records = load_records(args.records)
    if not args.report_only:
        check_machine(args.records, records)
    pooled = [(path, load_records(path)) for path in args.pool_records]
    missing, no_robustness = [], []
    for variant, seed in tqdm(jobs, desc='ablation runs', disable=args.report_only):
        results[variant] += [record for path, other in pooled
                             if (record := recorded_run(args, other, variant, seed, path))]
        result = recorded_run(args, records, variant, seed)
        changed = result is None  # the record is written when it is new or gains scores
        if changed:
            result = one_run(args, variant, seed)
            if result is not None:
                result = dict(result, variant=variant, setting=setting(args, variant),
                              date=time.strftime('%Y-%m-%d'), commit=_commit(),
                              machine=machine(), data=data_fingerprints(args, variant),
                              source=f'measured: {args.work_dir}/{variant}_seed{seed}')
        if result is None:
            missing.append(f'{variant}_seed{seed}')
            continue
        if args.robustness is not None and \
                result.get('robustness') != robustness_setting(args):
            measured = robustness(args, variant, seed)
            if measured is None:
                no_robustness.append(f'{variant}_seed{seed}')
            else:
                kept = {k: v for k, v in result.items() if not _is_robustness_key(k)}
                result, changed = dict(kept, **measured), True
        if changed and args.records:  # a finished run folder, a new run, or new robustness scores
            records[(variant, seed)] = result
            save_records(args.records, records)
        results[variant].append(result)
        if not args.report_only:  # after every run, so that an interrupted call leaves them
            write_outputs(args, results)
    write_outputs(args, results)
    if missing:
        print(f'not finished in {args.work_dir}, left out: {" ".join(missing)}',
              file=sys.stderr)
    if no_robustness:
        print(f'no robustness scores (no checkpoint in {args.work_dir}, or, with '
              f'--report-only, no finished benchmark): {" ".join(no_robustness)}; train them '
              'again with --rerun --variants ... --seeds ...', file=sys.stderr)
    print(report(results, args.reference))


if __name__ == '__main__':
    main()
