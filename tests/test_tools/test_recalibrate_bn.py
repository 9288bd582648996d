# Copyright (c) mmamlris contributors. All rights reserved.
"""tools/analysis_tools/recalibrate_bn.py: the same weights, BatchNorm statistics anew."""
import pytest
import torch

from mmamlris.testing.tiny_configs import (make_tiny_synref, write_tiny_config,
                                           write_untrained_checkpoint)
from tools.analysis_tools import recalibrate_bn


def test_only_the_batch_norm_statistics_change(tmp_path):
    data_root = make_tiny_synref(str(tmp_path / 'synref'), num_images=6)
    config = write_tiny_config('amlris/amlris_lite_minilm_synref-160x160.py',
                               str(tmp_path / 'cfg.py'), data_root)
    source = write_untrained_checkpoint(config, str(tmp_path / 'model.pth'))
    out = tmp_path / 'precise' / 'model_bn.pth'
    recalibrate_bn.main([config, source, '--out', str(out), '--num-batches', '3',
                         '--work-dir', str(tmp_path / 'work')])
    before = torch.load(source, map_location='cpu')['state_dict']
    written = torch.load(str(out), map_location='cpu', weights_only=False)
    after = written['state_dict']
    assert set(after) == set(before)
    stats = {k for k in before if k.endswith(('running_mean', 'running_var'))}
    assert stats and all(not torch.equal(before[k], after[k]) for k in stats)
    assert all(torch.equal(before[k], after[k]) for k in before
               if k not in stats and not k.endswith('num_batches_tracked'))
    assert all(int(after[k]) == 3 for k in after if k.endswith('num_batches_tracked'))
    assert written['meta']['precise_bn']['batches'] == 3
    assert written['meta']['precise_bn']['batch_size'] == 2


def test_bad_calls_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        recalibrate_bn.parse_args(['c.py', 'm.pth', '--out', 'm.pth'])
    with pytest.raises(SystemExit):
        recalibrate_bn.parse_args(['c.py', 'm.pth', '--out', 'o.pth', '--num-batches', '0'])
    with pytest.raises(SystemExit, match='--data-root .*: no such directory'):
        recalibrate_bn.main(['c.py', 'm.pth', '--out', 'o.pth', '--data-root',
                             str(tmp_path / 'none')])
