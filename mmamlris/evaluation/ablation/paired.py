# Copyright (c) mmamlris contributors. All rights reserved.
"""Paired differences between two rows of the ablation, and what they can detect.

Each run is paired with the reference run of its own seed and machine
(:func:`~mmamlris.evaluation.ablation.records.pair_key`), so the seed's luck and the
machine's kernels cancel in the difference. The minimal detectable effect
``MDE = 2 · std(Δ) / √n`` is about the smallest mean difference that stands out of the seed
noise (two standard errors).
"""
import math
import statistics
from typing import Dict, List, Optional

from .records import pair_key

__all__ = ['TARGET_MDE', 'paired_diffs', 'machine_diffs', 'mde', 'seeds_for_mde']

# The effect the instrument is built to see (val mIoU points): the report's 'seeds for MDE'.
TARGET_MDE = 1.0


def paired_diffs(runs: List[dict], baseline: List[dict], key: str) -> List[float]:
    """``run - baseline`` of ``key`` for every (seed, machine) both have."""
    base = {pair_key(r): r[key] for r in baseline if key in r}
    return [r[key] - base[pair_key(r)] for r in runs if key in r and pair_key(r) in base]


def machine_diffs(runs: List[dict], key: str) -> List[float]:
    """Differences of ``key`` between runs of one seed on different machines: for every seed
    run on several, each machine's value minus that of the machine whose name sorts first.

    Config, seed and data are the same in such a pair; only the CPU's floating-point rounding
    differs. Their spread is what a change that does nothing does to a run, the floor under
    any paired spread. Runs without a ``machine`` are left out."""
    by_seed: Dict[int, Dict[str, float]] = {}
    for r in runs:
        if key in r and r.get('machine'):
            by_seed.setdefault(r['seed'], {})[r['machine']] = r[key]
    diffs = []
    for values in by_seed.values():
        first, *others = sorted(values)
        diffs += [values[m] - values[first] for m in others]
    return diffs


def mde(diffs: List[float]) -> Optional[float]:
    """Minimal detectable effect of a paired comparison, ``2 * std(diffs) / sqrt(n)``: about
    the smallest mean difference that stands out of the seed noise. None below three
    differences, as for :func:`seeds_for_mde`: two give a spread of one degree of freedom,
    and an MDE from it can look sharp by chance (two close pairs) when it is not."""
    if len(diffs) < 3:
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
