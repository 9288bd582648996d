# Copyright (c) mmamlris contributors. All rights reserved.
"""The SynRef ablation's records, paired statistics, report and chart; the runs themselves
are made by ``tools/analysis_tools/ablation_synref.py``."""
from .chart import chart, panel_rows, tick_label
from .paired import TARGET_MDE, machine_diffs, mde, paired_diffs, seeds_for_mde
from .records import (check_machine, load_records, machine_name, pair_key, save_records,
                      short_machine)
from .tables import (BY_CORRUPTION, GRES_SCORES, RIS_SCORES, ROBUST_KEYS, SPLITS, data_note,
                     group_table, paired_cell, pairing_note, report, robustness_table,
                     rounding_note, score_names, seed_table, table)
from .variants import (EQUAL_SHARE, LABELS, OBJECT_VARIANTS, RELEASED_STEP, VARIANTS,
                       apply_instrument, variant_cfg)

__all__ = [
    'chart', 'panel_rows', 'tick_label', 'TARGET_MDE', 'machine_diffs', 'mde', 'paired_diffs',
    'seeds_for_mde',
    'check_machine', 'load_records', 'machine_name', 'pair_key', 'save_records',
    'short_machine', 'BY_CORRUPTION', 'GRES_SCORES', 'RIS_SCORES', 'ROBUST_KEYS', 'SPLITS',
    'data_note',
    'group_table',
    'paired_cell', 'pairing_note', 'report', 'robustness_table', 'rounding_note', 'score_names',
    'seed_table',
    'table', 'EQUAL_SHARE', 'LABELS', 'OBJECT_VARIANTS', 'RELEASED_STEP', 'VARIANTS',
    'apply_instrument', 'variant_cfg'
]
