# Copyright (c) mmamlris contributors. All rights reserved.
"""The ablation's markdown report: one row per variant, its runs pooled over seeds (and
machines), the paired differences to a reference row with their MDE, the robustness scores,
and one column per run.

``results`` maps a variant (a key of :data:`~.variants.LABELS`) to its runs, each a record
as :func:`~.records.load_records` returns: ``seed``, optionally ``machine``, scores as
``{split}_{metric}`` (``val_mIoU``), robustness scores as ``{key}_{metric}`` (``mPC_mIoU``),
the AML statistics (``aml_target_auc``, ...) and ``data`` fingerprints.
"""
import statistics
from collections import Counter
from typing import Dict, List, Optional

from ..breakdown import SYNREF_GROUPS
from .paired import TARGET_MDE, machine_diffs, mde, paired_diffs, seeds_for_mde
from .records import pair_key, short_machine
from .variants import LABELS

__all__ = ['SPLITS', 'RIS_SCORES', 'GRES_SCORES', 'ROBUST_KEYS', 'BY_CORRUPTION', 'score_names',
           'paired_cell', 'table', 'seed_table', 'robustness_table', 'group_table', 'pairing_note',
           'rounding_note', 'data_note', 'report']

SPLITS = ('val', 'testA', 'testB')
# The two headline scores per split: RISMetric's, or GRESMetric's when the records hold a
# ``target`` field (SynRef-GRES, gRefCOCO), with N-acc beside them.
RIS_SCORES = ('mIoU', 'oIoU')
GRES_SCORES = ('gIoU', 'cIoU', 'N-acc')
# Robustness columns (``{key}_{metric}`` in a record): the clean score on the benchmark's
# split, mPC and rPC (ImageNet-C), occlusion of the referred object (and relative to clean),
# overlapping objects.
ROBUST_KEYS = ('robust_clean', 'mPC', 'rPC', 'occlusion', 'occlusion_rel', 'overlap')
# Each corruption's mean over its severities, ``{BY_CORRUPTION}_{metric}`` in a record:
# ``{corruption: score}``. mPC averages them, and with them effects of opposite sign.
BY_CORRUPTION = 'corruption'


def score_names(results: Dict[str, List[dict]]) -> tuple:
    """``GRES_SCORES`` if any run was scored by GRESMetric, else ``RIS_SCORES``."""
    gres = any(f'{s}_gIoU' in r for runs in results.values() for r in runs for s in SPLITS)
    return GRES_SCORES if gres else RIS_SCORES


def _cell(values: List[float], runs: Optional[int] = None) -> str:
    """Mean ± std; ``(n=K)`` where only K of the row's ``runs`` have the value."""
    if not values:
        return '—'
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    cell = f'{statistics.mean(values):.2f} ± {std:.2f}'
    return cell if runs is None or len(values) >= runs else f'{cell} (n={len(values)})'


def paired_cell(runs: List[dict], baseline: List[dict], key: str) -> str:
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
            row += [paired_cell(runs, reference_runs, f'val_{first}'),
                    paired_cell(runs, reference_runs, f'val_{second}'),
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
                paired_cell(have, reference_runs, f'{key}_{metric}'),
                '—' if detectable is None else f'{detectable:.2f}']
        seeds = f'{len(have)}' if len(have) == n else f'{len(have)} of {n}'
        lines.append(f'| {LABELS[variant]} | {seeds} | ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def group_table(results: Dict[str, List[dict]], reference: str = 'baseline',
                key: str = 'val_mIoU_by_group') -> str:
    """Markdown: the score per kind of expression (``key``: a record's ``{group: score}``;
    columns in the order of :data:`~mmamlris.evaluation.SYNREF_GROUPS`, other groups such as
    the corruptions of ``{BY_CORRUPTION}_{metric}`` sorted after them), the ``reference``
    row's mean ± std, every other row's paired difference to it (wins); '' if no run has
    them."""
    found = {g for runs in results.values() for r in runs for g in r.get(key, {})}
    # the order of SYNREF_GROUPS, whatever the order of a record's keys (a records file
    # stores them sorted); other groups after them, sorted
    groups = [g for g in SYNREF_GROUPS if g in found] + sorted(found - set(SYNREF_GROUPS))
    if not groups:
        return ''
    lines = [f'| {key.replace("_", " ")} ({reference}: mean; others: Δ, wins) | runs | '
             + ' | '.join(groups) + ' |', '|---' * (len(groups) + 2) + '|']

    def column(runs: List[dict], group: str) -> List[dict]:
        return [dict(seed=r['seed'], machine=r.get('machine'), v=r[key][group])
                for r in runs if group in r.get(key, {})]

    reference_runs = results.get(reference, [])
    for variant, runs in results.items():
        if variant == reference:
            cells = [_cell([r['v'] for r in column(runs, g)]) for g in groups]
        else:
            cells = [paired_cell(column(runs, g), column(reference_runs, g), 'v')
                     for g in groups]
        have = sum(key in r for r in runs)
        lines.append(f'| {LABELS[variant]} | {have} | ' + ' | '.join(cells) + ' |')
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


def rounding_note(results: Dict[str, List[dict]], key: Optional[str] = None) -> str:
    """A sentence on the runs made twice, same variant and seed on two machines ('' for fewer
    than two such pairs): the spread of ``key`` (default: the first val score) between them,
    which is what a change that does nothing does to a run, and the MDE it allows."""
    key = key or f'val_{score_names(results)[0]}'
    per_row = {v: machine_diffs(runs, key) for v, runs in results.items()}
    diffs = [d for row in per_row.values() for d in row]
    if len(diffs) < 2:
        return ''
    std = statistics.stdev(diffs)
    rows = sum(bool(row) for row in per_row.values())
    note = (f'The same variant and seed trained on two machines ({len(diffs)} pairs in {rows} '
            f'rows; config, seed and data command the same, only the CPU\'s floating-point '
            f'rounding differs): {key.replace("_", " ")} differs by '
            f'{statistics.mean(diffs):.2f} ± {std:.2f} (machines in name order, the later minus '
            f'the first; largest {max(diffs, key=abs):+.2f}). That spread is what a change '
            f'that does nothing does to a run, and a row\'s paired Δ, itself the difference of '
            f'two runs, is not expected to spread less: at n seeds its MDE stays above about '
            f'2 · {std:.2f} / √n')
    needed = seeds_for_mde(diffs)
    return note + (f' ({needed} seeds for an MDE of {TARGET_MDE:g} at this spread).'
                   if needed else '.')


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
    """The summary table, the robustness table and the score per corruption (when measured),
    the val score per kind of expression (when recorded), then the two val scores (mIoU and
    oIoU, or gIoU and cIoU) per seed."""
    first, second = score_names(results)[:2]
    parts = [table(results, reference), pairing_note(results, reference),
             rounding_note(results), data_note(results),
             robustness_table(results, reference),
             group_table(results, reference, f'{BY_CORRUPTION}_{first}'),
             group_table(results, reference),
             seed_table(results, f'val_{first}'), seed_table(results, f'val_{second}')]
    return '\n\n'.join(part for part in parts if part)
