# Copyright (c) mmamlris contributors. All rights reserved.
"""Robustness benchmark: a test set degraded by one corruption at a time, and its summary.

``tools/analysis_tools/test_robustness.py`` is the command line; this module holds what it
does, following mmdet's ``test_robustness.py``:

* :func:`degradation_transform` -- the transform of one (corruption, severity): ``Corrupt``
  for the 15 ImageNet-C corruptions (and the four held-out ones; ``name@object`` or
  ``name@context`` confines one to the referred object or to the rest), ``OccludeReferent``
  for ``'occlusion'``, whose severities 1..5 cover :data:`OCCLUSION_FRACTIONS` of the object;
* :func:`with_degradation` -- a dataloader config whose pipelines apply it right after the
  image is loaded (at the original size, before any resize; the GT is untouched);
* :func:`with_data_root` -- the same test set read from another root (e.g. SynRef generated
  with ``--overlap``: scenes whose objects hide parts of each other);
* :func:`with_objects` -- every item also carries all objects of its image (for the
  oracle rows that hide only background or only other objects);
* :func:`with_splits` -- only some splits of the test set (e.g. val, to make a benchmark of
  80 evaluations affordable);
* :func:`robustness_summary` -- mPC (the score averaged over the ImageNet-C corruptions and
  severities), rPC (mPC relative to the clean score), and the same for the occlusion alone.
"""
import copy
import statistics
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from mmamlris.datasets.transforms import BENCHMARK_CORRUPTIONS, HELD_OUT_CORRUPTIONS
from mmamlris.datasets.transforms.corrupt import REGIONS
from mmamlris.utils import InputValueError

# Share of the referred object covered at severities 1..5.
OCCLUSION_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5)
RIS_CORRUPTIONS = ('occlusion', )
# Corrupted images a ``Corrupt`` of the benchmark keeps (per dataloader worker).
CORRUPT_CACHE = 32
LOADER = 'LoadRISImageFromFile'
# Named groups for the command line (mmdet's groups, plus ours).
CORRUPTION_GROUPS: Dict[str, Sequence[str]] = {
    'benchmark': BENCHMARK_CORRUPTIONS,
    'noise': BENCHMARK_CORRUPTIONS[0:3],
    'blur': BENCHMARK_CORRUPTIONS[3:7],
    'weather': BENCHMARK_CORRUPTIONS[7:11],
    'digital': BENCHMARK_CORRUPTIONS[11:15],
    'holdout': HELD_OUT_CORRUPTIONS,
    'ris': RIS_CORRUPTIONS,
    'all': BENCHMARK_CORRUPTIONS + RIS_CORRUPTIONS,
}


def split_region(name: str) -> Tuple[str, Optional[str]]:
    """``'defocus_blur@object'`` -> ``('defocus_blur', 'object')``; a name without ``@``
    -> ``(name, None)``."""
    base, _, region = name.partition('@')
    return base, region or None


def expand_corruptions(names: Sequence[str]) -> List[str]:
    """Corruption names with groups (``'benchmark'``, ``'noise'``, ``'all'`` ...) expanded,
    in order, without repeats; an unknown name is a clear error. An ImageNet-C name or group
    with ``@object`` or ``@context`` (e.g. ``blur@object``) is confined to that region of
    the image (``Corrupt(region=...)``)."""
    known = BENCHMARK_CORRUPTIONS + HELD_OUT_CORRUPTIONS + RIS_CORRUPTIONS
    out: List[str] = []
    for name in names:
        base, region = split_region(name)
        if base in CORRUPTION_GROUPS:
            members = CORRUPTION_GROUPS[base]
        elif base in known:
            members = (base, )
        else:
            raise InputValueError(
                f'Unknown corruption {name!r}; known: {", ".join(known)}; groups: '
                f'{", ".join(CORRUPTION_GROUPS)}; either with @object or @context.')
        if region is not None:
            if region not in REGIONS or any(m in RIS_CORRUPTIONS for m in members):
                raise InputValueError(
                    f'Corruption {name!r}: an ImageNet-C name or group can be confined with '
                    f'@{" or @".join(REGIONS)}, nothing else.')
            members = tuple(f'{m}@{region}' for m in members)
        out += [m for m in members if m not in out]
    return out


def degradation_transform(corruption: str, severity: int, seed: int = 0) -> dict:
    """The transform config of one corruption at one severity (1..5)."""
    if corruption == 'occlusion':
        if severity not in (1, 2, 3, 4, 5):
            raise InputValueError(f'Corruption severity must be 1..5, got {severity!r}.')
        return dict(type='OccludeReferent', fraction=OCCLUSION_FRACTIONS[severity - 1],
                    seed=seed)
    # right after the loader: an image of several expressions is corrupted once
    base, region = split_region(corruption)
    transform = dict(type='Corrupt', corruption=base, severity=severity, seed=seed,
                     cache=CORRUPT_CACHE)
    if region is not None:
        transform['region'] = region
    return transform


def _datasets(dataset: dict) -> Iterator[dict]:
    """Every dataset config inside ``dataset``, wrappers included (``ConcatDataset``'s
    ``datasets``, ``RepeatDataset``'s ``dataset``), children first."""
    for child in dataset.get('datasets', []) or []:
        yield from _datasets(child)
    if isinstance(dataset.get('dataset'), dict):
        yield from _datasets(dataset['dataset'])
    yield dataset


def with_degradation(dataloader: Mapping, transform: dict) -> dict:
    """A copy of ``dataloader`` whose every pipeline applies ``transform`` right after
    ``LoadRISImageFromFile`` (through ``ConcatDataset`` and other wrappers)."""
    dataloader = copy.deepcopy(dict(dataloader))
    pipelines = [d['pipeline'] for d in _datasets(dataloader['dataset'])
                 if d.get('pipeline') is not None]
    if not pipelines:
        raise InputValueError('The dataloader config has no dataset with a pipeline.')
    for pipeline in pipelines:
        types = [step.get('type') for step in pipeline]
        if LOADER not in types:
            raise InputValueError(
                f'The test pipeline has no {LOADER} to corrupt the image after: {types}.')
        pipeline.insert(types.index(LOADER) + 1, copy.deepcopy(transform))
    return dataloader


def with_data_root(dataloader: Mapping, data_root: str) -> dict:
    """A copy of ``dataloader`` whose every dataset reads ``data_root`` instead."""
    dataloader = copy.deepcopy(dict(dataloader))
    datasets = [d for d in _datasets(dataloader['dataset']) if 'data_root' in d]
    if not datasets:
        raise InputValueError('The dataloader config has no dataset with a data_root.')
    for dataset in datasets:
        dataset['data_root'] = data_root
    return dataloader


def with_objects(dataloader: Mapping) -> dict:
    """A copy of ``dataloader`` whose every item also carries every annotated object of its
    image, packed as ``gt_objects`` (``RefCOCODataset(with_objects=True)`` and
    ``LoadObjectsMask`` before ``PackRISInputs``), for ``OracleScorer(hide='background' |
    'distractors')``.

    Raises:
        InputValueError: If a dataset's pipeline has no ``PackRISInputs``.
    """
    dataloader = copy.deepcopy(dict(dataloader))
    datasets = [d for d in _datasets(dataloader['dataset']) if d.get('pipeline') is not None]
    if not datasets:
        raise InputValueError('The dataloader config has no dataset with a pipeline.')
    for dataset in datasets:
        types = [step.get('type') for step in dataset['pipeline']]
        if 'PackRISInputs' not in types:
            raise InputValueError('The dataset pipeline has no PackRISInputs to add '
                                  f'LoadObjectsMask before: {types}.')
        dataset['with_objects'] = True
        if 'LoadObjectsMask' not in types:
            dataset['pipeline'].insert(types.index('PackRISInputs'),
                                       dict(type='LoadObjectsMask'))
    return dataloader


def with_splits(dataloader: Mapping, splits: Sequence[str]) -> dict:
    """A copy of ``dataloader`` that reads only ``splits`` (a ``ConcatDataset`` keeps the
    children of those splits, in order).

    Raises:
        InputValueError: If a named split is not in the test set.
    """
    dataloader = copy.deepcopy(dict(dataloader))
    dataset = dataloader['dataset']
    children = dataset.get('datasets') or [dataset]
    present = [child.get('split') for child in children]
    unknown = [split for split in splits if split not in present]
    if unknown:
        raise InputValueError(f'The test set has no split {", ".join(map(repr, unknown))}; '
                              f'its splits: {present}.')
    if 'datasets' in dataset:
        dataset['datasets'] = [child for child in children if child.get('split') in splits]
    return dataloader


def robustness_summary(clean: Mapping[str, float],
                       corrupted: Mapping[str, Mapping[int, Mapping[str, float]]],
                       metric: str) -> Dict[str, float]:
    """mPC and rPC of one metric.

    Args:
        clean (Mapping): The metrics on the clean test set.
        corrupted (Mapping): ``{corruption: {severity: metrics}}``.
        metric (str): e.g. ``'mIoU'`` or ``'gIoU'``.

    Returns:
        dict: ``clean``; ``mPC`` (mean over the whole-image ImageNet-C corruptions and
        severities that were run; not those confined to a region) and ``rPC`` (``mPC /
        clean``, in percent) when any was; ``occlusion`` (mean over its severities) and
        ``occlusion_rel`` likewise; ``{corruption}`` (mean over its severities) for each.
    """
    out = {'clean': float(clean[metric])}
    per_corruption = {
        name: statistics.mean(float(m[metric]) for m in by_severity.values())
        for name, by_severity in corrupted.items() if by_severity
    }
    imagenet_c = [float(m[metric]) for name, by_severity in corrupted.items()
                  if name not in RIS_CORRUPTIONS and split_region(name)[1] is None
                  for m in by_severity.values()]
    if imagenet_c:
        out['mPC'] = statistics.mean(imagenet_c)
        out['rPC'] = 100.0 * out['mPC'] / out['clean'] if out['clean'] else 0.0
    if 'occlusion' in per_corruption:
        out['occlusion_rel'] = (100.0 * per_corruption['occlusion'] / out['clean']
                                if out['clean'] else 0.0)
    out.update(per_corruption)
    return out


def robustness_table(clean: Mapping[str, float],
                     corrupted: Mapping[str, Mapping[int, Mapping[str, float]]],
                     metric: str) -> str:
    """Markdown: one row per corruption (severities 1..5 and their mean), then mPC / rPC."""
    severities = sorted({s for by_severity in corrupted.values() for s in by_severity})
    lines = [f'| {metric} | ' + ' | '.join(f'severity {s}' for s in severities) + ' | mean |',
             '|---' * (len(severities) + 2) + '|',
             '| clean | ' + ' | '.join('' for _ in severities) +
             f' | {float(clean[metric]):.2f} |']
    summary = robustness_summary(clean, corrupted, metric)
    for name, by_severity in corrupted.items():
        cells = [f'{float(by_severity[s][metric]):.2f}' if s in by_severity else '—'
                 for s in severities]
        label = (f'{name} ({", ".join(f"{f:.0%}" for f in OCCLUSION_FRACTIONS)})'
                 if name == 'occlusion' else name)
        lines.append(f'| {label} | ' + ' | '.join(cells) + f' | {summary[name]:.2f} |')
    if 'mPC' in summary:
        lines.append(f'\nmPC {summary["mPC"]:.2f}, rPC {summary["rPC"]:.1f} % '
                     f'(ImageNet-C corruptions run: '
                     f'{sum(n not in RIS_CORRUPTIONS for n in corrupted)})')
    if 'occlusion_rel' in summary:
        lines.append(f'\nocclusion: {summary["occlusion"]:.2f}, '
                     f'{summary["occlusion_rel"]:.1f} % of clean')
    return '\n'.join(lines)
