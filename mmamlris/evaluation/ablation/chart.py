# Copyright (c) mmamlris contributors. All rights reserved.
"""The ablation's chart: the val scores per row (mean, std, a dot per run), mPC and the
occlusion score where robustness was measured, and the paired differences to a reference row
(the panel to read when the rows' runs come from different machines).

``results`` as in :mod:`.tables`. Needs matplotlib.
"""
import io
import statistics
import textwrap
from typing import Dict, List, Optional

from mmamlris.utils import atomic_write
from .paired import machine_diffs, paired_diffs
from .tables import score_names
from .variants import LABELS

__all__ = ['chart', 'panel_rows', 'tick_label']


def panel_rows(results: Dict[str, List[dict]], metrics: List[str]) -> List[str]:
    """The rows a chart panel shows: those with a value of one of its metrics (a row measured
    clean only is left out of the robustness panel rather than drawn as a zero bar)."""
    return [v for v, runs in results.items()
            if any(metric in r for metric in metrics for r in runs)]


def chart(results: Dict[str, List[dict]], path: str, reference: str = 'baseline') -> None:
    """Bar chart of the two val scores (mean, std error bars, one dot per seed), a panel with
    mPC and the occlusion score of the rows where robustness was measured, and a last panel
    with the paired difference of the first val score to ``reference`` (mean, std, one dot
    per pair): the panel to read when the rows' runs come from different machines. Where the
    records hold runs made twice (same variant and seed on two machines), a band in that panel
    shows their spread: the noise a change that does nothing adds to a run."""
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
    seed_list = ', '.join(str(seed) for seed in seeds)
    axes[0][0].set_title(f'SynRef ablation, seeds {seed_list}; bars: mean ± std, dots: seeds')
    if deltas:
        twice = [d for runs in results.values() for d in machine_diffs(runs, f'val_{first}')]
        _delta_panel(axes[0][-1], deltas, f'Δ val {first} vs {reference} (paired)',
                     statistics.stdev(twice) if len(twice) > 1 else None)
    fig.tight_layout()
    png = io.BytesIO()  # written whole or not at all, like the records
    fig.savefig(png, format='png', dpi=110)
    plt.close(fig)
    atomic_write(path, png.getvalue())


def _delta_panel(ax, deltas: Dict[str, List[float]], ylabel: str,
                 floor: Optional[float] = None) -> None:
    """Mean ± std of each row's paired differences, a dot per pair, the zero line and, given
    ``floor`` (the std of the differences between runs made twice, same variant and seed on two
    machines: :func:`~.paired.machine_diffs`), a band of ± ``floor`` around zero: what a change
    that does nothing does to a run."""
    if floor is not None:
        ax.axhspan(-floor, floor, color='tab:blue', alpha=0.15, linewidth=0,
                   label=f'± {floor:.2f}: std of a run made twice\n(two machines, same seed)')
        ax.legend(fontsize=7)
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
