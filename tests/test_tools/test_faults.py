# Copyright (c) mmamlris contributors. All rights reserved.
"""Faults survived: SIGKILL at any moment (also mid-checkpoint), a full disk, bad checkpoints.

``tests/test_tools/helpers/train_with_faults.py`` runs ``tools/train.py`` with faults injected
into the atomic writes (a pause after the data is written and before the rename, or ENOSPC).
"""
import glob
import os
import os.path as osp
import random
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmamlris.testing.tiny_configs import REPO_ROOT, make_tiny_synref, write_tiny_config
from mmamlris.utils import InputError, check_checkpoint_file

HELPER = osp.join(REPO_ROOT, 'tests', 'test_tools', 'helpers', 'train_with_faults.py')
TOTAL, EVERY = 8, 2


def env(**extra):
    out = {k: v for k, v in os.environ.items() if k != 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'}
    out.update(OMP_NUM_THREADS='1', **extra)
    return out


def start(cfg, work_dir, *args, **fault_env):
    return subprocess.Popen([sys.executable, HELPER, cfg, '--work-dir', work_dir, *args],
                            cwd=REPO_ROOT, env=env(**fault_env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finish(proc, timeout=600):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def kill(proc):
    """SIGKILL the run's process group; return what it printed."""
    os.killpg(proc.pid, signal.SIGKILL)
    return proc.communicate(timeout=60)[0]


def checkpoint_iter(work_dir):
    """The iteration of the checkpoint ``--resume`` will find (``last_checkpoint``)."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return int(re.fullmatch(r'iter_(\d+)\.pth', osp.basename(f.read().strip())).group(1))


def resumed_iters(text):
    """Iterations that mmengine's ``resumed epoch: E, iter: N`` lines in ``text`` name."""
    return [int(n) for n in re.findall(r'resumed epoch: \d+, iter: (\d+)', text)]


def wait_for_resume(proc, work_dir, seconds):
    """Wait until ``proc``'s log file (written as it goes) says it resumed, or time is up."""
    deadline = time.time() + seconds
    while proc.poll() is None and time.time() < deadline:
        logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')), key=osp.getmtime)
        if logs and resumed_iters(open(logs[-1]).read()):
            return
        time.sleep(0.05)


def wait_for_write(proc, flag, seconds):
    """Wait until a checkpoint write of ``proc`` creates ``flag``, ``proc`` ends, or time is up."""
    deadline = time.time() + seconds
    while not osp.exists(flag) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)


def state(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def assert_every_checkpoint_intact(work_dir):
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        check_checkpoint_file(path)
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            check_checkpoint_file(f.read().strip())


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('faults')
    data_root = make_tiny_synref(str(root / 'synref'), num_images=10)
    cfg = write_tiny_config(
        'amlris/amlris_lite_minilm_synref-160x160.py', str(root / 'aml.py'), data_root,
        max_iters=TOTAL, extra={
            'custom_hooks': [],
            'model.aml.filter.tau': 0.9, 'model.aml.filter.rho': 0.5,
            'train_cfg.val_interval': TOTAL,
            'default_hooks.checkpoint.interval': EVERY,
            'default_hooks.checkpoint.max_keep_ckpts': 2,
        })
    whole = str(root / 'whole')
    began = time.time()
    code, out = finish(start(cfg, whole))
    assert code == 0, out[-3000:]
    return dict(root=root, cfg=cfg, whole=whole, seconds=time.time() - began)


def test_sigkill_three_times_then_resume_gives_the_uninterrupted_weights(tiny):
    work_dir = str(tiny['root'] / 'killed')
    flag = str(tiny['root'] / 'writing.flag')
    rng = random.Random(0)
    kills, resumes = [], []  # resumes: (iteration of the checkpoint found, iterations logged)
    # 1: in the middle of its second checkpoint write (so that the next run has a checkpoint
    # to resume from); 2: at a random moment between its resume and its first checkpoint
    # write; 3: in the middle of its first checkpoint write
    for moment in ('mid-write', 'random', 'mid-write'):
        if osp.exists(flag):
            os.remove(flag)
        args = ['--resume'] if kills else []
        found = checkpoint_iter(work_dir) if kills else None
        if moment == 'mid-write':
            proc = start(tiny['cfg'], work_dir, *args, FAULT_SLOW_WRITE_FLAG=flag,
                         FAULT_SLOW_WRITE_SECONDS='3',
                         FAULT_SLOW_WRITE_AFTER='0' if kills else '2')
            wait_for_write(proc, flag, 300)
            assert proc.poll() is None, 'the run ended before a checkpoint write'
            assert glob.glob(osp.join(work_dir, '*.tmp-*')), 'no write in progress'
        else:
            proc = start(tiny['cfg'], work_dir, *args, FAULT_SLOW_WRITE_FLAG=flag,
                         FAULT_SLOW_WRITE_SECONDS='0')
            wait_for_resume(proc, work_dir, 300)
            # a random moment, but no later than this run's first checkpoint write, so that
            # the third run still has a write to be killed in
            wait_for_write(proc, flag, rng.uniform(0.0, 0.5) * tiny['seconds'])
            if proc.poll() is not None:
                pytest.fail('the run ended before the random kill: ' + finish(proc)[1][-2000:])
        out = kill(proc)
        if found is not None:
            resumes.append((found, resumed_iters(out)))
        kills.append(moment)
        assert_every_checkpoint_intact(work_dir)
    found = checkpoint_iter(work_dir)
    code, out = finish(start(tiny['cfg'], work_dir, '--resume'))
    assert code == 0, out[-3000:]
    resumes.append((found, resumed_iters(out)))
    assert len(kills) == 3
    # every run after the first resumed (not restarted) from the checkpoint it found
    assert len(resumes) == 3
    for found, logged in resumes:
        assert found > 0 and logged == [found], resumes
    assert not glob.glob(osp.join(work_dir, '*.tmp-*')), 'stale temporaries were left'
    ref = state(osp.join(tiny['whole'], f'iter_{TOTAL}.pth'))
    got = state(osp.join(work_dir, f'iter_{TOTAL}.pth'))
    assert got.keys() == ref.keys()
    for key, value in ref.items():
        assert torch.equal(got[key], value), f'{key} differs after three kills'


def test_disk_full_while_saving_stops_cleanly_and_keeps_the_earlier_checkpoints(tiny):
    work_dir = str(tiny['root'] / 'enospc')
    # writes: iter_2.pth, last_checkpoint, then iter_4.pth fails
    code, out = finish(start(tiny['cfg'], work_dir, FAULT_ENOSPC_AFTER='2'))
    assert code == 1, out[-3000:]
    assert 'Training stopped' in out and 'no space left on device' in out
    assert 'iter_4.pth' in out and 'Traceback' not in out
    assert not osp.exists(osp.join(work_dir, 'iter_4.pth'))
    assert not glob.glob(osp.join(work_dir, '*.tmp-*'))
    check_checkpoint_file(osp.join(work_dir, 'iter_2.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_2.pth')


def corrupt_copy(src, dst, how):
    with open(src, 'rb') as f:
        data = bytearray(f.read())
    if how == 'truncated':
        data = data[:len(data) // 2]
    else:  # one byte changed in the middle of the tensor data
        data[len(data) // 2] ^= 0xFF
    with open(dst, 'wb') as f:
        f.write(bytes(data))


@pytest.mark.parametrize('how', ['truncated', 'flipped'])
def test_corrupt_checkpoints_get_one_clear_error(tiny, tmp_path, how):
    bad = str(tmp_path / f'{how}.pth')
    corrupt_copy(osp.join(tiny['whole'], f'iter_{TOTAL}.pth'), bad, how)
    with pytest.raises(InputError, match=f'{how}.pth: truncated or corrupt checkpoint'):
        check_checkpoint_file(bad)
    from mmamlris.apis import RISInferencer
    with pytest.raises(InputError, match='truncated or corrupt'):
        RISInferencer(tiny['cfg'], checkpoint=bad)
    if how != 'truncated':  # the tools share check_checkpoint_file: one kind is enough there
        return
    for cmd in (['tools/test.py', tiny['cfg'], bad, '--work-dir', str(tmp_path / 't')],
                ['tools/train.py', tiny['cfg'], '--resume', bad,
                 '--work-dir', str(tmp_path / 'r')]):
        proc = subprocess.run([sys.executable, *cmd], cwd=REPO_ROOT, env=env(), text=True,
                              capture_output=True, timeout=300)
        assert proc.returncode == 1
        assert f'{how}.pth: truncated or corrupt checkpoint' in proc.stderr
        assert 'Traceback' not in proc.stderr


def test_resume_falls_back_to_the_newest_intact_checkpoint(tiny, tmp_path):
    work_dir = str(tmp_path / 'fallback')
    os.makedirs(work_dir)
    older, newest = (osp.join(tiny['whole'], f'iter_{i}.pth') for i in (TOTAL - EVERY, TOTAL))
    good = osp.join(work_dir, osp.basename(older))
    with open(older, 'rb') as src, open(good, 'wb') as dst:
        dst.write(src.read())
    broken = osp.join(work_dir, osp.basename(newest))
    corrupt_copy(newest, broken, 'truncated')
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(broken)
    code, out = finish(start(tiny['cfg'], work_dir, '--resume'))
    assert code == 0, out[-3000:]
    assert 'resuming from the newest intact checkpoint' in out and good in out
    assert f'resumed epoch: 0, iter: {TOTAL - EVERY}' in out
