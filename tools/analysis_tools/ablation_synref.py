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
taken on gIoU and cIoU. The rows, the records, the paired statistics, the report and the chart
are ``mmamlris.evaluation.ablation``; this script runs the tools and collects their scores.

The markdown report gives mean ± std over the seeds per split, then the paired difference to the
baseline of the same seed (val mIoU and oIoU: mean ± std, and wins out of N; ``--reference``
pairs against another row, e.g. ``aml`` to compare two AML settings) with its minimal
detectable effect ``MDE = 2 · std(Δ) / √n`` (a mean Δ smaller than the MDE is within the seed
noise; given from three pairs on) and the seeds that would bring the MDE to 1 point at that
spread, then val mIoU and oIoU per seed. ``--out-png`` draws val mIoU / oIoU with error bars,
and the paired differences to the reference (one dot per pair). Finished runs are reused and an
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
with each corruption's mean over the severities (``corruption_mIoU``; a run recorded before
gets it from its folder's benchmark), and the report gets a robustness table with paired
differences and MDEs, and the paired differences per corruption. A run recorded
without robustness gets it from its checkpoint when its run folder is still there; otherwise
it is listed (train it again with ``--rerun``).

On a SynRef evaluation set every run also records its val mIoU per kind of expression
(``val_mIoU_by_group``: attributes only, superlative, relation; names the shape or not, ...;
``mmamlris.evaluation.synref_breakdown``), also a run recorded before, while its folder is
there; the report gets the paired differences per kind.

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
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
from mmamlris.evaluation.ablation import (BY_CORRUPTION, GRES_SCORES, RIS_SCORES,  # noqa: E402
                                          ROBUST_KEYS, SPLITS, VARIANTS, apply_instrument,
                                          chart, check_machine, load_records, machine_name,
                                          report, save_records, variant_cfg)
from mmamlris.utils import atomic_write, run_tool  # noqa: E402

ROBUSTNESS_OUT = 'robustness.json'  # --robustness: test_robustness.py's --out
RAW_OUT = 'trained_per_expression.json'  # --ema: the scores of the trained (not averaged) weights
# SynRef eval sets: val mIoU per kind of expression (mmamlris.evaluation.synref_breakdown).
BY_GROUP = 'val_mIoU_by_group'
STATS = ('aml_mask_ratio', 'aml_weak_ratio', 'aml_target_auc', 'aml_object_masked',
         'aml_context_masked')


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


def variant_config(args: argparse.Namespace, variant: str, path: str) -> str:
    """Write the config of one variant, with this call's instrument, to ``path`` (the
    baseline config itself when nothing changes it)."""
    if VARIANTS[variant] is None and not (args.ema or args.eval_data_root or args.iters):
        return args.baseline_config
    cfg = variant_cfg(variant, args.baseline_config, args.aml_config,
                      args.scorer_options.get(variant))
    apply_instrument(cfg, ema=args.ema, ema_begin=args.ema_begin, iters=args.iters,
                     eval_data_root=args.eval_data_root)
    cfg.dump(path)
    return path


def base_config(args: argparse.Namespace, variant: str) -> str:
    """The config a variant starts from: the baseline's, or the AML config."""
    return args.baseline_config if VARIANTS[variant] is None else args.aml_config


def setting(args: argparse.Namespace, variant: str) -> dict:
    """What a run of ``variant`` depends on besides its seed (stored with its record)."""
    config = base_config(args, variant)
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


def data_fingerprints(args: argparse.Namespace, variant: str) -> Dict[str, str]:
    """``{data folder: fingerprint}`` of every folder a run of ``variant`` reads (training
    set, evaluation set, robustness sets), so that runs on two machines can be checked to
    have read the same files (SynRef is regenerated on each machine). Folders missing here
    are left out."""
    from mmamlris.utils import find_dataset_cfg, load_config, tree_fingerprint
    config = base_config(args, variant)
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


def eval_data_root(args: argparse.Namespace, variant: str) -> Optional[str]:
    """The folder a run's val and test sets are read from."""
    from mmamlris.utils import find_dataset_cfg, load_config
    if args.eval_data_root:
        return args.eval_data_root
    cfg = load_config(base_config(args, variant))
    return (find_dataset_cfg(cfg.test_dataloader.dataset, 'data_root') or {}).get('data_root')


def group_scores(args: argparse.Namespace, variant: str, seed: int) -> Optional[dict]:
    """Val mIoU per kind of expression of a tested run (its folder's per-expression
    records); None where the folder has none or the evaluation set is not a SynRef (RIS)."""
    from mmamlris.evaluation import is_synref, synref_breakdown, synref_sentences
    out = osp.join(args.work_dir, f'{variant}_seed{seed}', 'per_expression.json')
    if not osp.isfile(out):
        return None
    root = eval_data_root(args, variant)
    if not root:
        return None
    root = root if osp.isabs(root) else osp.join(ROOT, root)
    if not is_synref(root):
        return None
    with open(out) as f:
        records = json.load(f)
    if not records or any('target' in r or 'sent_id' not in r for r in records):
        return None  # SynRef-GRES, or records that do not say which expression they score
    return synref_breakdown(records, synref_sentences(root))


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
        for name in (ROBUSTNESS_OUT, RAW_OUT, 'trained_weights.pth'):
            stale = osp.join(work_dir, name)  # of the weights trained before (--rerun)
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
        # each corruption's mean over severities: mPC can average opposite effects away
        out[f'{BY_CORRUPTION}_{metric}'] = {name: summary[name] for name in args.robustness}
        if results.get('overlap'):
            out[f'overlap_{metric}'] = float(results['overlap'][metric])
    out['robustness'] = robustness_setting(args)
    out['robustness_date'] = time.strftime('%Y-%m-%d')
    return out


def _is_robustness_key(key: str) -> bool:
    """Whether a record's key holds a robustness score or its setting."""
    return key in ('robustness', 'robustness_date') or key.startswith(
        tuple(f'{k}_' for k in (*ROBUST_KEYS, BY_CORRUPTION)))


def write_outputs(args: argparse.Namespace, results: Dict[str, List[dict]]) -> None:
    """The report to ``--out-md`` and the chart to ``--out-png``, where given."""
    if args.out_md:
        atomic_write(args.out_md, report(results, args.reference) + '\n')
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
        check_machine(args.records, records, machine_name())
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
                              machine=machine_name(), data=data_fingerprints(args, variant),
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
        elif args.robustness is not None and not any(
                k.startswith(f'{BY_CORRUPTION}_') for k in result):
            # recorded before the per-corruption scores: from its folder's benchmark
            measured = robustness_scores(
                args, osp.join(args.work_dir, f'{variant}_seed{seed}', ROBUSTNESS_OUT)) or {}
            by_name = {k: v for k, v in measured.items() if k.startswith(f'{BY_CORRUPTION}_')}
            if by_name:
                result, changed = dict(result, **by_name), True
        if BY_GROUP not in result:  # new, or recorded before the breakdown: from its folder
            by_group = group_scores(args, variant, seed)
            if by_group:
                result, changed = dict(result, **{BY_GROUP: by_group}), True
        if changed and args.records:  # a finished run folder, a new run, or new scores
            # read again: what was written into the file while this run trained stays
            records = load_records(args.records)
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
    run_tool(main)
