# Copyright (c) mmamlris contributors. All rights reserved.
"""tools/train.py and tools/test.py end to end on a tiny SynRef, as a user runs them."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmamlris.testing.tiny_configs import (REPO_ROOT, make_tiny_synref, run_repo_tool,
                                           write_tiny_config)


run = run_repo_tool


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp('tools')
    data_root = make_tiny_synref(str(root / 'synref'), num_images=10)
    cfg = write_tiny_config('amlris/amlris_lite_minilm_synref-160x160.py',
                            str(root / 'aml.py'), data_root, max_iters=2,
                            extra={'custom_hooks': [dict(type='AMLVisualizationHook',
                                                         interval=1, num_samples=1)]})
    work_dir = str(root / 'work')
    log = run('tools/train.py', cfg, '--work-dir', work_dir)
    return dict(root=root, cfg=cfg, work_dir=work_dir, log=log)


def test_train_logs_aml_statistics_validates_and_saves(trained):
    log = trained['log']
    assert 'aml_mask_ratio' in log and 'aml_weak_ratio' in log
    assert 'oIoU' in log and 'eval_resolution=resized' in log
    assert osp.isfile(osp.join(trained['work_dir'], 'iter_2.pth'))
    # the AML hook drew its panels during training
    assert glob.glob(osp.join(trained['work_dir'], '*', 'vis_data', 'vis_image', 'aml_*.png'))


def test_test_tool_reports_every_split_and_writes_outputs(trained):
    show_dir = str(trained['root'] / 'show')
    out = str(trained['root'] / 'per_expression.json')
    log = run('tools/test.py', trained['cfg'], osp.join(trained['work_dir'], 'iter_2.pth'),
              '--work-dir', str(trained['root'] / 'test'), '--show-dir', show_dir, '--out', out)
    for split in ('val', 'testA', 'testB'):
        assert f'{split}_oIoU' in log
    with open(out) as f:
        records = json.load(f)
    assert {r['split'] for r in records} == {'val', 'testA', 'testB'}
    drawn = glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True)
    assert len(drawn) == len(records)  # one picture per expression


def test_missing_config_is_a_clear_error():
    proc = subprocess.run([sys.executable, 'tools/train.py', 'configs/no_such.py'],
                          cwd=REPO_ROOT, text=True, capture_output=True)
    assert proc.returncode != 0
    assert "Config file 'configs/no_such.py' does not exist" in proc.stderr


def test_image_demo_runs_with_the_trained_checkpoint(trained):
    image = sorted(glob.glob(str(trained['root'] / 'synref' / 'images' / '*.jpg')))[0]
    out_file = str(trained['root'] / 'demo.png')
    log = run('demo/image_demo.py', image, 'the small red circle', trained['cfg'],
              osp.join(trained['work_dir'], 'iter_2.pth'), '--out-file', out_file,
              '--device', 'cpu')
    assert 'Wrote' in log and osp.getsize(out_file) > 0


def test_nan_losses_stop_training_and_keep_the_last_good_checkpoint(trained):
    """Resume the trained run with a NaN loss weight: 3 skipped updates, then a clear stop."""
    work_dir = str(trained['root'] / 'nan_run')
    os.makedirs(work_dir)
    good = osp.join(trained['work_dir'], 'iter_2.pth')
    with open(good, 'rb') as f:
        good_bytes = f.read()
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', trained['cfg'], '--work-dir', work_dir, '--resume',
         good, '--cfg-options', 'train_cfg.max_iters=8', 'default_hooks.checkpoint.interval=1',
         'optim_wrapper.max_consecutive_skips=3',
         'model.decode_head.loss_decode.0.loss_weight=nan'],
        cwd=REPO_ROOT, env=dict(os.environ, OMP_NUM_THREADS='1'), text=True,
        capture_output=True, timeout=600)
    assert proc.returncode != 0
    assert 'the update is skipped (3 in a row' in proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('Training stopped: The loss was NaN/Inf for 3 iterations in a row')
    assert 'Traceback' not in proc.stderr
    # the checkpoint resumed from is untouched; checkpoints written during the skipped
    # iterations hold the good weights, unchanged
    with open(good, 'rb') as f:
        assert f.read() == good_bytes
    import torch
    reference = torch.load(good, map_location='cpu', weights_only=False)['state_dict']
    for name in ('iter_3.pth', 'iter_4.pth'):
        state = torch.load(osp.join(work_dir, name), map_location='cpu',
                           weights_only=False)['state_dict']
        for key, value in reference.items():
            assert torch.equal(state[key], value), (name, key)
    assert not osp.exists(osp.join(work_dir, 'iter_5.pth'))


def test_the_toy_detris_trains_with_aml_and_tests_at_the_original_size(tmp_path):
    """DETRIS's whole path through the tools: letterbox, CLIP tokens, soft GT, AML on 14-px
    cells with 28-px blocks, evaluation warped back to the original image size."""
    data_root = make_tiny_synref(str(tmp_path / 'synref'), num_images=6)
    cfg = write_tiny_config('amlris/amlris_detris-toy_synref-112x112.py',
                            str(tmp_path / 'detris.py'), data_root, max_iters=2,
                            keep_model=True)
    work_dir = str(tmp_path / 'work')
    log = run('tools/train.py', cfg, '--work-dir', work_dir)
    assert 'aml_mask_ratio' in log and 'decode.loss_bce' in log
    out = run('tools/test.py', cfg, osp.join(work_dir, 'iter_2.pth'), '--work-dir', work_dir)
    assert 'testB_mIoU' in out  # every split, scored at the original size
