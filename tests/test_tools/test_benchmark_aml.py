# Copyright (c) mmamlris contributors. All rights reserved.
"""tools/analysis_tools/benchmark_aml.py on a tiny model: output format, memory tracking.

Timings are never asserted (shared machines are noisy); only the format of the report and
the memory tracker's arithmetic on allocations of known size.
"""
import re

import pytest
import torch
from mmengine.config import Config

from mmamlris.testing.tiny_configs import write_tiny_config
from mmamlris.utils import InputError, offline_model_cfg
from tools.analysis_tools import benchmark_aml as bench


FLOAT = r'(\d+(?:\.\d+)?(?:e[-+]?\d+)?)'
COMMON = ['--iters', '2', '--warmup', '1', '--batch-size', '2', '--img-size', '64', '64',
          '--threads', '1', '--device', 'cpu']


@pytest.fixture(scope='module')
def tiny_configs(tmp_path_factory):
    """The shipped lite AML config and its baseline, shrunk to the tiny model."""
    root = tmp_path_factory.mktemp('bench_aml')
    data_root = str(root / 'no_data_needed')
    aml = write_tiny_config('amlris/amlris_lite_minilm_synref-160x160.py',
                            str(root / 'aml.py'), data_root)
    base = write_tiny_config('lite/lite_minilm_synref-160x160.py', str(root / 'base.py'),
                             data_root)
    return dict(aml=aml, base=base)


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """``--threads`` sets torch's process-wide thread count: restore it for other tests."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _last_line(capsys):
    out = capsys.readouterr().out
    return out, out.strip().splitlines()[-1]


def test_step_mode_prints_table_and_three_positive_ratios(tiny_configs, capsys):
    returned = bench.main([tiny_configs['aml'], *COMMON])
    out, last = _last_line(capsys)
    assert last == returned
    match = re.fullmatch(rf'time_ratio={FLOAT} memory_ratio={FLOAT} infer_ratio={FLOAT}', last)
    assert match, last
    assert all(float(v) > 0 for v in match.groups())
    assert 'memory method: CPU tensor memory' in out
    assert 'TorchDispatchMode' in out
    assert 'load average' in out and 'threads 1' in out
    for row in ('train step', 'peak memory', 'inference (test_step)'):
        assert re.search(rf'^\| {re.escape(row)}.*\|$', out, re.M), row
    assert 'batch 2 x 64x64' in out


def test_masking_mode_reports_the_shares(tiny_configs, capsys):
    bench.main([tiny_configs['aml'], *COMMON, '--mode', 'masking'])
    out, last = _last_line(capsys)
    match = re.fullmatch(rf'masking_ms={FLOAT} masking_share={FLOAT} stage1_share={FLOAT}',
                         last)
    assert match, last
    masking_ms, masking_share, stage1_share = map(float, match.groups())
    assert masking_ms > 0
    # Parts of one step: each is a fraction of it (timed in the same process, so not noise).
    assert 0 < masking_share < 1 and 0 < stage1_share < 1
    assert 'masking op model.aml (PMME + AFM)' in out
    assert 'no-grad alignment pass' in out
    # the lite head has no visual prompts: stage 1 encodes the text that stage 2 reuses
    assert 'reused by stage 2' in out


def test_flops_mode_counts_stage1_as_the_only_extra_work(tiny_configs, capsys):
    returned = bench.main([tiny_configs['aml'], *COMMON, '--mode', 'flops'])
    out, last = _last_line(capsys)
    assert last == returned
    match = re.fullmatch(
        rf'flop_ratio={FLOAT} infer_flop_ratio={FLOAT} stage1_flop_share={FLOAT}', last)
    assert match, last
    flop_ratio, infer_ratio, share = map(float, match.groups())
    assert flop_ratio > 1  # stage 1 is extra work
    assert infer_ratio == 1.0  # inference never runs AML: the very same operations
    assert 0 < share < 1
    assert flop_ratio == pytest.approx(1 / (1 - share), rel=1e-3)
    for row in ('train step (forward + backward), GFLOPs', '  AML extra (stage 1 + masking op)',
                '  masking op model.aml (PMME + AFM)', 'inference (test_step), GFLOPs'):
        assert re.search(rf'^\| {re.escape(row)}.*\|$', out, re.M), row
    assert 'FlopCounterMode' in out and 'one counted training step' in out


def test_flops_of_one_step_do_not_depend_on_the_batch_size(tiny_configs, capsys):
    """Every counted operation is per sample, so the ratio of batch 1 is that of batch 2."""
    i = COMMON.index('--batch-size')
    args = COMMON[:i] + COMMON[i + 2:]
    ratios = []
    for batch in ('1', '2'):
        last = bench.main([tiny_configs['aml'], *args, '--batch-size', batch, '--mode', 'flops'])
        ratios.append(float(re.match(rf'flop_ratio={FLOAT}', last).group(1)))
    capsys.readouterr()
    assert ratios[0] == pytest.approx(ratios[1], rel=1e-3)


def test_config_without_aml_is_refused_unless_aml_cfg_is_given(tiny_configs, capsys):
    with pytest.raises(InputError, match='has no model.aml'):
        bench.main([tiny_configs['base'], *COMMON])
    aml = Config.fromfile(tiny_configs['aml']).model.aml
    bench.main([tiny_configs['base'], *COMMON, '--aml-cfg', repr(aml.to_dict())])
    _, last = _last_line(capsys)
    assert last.startswith('time_ratio=')
    bench.main([tiny_configs['base'], *COMMON, '--aml-cfg', tiny_configs['aml']])
    _, last = _last_line(capsys)
    assert last.startswith('time_ratio=')
    with pytest.raises(InputError, match='dict literal'):
        bench.main([tiny_configs['base'], *COMMON, '--aml-cfg', 'not a dict('])


def test_baseline_and_aml_models_share_their_weights(tiny_configs):
    cfg = Config.fromfile(tiny_configs['aml'])
    model_cfg, notes = offline_model_cfg(cfg.model)
    assert notes == []  # the tiny text model has no pretrained file to replace
    baseline, aml_model = bench.build_model_pair(model_cfg, torch.device('cpu'), seed=0)
    assert baseline.aml is None and aml_model.aml is not None
    aml_state = aml_model.state_dict()
    for key, value in baseline.state_dict().items():
        assert torch.equal(value, aml_state[key]), key
