# Copyright (c) mmamlris contributors. All rights reserved.
from .breakdown import (SYNREF_GROUPS, breakdown_table, check_sent_ids, is_synref,
                        scores_by_group, synref_breakdown, synref_grouper, synref_groups,
                        synref_sentences)
from .iou import (gres_scores, intersect_and_union, mask_areas, mask_iou, record_iou,
                  resize_labels, ris_scores)
from .metrics import GRESMetric, RISMetric
from .robustness import (CORRUPTION_GROUPS, OCCLUSION_FRACTIONS, degradation_transform,
                         expand_corruptions, robustness_summary, robustness_table,
                         with_data_root, with_degradation, with_objects,
                         with_splits)

__all__ = [
    'SYNREF_GROUPS', 'breakdown_table', 'check_sent_ids', 'is_synref', 'scores_by_group',
    'synref_breakdown', 'synref_grouper', 'synref_groups', 'synref_sentences',
    'gres_scores', 'intersect_and_union', 'mask_areas', 'mask_iou', 'record_iou',
    'resize_labels', 'ris_scores',
    'GRESMetric', 'RISMetric', 'CORRUPTION_GROUPS', 'OCCLUSION_FRACTIONS',
    'degradation_transform', 'expand_corruptions', 'robustness_summary', 'robustness_table',
    'with_data_root', 'with_degradation', 'with_objects', 'with_splits'
]
