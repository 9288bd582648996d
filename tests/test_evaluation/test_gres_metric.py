# Copyright (c) mmamlris contributors. All rights reserved.
"""GRESMetric against hand-computed values for each of ReLA's four cases."""
import numpy as np
import pytest
import torch

from mmamlris.evaluation import GRESMetric, gres_scores


def sample(pred, gt, sent_id, split='val', no_target=None):
    gt = torch.as_tensor(np.asarray(gt, dtype=np.uint8))[None]
    out = dict(pred_sem_seg=dict(data=torch.as_tensor(np.asarray(pred, dtype=np.uint8))[None]),
               gt_sem_seg=dict(data=gt), ref_id=sent_id, sent_id=sent_id, split=split,
               ori_shape=tuple(gt.shape[1:]), img_shape=tuple(gt.shape[1:]))
    if no_target is not None:
        out['no_target'] = no_target
    return out


E = np.zeros((2, 4), dtype=np.uint8)  # empty mask
A = np.array([[1, 1, 0, 0], [1, 1, 0, 0]])  # 4 pixels
B = np.array([[0, 1, 1, 0], [0, 1, 1, 0]])  # 4 pixels, 2 shared with A


def four_cases(split='val'):
    return [
        sample(E, E, 1, split),  # no target, predicted empty: IoU 1, nothing in ΣI / ΣU
        sample(A, E, 2, split),  # no target, predicted 4 pixels: IoU 0, ΣU += 4
        sample(E, A, 3, split),  # target of 4 pixels, predicted empty: IoU 0, ΣU += 4
        sample(B, A, 4, split),  # I = 2, U = 6
    ]


def test_the_four_cases_by_hand():
    metric = GRESMetric()
    metric.process({}, four_cases())
    out = metric.compute_metrics(metric.results)
    assert out['gIoU'] == pytest.approx(100 * (1 + 0 + 0 + 2 / 6) / 4)
    assert out['cIoU'] == pytest.approx(100 * 2 / (4 + 4 + 6))
    assert out['N-acc'] == pytest.approx(50.0)  # 1 of the 2 no-target expressions
    assert out['T-acc'] == pytest.approx(50.0)  # 1 of the 2 target expressions
    assert out['prec@0.7'] == out['prec@0.8'] == out['prec@0.9'] == 0.0


def test_prec_counts_target_expressions_only():
    records = [dict(i=9, u=10, p=9, target=True), dict(i=0, u=0, p=0, target=False),
               dict(i=7, u=10, p=7, target=True)]
    out = gres_scores(records)
    assert out['prec@0.7'] == pytest.approx(100.0)  # 0.9 and exactly 0.7
    assert out['prec@0.8'] == pytest.approx(50.0)
    assert out['N-acc'] == 100.0 and out['T-acc'] == 100.0


def test_no_target_flag_wins_over_the_gt_area():
    metric = GRESMetric()
    metric.process({}, [sample(E, A, 1, no_target=True)])  # flag: no target
    assert metric.results[0]['target'] is False


def test_per_split_and_gathered_records_give_the_same_numbers():
    one = GRESMetric()
    one.process({}, four_cases('val') + four_cases('testA')[:2])
    out = one.compute_metrics(one.results)
    assert out['val_gIoU'] == pytest.approx(100 * (1 + 2 / 6) / 4)
    assert out['testA_N-acc'] == pytest.approx(50.0) and out['testA_T-acc'] == 0.0
    # two "ranks": the records of each, concatenated, as mmengine's collect_results does
    rank0, rank1 = GRESMetric(), GRESMetric()
    samples = four_cases('val') + four_cases('testA')[:2]
    rank0.process({}, samples[:3])
    rank1.process({}, samples[3:])
    assert rank0.compute_metrics(rank0.results + rank1.results) == pytest.approx(out)
