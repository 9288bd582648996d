# Copyright (c) mmamlris contributors. All rights reserved.
"""tools/analysis_tools/synref_breakdown.py: SynRef scores per kind of expression."""
import json

import pytest

from mmamlris.datasets.refer_io import load_refs
from mmamlris.datasets.synref import expression_form
from mmamlris.testing.tiny_configs import make_tiny_synref
from mmamlris.utils import InputValueError
from tools.analysis_tools import synref_breakdown


def test_breakdown_of_two_runs_on_a_tiny_synref(tmp_path):
    data = make_tiny_synref(str(tmp_path / 'synref'), num_images=30)
    sentences = [(s['sent_id'], s['sent']) for r in load_refs(f'{data}/refs(unc).p')
                 if r['split'] == 'val' for s in r['sentences']]

    def names_shape(sent):
        return 'shape' in expression_form(sent)[1]

    runs = []  # the aml run misses every expression that names a shape
    for name, hit in (('base', lambda sent: 1), ('aml', lambda sent: int(not names_shape(sent)))):
        (tmp_path / name).mkdir()
        path = tmp_path / name / 'per_expression.json'
        path.write_text(json.dumps([dict(split='val', sent_id=k, ref_id=0, i=hit(s), u=1)
                                    for k, s in sentences]))
        runs.append(str(path))
    lines = synref_breakdown.main([data, *runs]).splitlines()
    shaped = sum(names_shape(s) for _, s in sentences)
    head = lines[0].split(' | ')
    assert head[1] == f'all ({len(sentences)})' and 0 < shaped < len(sentences)
    assert f'names shape ({shaped})' in head
    assert f'names no shape ({len(sentences) - shaped})' in head
    cells = dict(zip(head[1:], lines[-1].strip('| ').split(' | ')[1:]))
    assert lines[-1].startswith('| Δ aml − base |')
    assert cells['names shape ({})'.format(shaped)] == '-100.00'
    assert cells['names no shape ({})'.format(len(sentences) - shaped)] == '+0.00'
    # bad input names the file
    with pytest.raises(InputValueError, match='holds no records of the split'):
        synref_breakdown.main([data, runs[0], '--split', 'testA'])
    with pytest.raises(InputValueError, match=r'nothere\.json does not exist'):
        synref_breakdown.main([data, str(tmp_path / 'nothere.json')])
    (tmp_path / 'base' / 'per_expression.json').write_text(json.dumps(
        [dict(split='val', sent_id=10 ** 6, i=1, u=1)]))
    with pytest.raises(InputValueError, match='sent_ids are not in'):
        synref_breakdown.main([data, runs[0]])
