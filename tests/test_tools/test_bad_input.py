# Copyright (c) mmamlris contributors. All rights reserved.
"""What users see from tools/train.py and tools/test.py when the input is wrong: one clear
line naming the file or field, no traceback, and nothing already written lost."""
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

from mmamlris.testing.tiny_configs import REPO_ROOT, make_tiny_synref, write_tiny_config


def run(*args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env, text=True,
                          capture_output=True, timeout=600)


def assert_clean_error(proc, *fragments):
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert '\nError: ' in '\n' + proc.stderr, proc.stderr[-3000:]
    message = proc.stderr[proc.stderr.rindex('Error: '):]  # the tool's last words
    for fragment in fragments:
        assert fragment in message, (fragment, proc.stderr[-3000:])
    return message


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('bad_input')
    data_root = make_tiny_synref(str(root / 'synref'), num_images=8)
    return dict(root=root, data_root=data_root)


def tiny_cfg(setup, name, data_root=None, **extra):
    return write_tiny_config('amlris/amlris_lite_minilm_synref-160x160.py',
                             str(setup['root'] / f'{name}.py'),
                             data_root or setup['data_root'], max_iters=2,
                             extra=dict({'custom_hooks': []}, **extra))


@pytest.mark.parametrize('workers', [0, 1], ids=['main-process', 'worker'])
def test_truncated_image_during_training(setup, workers):
    data_root = str(setup['root'] / f'truncated_{workers}')
    shutil.copytree(setup['data_root'], data_root)
    for image in glob.glob(osp.join(data_root, 'images', '*.jpg')):
        with open(image, 'rb') as f:
            data = f.read()
        with open(image, 'wb') as f:
            f.write(data[:len(data) // 2])
    cfg = tiny_cfg(setup, f'truncated_{workers}', data_root, **{
        'train_dataloader.num_workers': workers,
        'train_dataloader.persistent_workers': workers > 0})
    proc = run('tools/train.py', cfg, '--work-dir', str(setup['root'] / f'w_trunc_{workers}'))
    last = assert_clean_error(proc, 'cannot be decoded: the JPEG is truncated')
    assert 'images/synref_' in last and 'Re-download or re-extract' in last
    assert 'DataLoader worker' not in last


def test_missing_data_root(setup):
    cfg = tiny_cfg(setup, 'no_root', str(setup['root'] / 'nowhere'))
    proc = run('tools/train.py', cfg, '--work-dir', str(setup['root'] / 'w_root'))
    assert_clean_error(proc, 'nowhere', 'tools/dataset_converters/synref.py')


def test_missing_pretrained_backbone(setup):
    cfg = tiny_cfg(setup, 'no_pretrained', **{
        'model.backbone.init_cfg': dict(type='Pretrained', checkpoint='pretrained/nope.pth')})
    proc = run('tools/train.py', cfg, '--work-dir', str(setup['root'] / 'w_pre'))
    last = assert_clean_error(proc, "model.backbone.init_cfg.checkpoint = 'pretrained/nope.pth'")
    assert '--cfg-options model.backbone.init_cfg=None' in last


def test_missing_text_encoder_directory(setup):
    cfg = tiny_cfg(setup, 'no_text', **{
        'model.text_encoder': dict(type='HFTextEncoder', pretrained='/no/such/bert')})
    proc = run('tools/train.py', cfg, '--work-dir', str(setup['root'] / 'w_text'))
    assert_clean_error(proc, "Text model directory '/no/such/bert' does not exist")


def test_images_smaller_than_one_aml_block(setup):
    scale = (24, 24)
    cfg = tiny_cfg(setup, 'small', **{
        'train_dataloader.dataset.pipeline.2.scale': scale})
    proc = run('tools/train.py', cfg, '--work-dir', str(setup['root'] / 'w_small'))
    assert_clean_error(proc, '24x24, smaller than one AML block (32x32)',
                       'model.aml.filter.block_size')


def test_test_tool_error_leaves_the_work_dir_alone(setup):
    """A failing evaluation (a missing image) must not remove or rewrite checkpoints."""
    cfg = tiny_cfg(setup, 'good')
    work_dir = str(setup['root'] / 'w_good')
    proc = run('tools/train.py', cfg, '--work-dir', work_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    before = {p: os.stat(p).st_mtime_ns for p in glob.glob(osp.join(work_dir, '*.pth'))}

    data_root = str(setup['root'] / 'one_missing')
    shutil.copytree(setup['data_root'], data_root)
    victim = sorted(glob.glob(osp.join(data_root, 'images', '*.jpg')))[0]
    os.remove(victim)
    bad = tiny_cfg(setup, 'one_missing', data_root)
    proc = run('tools/test.py', bad, checkpoint, '--work-dir', str(setup['root'] / 'w_test'))
    assert_clean_error(proc, f'Image {osp.relpath(victim, REPO_ROOT)}'
                       if not osp.isabs(victim) else f'Image {victim}', 'does not exist')
    assert {p: os.stat(p).st_mtime_ns for p in glob.glob(osp.join(work_dir, '*.pth'))} == before
