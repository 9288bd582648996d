# Copyright (c) mmamlris contributors. All rights reserved.
"""The model-zoo metafiles name real configs, and say where a number was not measured."""
import glob
import os.path as osp

import pytest
import yaml

from mmamlris.testing.tiny_configs import REPO_ROOT

METAFILES = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*', 'metafile.yaml')))


def test_there_are_metafiles():
    assert {osp.basename(osp.dirname(p)) for p in METAFILES} >= {'amlris', 'caris'}


@pytest.mark.parametrize('path', METAFILES, ids=lambda p: osp.basename(osp.dirname(p)))
def test_metafile_rows(path):
    with open(path) as f:
        meta = yaml.safe_load(f)
    collections = {c['Name'] for c in meta['Collections']}
    names = [m['Name'] for m in meta['Models']]
    assert len(names) == len(set(names)), 'duplicate model names'
    for model in meta['Models']:
        assert model['In Collection'] in collections, model['Name']
        assert osp.isfile(osp.join(REPO_ROOT, model['Config'])), model['Config']
        if 'converted' in model.get('Metadata', {}).get('Weights Source', ''):
            # numbers of checkpoints we convert but cannot evaluate are the authors'
            for result in model['Results']:
                assert 'reported by' in result['Dataset'] and 'not measured' in result['Dataset']
