# Copyright (c) mmamlris contributors. All rights reserved.
"""``pip install .`` installs ``mmamlris`` and nothing else, with the configs, tools and model
index as package data; ``mim train`` / ``mim test`` then work from outside the checkout."""
import glob
import os
import os.path as osp
import subprocess
import sys
import zipfile

import pytest
import yaml

from mmamlris.testing.tiny_configs import REPO_ROOT, make_tiny_synref

CONFIG = 'amlris_lite_minilm_synref-160x160.py'
# Two iterations of the light config on a toy SynRef, without worker processes.
TOY = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
       'default_hooks.logger.interval=1', 'custom_hooks=[]']
for _loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
    TOY += [f'{_loader}.batch_size=2', f'{_loader}.num_workers=0',
            f'{_loader}.persistent_workers=False']


def run(cmd, cwd, env=None, timeout=600):
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp('wheel')
    run([sys.executable, '-m', 'pip', 'wheel', '.', '--no-deps', '--no-build-isolation',
         '-q', '-w', str(out)], cwd=REPO_ROOT)
    [path] = glob.glob(str(out / 'mmamlris-*.whl'))
    return path


def test_the_wheel_holds_mmamlris_and_its_mim_data_only(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert {n.split('/')[0] for n in names} == {'mmamlris', 'mmamlris-0.1.0.dist-info'}
    for needed in ('mmamlris/.mim/model-index.yml', 'mmamlris/.mim/tools/train.py',
                   'mmamlris/.mim/tools/test.py', f'mmamlris/.mim/configs/amlris/{CONFIG}',
                   'mmamlris/.mim/configs/_base_/default_runtime.py',
                   'mmamlris/apis/cli.py'):
        assert needed in names, needed
    # every metafile the index imports travels with it
    with zipfile.ZipFile(wheel) as zf:
        index = yaml.safe_load(zf.read('mmamlris/.mim/model-index.yml'))
    for metafile in index['Import']:
        assert f'mmamlris/.mim/{metafile}' in names, metafile


def test_mim_trains_and_tests_the_installed_package_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / 'site'
    run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-compile',
         '--target', str(site), wheel], cwd=str(tmp_path))
    work = tmp_path / 'user'  # a user's folder: data/ relative to it, no checkout
    make_tiny_synref(str(work / 'data' / 'synref'), num_images=8)
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS='1')
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    log = run([mim, 'train', 'mmamlris', CONFIG, '--work-dir', str(work / 'run'),
               '--cfg-options', *TOY], cwd=str(work), env=env)
    # mim found the installed package (not the checkout's editable one): its config and tool
    mim_root = str(site / 'mmamlris' / '.mim')
    assert osp.join(mim_root, 'configs', 'amlris', CONFIG) in log
    assert osp.join(mim_root, 'tools', 'train.py') in log
    checkpoint = work / 'run' / 'iter_2.pth'
    assert checkpoint.is_file(), log[-3000:]
    log = run([mim, 'test', 'mmamlris', CONFIG, '--checkpoint', str(checkpoint),
               '--work-dir', str(work / 'test'), '--cfg-options', *TOY], cwd=str(work), env=env)
    for key in ('val_mIoU', 'testA_oIoU', 'testB_prec@0.5'):
        assert key in log, key
