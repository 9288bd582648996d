# Copyright (c) mmamlris contributors. All rights reserved.
"""Scores per kind of expression: where a model wins or loses, from the per-expression
``(i, u)`` records that ``tools/test.py --out`` writes.

* :func:`synref_groups` -- the groups of a SynRef sentence: the kind of its form
  (``attr``, ``superlative``, ``relation``) and each attribute of the referent it names
  (``names shape``, ...), or ``names no shape`` where it leaves the shape out;
* :func:`scores_by_group` -- :func:`~mmamlris.evaluation.ris_scores` of every group (an
  expression counts in each of its groups);
* :func:`breakdown_table` -- markdown: a row per run, a column per group, and the paired
  difference of each run to the first (the same expressions: Δ of their mean IoU);
* :func:`synref_breakdown` -- one run's score per group, the sentences read from the SynRef it
  was tested on (what the ablation tool records with every run).
"""
import json
import os.path as osp
from typing import Callable, Dict, Iterable, List, Mapping, Sequence

from mmamlris.datasets.refer_io import load_refs
from mmamlris.datasets.synref import SHAPES, expression_form
from mmamlris.utils import InputValueError
from .iou import ris_scores

__all__ = [
    'SYNREF_GROUPS', 'synref_groups', 'scores_by_group', 'breakdown_table', 'is_synref',
    'synref_sentences', 'synref_breakdown', 'synref_grouper', 'check_sent_ids'
]

# The columns of a SynRef breakdown, in order.
SYNREF_GROUPS = ('attr', 'superlative', 'relation', 'names shape', 'names no shape',
                 'names colour', 'names size')


def synref_groups(sentence: str) -> List[str]:
    """The groups of :data:`SYNREF_GROUPS` that a SynRef sentence belongs to."""
    kind, attrs = expression_form(sentence)
    groups = [kind] + [f'names {attr}' for attr in attrs]
    return groups if 'shape' in attrs else groups + ['names no shape']


def scores_by_group(records: Iterable[Mapping],
                    groups_of: Callable[[Mapping], Iterable[str]]) -> Dict[str, dict]:
    """``{group: ris_scores(records of the group) + {'n': count}}``, each record counted in
    every group ``groups_of(record)`` names."""
    members: Dict[str, List[Mapping]] = {}
    for record in records:
        for group in groups_of(record):
            members.setdefault(group, []).append(record)
    return {group: dict(ris_scores(rows, ()), n=len(rows)) for group, rows in members.items()}


def breakdown_table(runs: Mapping[str, Sequence[Mapping]],
                    groups_of: Callable[[Mapping], Iterable[str]],
                    groups: Sequence[str] = SYNREF_GROUPS, metric: str = 'mIoU') -> str:
    """Markdown: ``metric`` of every run (rows) in every group (columns, ``n`` expressions
    in the head), then each further run's difference to the first.

    Args:
        runs (Mapping[str, Sequence[Mapping]]): ``{name: per-expression records}``, all of
            the same expressions (``sent_id`` and ``split``).
        groups_of (Callable): A record's groups.
        groups (Sequence[str]): The columns, in order (groups no record has are left out).
        metric (str): ``'mIoU'`` or ``'oIoU'``.

    Raises:
        InputValueError: the runs were not scored on the same expressions.
    """
    names = list(runs)
    keys = {name: sorted((r['split'], r['sent_id']) for r in runs[name]) for name in names}
    for name in names[1:]:
        if keys[name] != keys[names[0]]:
            raise InputValueError(f'{name} and {names[0]} were not scored on the same '
                                  'expressions: their differences would not be paired.')
    scores = {name: scores_by_group(runs[name], groups_of) for name in names}
    columns = [g for g in groups if g in scores[names[0]]]
    head = ['all'] + columns
    total = {name: ris_scores(runs[name], ())[metric] for name in names}
    count = {g: scores[names[0]][g]['n'] for g in columns}
    lines = [f'| {metric} | all ({len(keys[names[0]])}) | '
             + ' | '.join(f'{g} ({count[g]})' for g in columns) + ' |',
             '|---' * (len(head) + 1) + '|']
    for name in names:
        cells = [total[name]] + [scores[name][g][metric] for g in columns]
        lines.append(f'| {name} | ' + ' | '.join(f'{v:.2f}' for v in cells) + ' |')
    for name in names[1:]:
        cells = [total[name] - total[names[0]]] + [
            scores[name][g][metric] - scores[names[0]][g][metric] for g in columns]
        lines.append(f'| Δ {name} − {names[0]} | ' + ' | '.join(f'{v:+.2f}' for v in cells)
                     + ' |')
    return '\n'.join(lines)


def is_synref(data_root: str) -> bool:
    """Whether ``data_root`` holds a SynRef (RIS): a ``refs(unc).p`` and the categories of
    its shapes in ``instances.json``, not those of COCO."""
    instances = osp.join(data_root, 'instances.json')
    if not (osp.isfile(instances) and osp.isfile(osp.join(data_root, 'refs(unc).p'))):
        return False
    try:
        with open(instances) as f:
            categories = json.load(f)['categories']
        return {c['name'] for c in categories} <= set(SHAPES)
    except (ValueError, KeyError, TypeError):
        return False


def synref_sentences(data_root: str) -> Dict[int, str]:
    """``{sent_id: sentence}`` of the SynRef at ``data_root`` (its ``refs(unc).p``)."""
    refs = load_refs(osp.join(data_root, 'refs(unc).p'))
    return {s['sent_id']: s['sent'] for ref in refs for s in ref['sentences']}


def synref_breakdown(records: Iterable[Mapping], sentences: Mapping[int, str],
                     split: str = 'val', metric: str = 'mIoU') -> Dict[str, float]:
    """``{group: metric}`` of the records of ``split``, in the order of
    :data:`SYNREF_GROUPS` (see :func:`synref_sentences` for ``sentences``).

    Raises:
        InputValueError: a record's ``sent_id`` is not in ``sentences``.
    """
    rows = [r for r in records if r['split'] == split]
    check_sent_ids(rows, sentences, 'the records')
    scores = scores_by_group(rows, synref_grouper(sentences))
    return {group: scores[group][metric] for group in SYNREF_GROUPS if group in scores}


def synref_grouper(sentences: Mapping[int, str]) -> Callable[[Mapping], List[str]]:
    """The ``groups_of`` of :func:`scores_by_group` / :func:`breakdown_table` for records of
    the SynRef whose ``sentences`` are given: the :func:`synref_groups` of each record's
    sentence."""
    return lambda record: synref_groups(sentences[record['sent_id']])


def check_sent_ids(records: Iterable[Mapping], sentences: Mapping[int, str],
                   where: str) -> None:
    """Raise an :class:`InputValueError` naming ``where`` if a record's ``sent_id`` is not in
    ``sentences`` (records tested on another SynRef)."""
    unknown = {r['sent_id'] for r in records} - sentences.keys()
    if unknown:
        raise InputValueError(f'{where}: {len(unknown)} sent_ids are not in the SynRef '
                              f'sentences (e.g. {min(unknown)}): tested on another SynRef?')
