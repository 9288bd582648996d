# Copyright (c) mmamlris contributors. All rights reserved.
"""tools/analysis_tools/benchmark_throughput.py on a tiny SynRef with a tiny model.

Only the format of the report is checked, never the speed.
"""
import re

import pytest
import torch
from mmengine.config import Config

from mmamlris.registry import DATASETS
from mmamlris.testing.tiny_configs import make_tiny_synref, write_tiny_config
from mmamlris.utils import InputError
from tools.analysis_tools import benchmark_throughput as throughput


FLOAT = r'(\d+(?:\.\d+)?(?:e[-+]?\d+)?)'
COMMON = ['--num-samples', '6', '--train-iters', '2', '--warmup', '1', '--threads', '1',
          '--device', 'cpu']
STAGES = ('get_data_info', 'LoadRISImageFromFile', 'LoadReferringMask', 'Resize',
          'SampleExpression', 'TokenizeExpression', 'PackRISInputs')


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """``--threads`` sets torch's process-wide thread count: restore it for other tests."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    root = tmp_path_factory.mktemp('throughput')
    data_root = make_tiny_synref(str(root / 'synref'), num_images=12, img_size=64)
    return write_tiny_config('amlris/amlris_lite_minilm_synref-160x160.py',
                             str(root / 'aml.py'), data_root)


def test_prints_the_three_throughputs_and_the_pipeline_stages(tiny_config, capsys):
    returned = throughput.main([tiny_config, *COMMON])
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert last == returned
    match = re.fullmatch(rf'train_it_per_s={FLOAT} eval_expr_per_s={FLOAT} '
                         rf'data_samples_per_s_per_worker={FLOAT}', last)
    assert match, last
    assert all(float(v) > 0 for v in match.groups())
    for row in ('training iterations / s', 'evaluation expressions / s',
                'data loading samples / s per worker'):
        assert re.search(rf'^\| {re.escape(row)} +\| {FLOAT} +\|', out, re.M), row
    # every transform of the SynRef training pipeline gets a row, in pipeline order
    rows = re.findall(r'^\| (\w+) +\| \d+\.\d\d +\| (\d\.\d{3}) \|$', out, re.M)
    assert tuple(name for name, _ in rows) == STAGES
    assert abs(sum(float(share) for _, share in rows) - 1) < 0.01
    # one warm-up batch of 2 is not counted, then up to --num-samples expressions
    num_val = len(DATASETS.build(Config.fromfile(tiny_config).val_dataloader.dataset))
    assert f'{min(6, num_val - 2)} val expressions, batch 2, 0 workers' in out
    assert 'load average' in out


def test_missing_data_names_the_command_that_generates_it(tmp_path, capsys):
    config = write_tiny_config('amlris/amlris_lite_minilm_synref-160x160.py',
                               str(tmp_path / 'aml.py'), str(tmp_path / 'absent'))
    with pytest.raises(InputError, match='tools/dataset_converters/synref.py'):
        throughput.main([config, *COMMON])
