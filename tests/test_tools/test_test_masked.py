# Copyright (c) mmamlris contributors. All rights reserved.
"""tools/analysis_tools/test_masked.py: one checkpoint scored clean and masked as in training."""
import json

import pytest

from mmamlris.testing.tiny_configs import (make_tiny_synref, run_repo_tool, write_tiny_config,
                                           write_untrained_checkpoint)

ORACLE = dict(_delete_=True, type='OracleScorer', hide='distractors', block_size=32,
              vis_channels=64, text_channels=32)


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    """A tiny SynRef, the AML lite config with the distractors oracle, and an untrained
    checkpoint of its model."""
    tmp = tmp_path_factory.mktemp('masked')
    data_root = make_tiny_synref(str(tmp / 'synref'), num_images=8)
    config = write_tiny_config('amlris/amlris_lite_minilm_synref-160x160.py',
                               str(tmp / 'cfg.py'), data_root,
                               extra={'model.aml.scorer': ORACLE,
                                      'model.aml.filter.count': 0.5})
    checkpoint = write_untrained_checkpoint(config, str(tmp / 'model.pth'))
    return tmp, config, checkpoint


def test_clean_and_masked_scores_of_one_checkpoint(tiny_run):
    """The distractors oracle reads every object of the test images (added to the test
    pipeline by the tool); the masked images give other scores than the clean ones."""
    tmp, config, checkpoint = tiny_run
    out = tmp / 'masked.json'
    log = run_repo_tool('tools/analysis_tools/test_masked.py', config, checkpoint, '--splits',
                        'val', '--out', str(out), '--work-dir', str(tmp / 'work'))
    results = json.loads(out.read_text())
    assert results['splits'] == ['val']
    clean, masked = results['clean'], results['masked']
    assert set(clean) == set(masked) and 'mIoU' in clean and 'oIoU' in clean
    assert (clean['mIoU'], clean['oIoU']) != (masked['mIoU'], masked['oIoU'])
    assert '| mIoU |' in log and 'masked as in training' in log


def test_a_config_without_aml_is_refused(tiny_run, tmp_path):
    from tools.analysis_tools import test_masked
    tmp, config, checkpoint = tiny_run
    baseline = write_tiny_config('lite/lite_minilm_synref-160x160.py', str(tmp_path / 'b.py'),
                                 str(tmp / 'synref'))
    with pytest.raises(SystemExit, match='the model has no aml'):
        test_masked.main([baseline, checkpoint])
    with pytest.raises(SystemExit, match='--data-root .*: no such directory'):
        test_masked.main([config, checkpoint, '--data-root', str(tmp / 'none')])
