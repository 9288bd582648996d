# Copyright (c) mmamlris contributors. All rights reserved.
"""Scores per kind of expression (mmamlris.evaluation.breakdown)."""
import pytest

from mmamlris.evaluation import breakdown_table, scores_by_group, synref_groups
from mmamlris.utils import InputValueError


def test_synref_groups_name_the_kind_and_the_attributes():
    assert synref_groups('the small red ball') == ['attr', 'names size', 'names colour',
                                                   'names shape']
    assert synref_groups('the leftmost green one') == ['superlative', 'names colour',
                                                       'names no shape']
    # the landmark's shape is not the referent's
    assert synref_groups('the thing left of the blue star') == ['relation', 'names no shape']


def test_each_record_counts_in_every_group_it_names():
    records = [dict(i=1, u=2, g=('a', 'b')), dict(i=3, u=4, g=('b', )), dict(i=0, u=5, g=())]
    out = scores_by_group(records, lambda r: r['g'])
    assert set(out) == {'a', 'b'}
    assert (out['a']['n'], out['a']['mIoU']) == (1, 50.0)
    assert out['b']['n'] == 2 and out['b']['mIoU'] == pytest.approx(62.5)
    assert out['b']['oIoU'] == pytest.approx(100 * 4 / 6)


def test_table_pairs_each_run_with_the_first_on_the_same_expressions():
    def run(ious):
        return [dict(split='val', sent_id=k, i=int(100 * v), u=100, g=g)
                for k, (v, g) in enumerate(zip(ious, ('x', 'x', 'y')))]

    runs = {'base': run([0.5, 0.7, 0.9]), 'aml': run([0.4, 0.6, 0.9])}
    lines = breakdown_table(runs, lambda r: [r['g']], groups=('y', 'x', 'z')).splitlines()
    assert lines[0] == '| mIoU | all (3) | y (1) | x (2) |'  # the given order; z: no record
    assert lines[2] == '| base | 70.00 | 90.00 | 60.00 |'
    assert lines[3] == '| aml | 63.33 | 90.00 | 50.00 |'
    assert lines[4] == '| Δ aml − base | -6.67 | +0.00 | -10.00 |'
    runs['aml'] = runs['aml'][:2]
    with pytest.raises(InputValueError, match='aml and base were not scored on the same'):
        breakdown_table(runs, lambda r: [r['g']])
