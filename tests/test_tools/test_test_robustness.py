# Copyright (c) mmamlris contributors. All rights reserved.
"""tools/analysis_tools/test_robustness.py: clean and corrupted evaluations, resumable."""
import json

import pytest

from mmamlris.testing.tiny_configs import (make_tiny_synref, run_repo_tool, write_tiny_config,
                                           write_untrained_checkpoint)


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    """A tiny SynRef, a tiny lite config on it, and a checkpoint of its (untrained) model."""
    tmp = tmp_path_factory.mktemp('robustness')
    data_root = make_tiny_synref(str(tmp / 'synref'), num_images=8)
    from mmamlris.datasets.synref import generate_synref
    generate_synref(str(tmp / 'synref_overlap'), num_images=8, img_size=64, seed=0,
                    overlap=0.6)
    config = write_tiny_config('lite/lite_minilm_synref-160x160.py', str(tmp / 'cfg.py'),
                               data_root)
    checkpoint = write_untrained_checkpoint(config, str(tmp / 'model.pth'))
    return tmp, config, checkpoint


def test_clean_and_corrupted_scores_are_written_and_resumed(tiny_run):
    tmp, config, checkpoint = tiny_run
    out = tmp / 'robustness.json'
    args = ['tools/analysis_tools/test_robustness.py', config, checkpoint, '--out', str(out),
            '--corruptions', 'fog', 'occlusion', '--severities', '1', '5',
            '--overlap-data-root', str(tmp / 'synref_overlap'), '--work-dir', str(tmp / 'work'),
            '--cfg-options', 'test_dataloader.batch_size=4']
    log = run_repo_tool(*args)
    results = json.loads(out.read_text())
    assert set(results['corrupted']) == {'fog', 'occlusion'}
    assert set(results['corrupted']['fog']) == {'1', '5'}
    assert 'mIoU' in results['clean'] and 'val_mIoU' in results['clean']
    assert 'val_mIoU' in results['overlap']  # the same splits, from the overlap root
    assert results['overlap'] != results['clean']
    # the degraded runs saw other images: their per-split scores are not all the clean ones
    assert any(results['corrupted']['fog'][s]['mIoU'] != results['clean']['mIoU']
               or results['corrupted']['fog'][s]['oIoU'] != results['clean']['oIoU']
               for s in ('1', '5'))
    assert '| fog |' in log and 'mPC' in log and 'occlusion:' in log
    assert 'overlapping objects (' in log
    assert log.count('robustness: fog, severity') == 2
    # a second call reuses every evaluation
    again = run_repo_tool(*args)
    assert 'robustness: ' not in again and '| fog |' in again
    # another checkpoint with the same --out is refused rather than mixed in (before any
    # runner is built: in this process)
    from tools.analysis_tools import test_robustness
    other = tmp / 'other.pth'
    other.write_bytes(open(checkpoint, 'rb').read())
    args[2] = str(other)
    before = out.read_bytes()
    with pytest.raises(SystemExit, match='give another --out'):
        test_robustness.main(args[1:])
    assert out.read_bytes() == before


def test_bad_arguments_are_clear_errors(tiny_run):
    from mmamlris.utils import InputValueError
    from tools.analysis_tools import test_robustness
    tmp, config, checkpoint = tiny_run
    base = [config, checkpoint, '--out', str(tmp / 'bad.json')]
    with pytest.raises(InputValueError, match="Unknown corruption 'rain'"):
        test_robustness.main([*base, '--corruptions', 'rain'])
    with pytest.raises(SystemExit, match='--severities must be within 1..5'):
        test_robustness.main([*base, '--severities', '0'])
    with pytest.raises(SystemExit, match='--overlap-data-root .*: no such directory'):
        test_robustness.main([*base, '--overlap-data-root', str(tmp / 'missing')])
    with pytest.raises(SystemExit, match='--data-root .*: no such directory'):
        test_robustness.main([*base, '--data-root', str(tmp / 'missing')])
    with pytest.raises(InputValueError, match="no split 'train'.*'val', 'testA', 'testB'"):
        test_robustness.main([*base, '--splits', 'val', 'train', '--corruptions', 'occlusion'])
    assert not (tmp / 'bad.json').exists()


def test_splits_and_data_root_choose_what_is_evaluated(tiny_run):
    tmp, config, checkpoint = tiny_run
    out = tmp / 'val_only.json'
    run_repo_tool('tools/analysis_tools/test_robustness.py', config, checkpoint, '--out',
                  str(out), '--corruptions', 'occlusion', '--severities', '3', '--splits',
                  'val', '--data-root', str(tmp / 'synref_overlap'), '--work-dir',
                  str(tmp / 'work_val'), '--cfg-options', 'test_dataloader.batch_size=4')
    results = json.loads(out.read_text())
    assert results['setting']['splits'] == ['val']
    assert results['setting']['data_root'] == str(tmp / 'synref_overlap')
    for metrics in (results['clean'], results['corrupted']['occlusion']['3']):
        # one split: no per-split keys (the full test set has val_mIoU, testA_mIoU, ...)
        assert 'mIoU' in metrics
        assert not any(key.startswith(('val_', 'testA_', 'testB_')) for key in metrics)
