# Copyright (c) mmamlris contributors. All rights reserved.
"""mmengine's CheckpointHook with writes that a kill or a full disk cannot corrupt."""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from mmamlris.registry import HOOKS
from mmamlris.utils.atomic_io import atomic_write

__all__ = ['SafeCheckpointHook']


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that never leaves a truncated checkpoint or a dangling pointer.

    Three changes, same arguments and file names as mmengine's hook::

        save:   checkpoint -> <name>.tmp-<pid>, flush, fsync, rename to <name>
                (through the 'atomic_local' file backend, also for the best checkpoint)
        then:   last_checkpoint rewritten the same way, only after the rename
        then:   outdated checkpoints (max_keep_ckpts) removed, only after both

    mmengine removes the outdated checkpoint *before* it writes the new one, so a kill during
    the write could leave ``last_checkpoint`` naming a deleted file. The same holds for the
    best checkpoint: here the previous best is removed only after the new one is written, so
    a kill or a failed write keeps it. A failed write (e.g.
    ``ENOSPC``) raises :class:`~mmamlris.utils.atomic_io.CheckpointWriteError` naming the file;
    every earlier checkpoint is left intact. Before training, the temporary files that a
    killed run left in the checkpoint folder are removed.
    """

    def __init__(self, *args, backend_args=None, **kwargs) -> None:
        if backend_args is None:
            backend_args = dict(backend='atomic_local')
        super().__init__(*args, backend_args=backend_args, **kwargs)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not is_main_process():
            return
        for folder in {self.out_dir, runner.work_dir}:
            for tmp in glob.glob(osp.join(glob.escape(folder), '*.tmp-*')):
                pid = tmp.rsplit('.tmp-', 1)[1]
                if pid.isdigit() and int(pid) != os.getpid():
                    os.remove(tmp)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args,
            save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if outdated is not None:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # mmengine's logic, with the removal of the previous best deferred until the new best
        # is on disk: its file backend's remove / rmtree only record the path meanwhile.
        backend, deferred = self.file_backend, []
        backend.remove = backend.rmtree = deferred.append
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            del backend.remove, backend.rmtree
        keep = {getattr(self, 'best_ckpt_path', None),
                *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for path in deferred:
            if path in keep:
                continue
            if backend.isfile(path):
                backend.remove(path)
            elif backend.isdir(path):
                backend.rmtree(path)
