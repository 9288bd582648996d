# Copyright (c) mmamlris contributors. All rights reserved.
"""SafeCheckpointHook keeps the previous best checkpoint until the new one is written."""
import os.path as osp

import pytest
from mmengine.fileio import get_file_backend
from mmengine.logging import MessageHub, MMLogger

from mmamlris.engine.hooks import SafeCheckpointHook
from mmamlris.utils.atomic_io import CheckpointWriteError


class _Runner:
    """What CheckpointHook's best-checkpoint logic reads of a runner."""

    def __init__(self, work_dir, fail_at=()):
        self.work_dir = work_dir
        self.epoch, self.iter = 0, 0
        self.message_hub = MessageHub.get_instance(f'best-{work_dir}')
        self.logger = MMLogger.get_current_instance()
        self.fail_at = set(fail_at)

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        if self.iter in self.fail_at:
            raise CheckpointWriteError(f'no space left writing {filename}')
        with open(osp.join(out_dir, filename), 'w') as f:
            f.write(str(self.iter))


def _hook(work_dir):
    hook = SafeCheckpointHook(interval=1, by_epoch=False, save_best='oIoU', rule='greater')
    hook.out_dir = work_dir
    hook.file_backend = get_file_backend(work_dir)
    return hook


def test_the_new_best_replaces_the_old_one_after_it_is_written(tmp_path):
    runner, hook = _Runner(str(tmp_path)), _hook(str(tmp_path))
    for it, score in ((10, 1.0), (20, 2.0), (30, 1.5)):
        runner.iter = it
        hook._save_best_checkpoint(runner, dict(oIoU=score))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['best_oIoU_iter_20.pth']
    # the file backend is left as it was
    assert 'remove' not in vars(hook.file_backend)


def test_a_failed_write_of_the_new_best_keeps_the_previous_best(tmp_path):
    runner, hook = _Runner(str(tmp_path), fail_at={20}), _hook(str(tmp_path))
    runner.iter = 10
    hook._save_best_checkpoint(runner, dict(oIoU=1.0))
    runner.iter = 20
    with pytest.raises(CheckpointWriteError):
        hook._save_best_checkpoint(runner, dict(oIoU=2.0))
    assert [p.name for p in tmp_path.iterdir()] == ['best_oIoU_iter_10.pth']
    assert 'remove' not in vars(hook.file_backend)
