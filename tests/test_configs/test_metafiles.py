# Copyright (c) mmamlris contributors. All rights reserved.
"""The model-zoo metafiles name real configs, and say where a number was not measured."""
import glob
import os.path as osp

import pytest
import yaml

from mmamlris.testing.tiny_configs import REPO_ROOT

METAFILES = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*', 'metafile.yaml')))


def test_every_algorithm_folder_has_a_metafile_and_model_index_imports_it():
    folders = {osp.basename(osp.dirname(p)) for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '*', '*.py')) if '_base_' not in p}
    assert {osp.basename(osp.dirname(p)) for p in METAFILES} == folders
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    assert sorted(index['Import']) == sorted(osp.relpath(p, REPO_ROOT) for p in METAFILES)


@pytest.mark.parametrize('path', METAFILES, ids=lambda p: osp.basename(osp.dirname(p)))
def test_every_config_of_the_folder_has_a_row(path):
    with open(path) as f:
        listed = {m['Config'] for m in yaml.safe_load(f)['Models']}
    configs = {osp.relpath(p, REPO_ROOT)
               for p in glob.glob(osp.join(osp.dirname(path), '*.py'))}
    assert configs <= listed, f'configs without a metafile row: {sorted(configs - listed)}'


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
