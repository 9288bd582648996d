# Copyright (c) mmamlris contributors. All rights reserved.
"""A hook for tests of multi-process training: every rank saves its AML block masks.

Not imported by ``mmamlris``; a test config adds it with
``custom_imports=dict(imports=['mmamlris', 'mmamlris.testing.aml_mask_recorder'])``.
"""
import os.path as osp
from typing import Optional

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmamlris.registry import HOOKS


@HOOKS.register_module()
class RecordAMLMasksHook(Hook):
    """Write ``aml_masks_rank{r}.pt`` into the work dir: per iteration, this rank's AML block
    mask, the indices of its samples and a digest of its torch generator state."""

    def __init__(self) -> None:
        self.records = []

    def _model(self, runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None):
        self._model(runner).record_aml = True
        self._rng = torch.get_rng_state()

    def after_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        model = self._model(runner)
        self.records.append(dict(
            iter=runner.iter,
            block_mask=model.aml_record['block_mask'].cpu(),
            samples=[(s.metainfo.get('ref_id'), s.metainfo.get('sent_id'))
                     for s in data_batch['data_samples']],
            rng=self._rng))
        model.record_aml = False

    def after_train(self, runner) -> None:
        torch.save(self.records, osp.join(runner.work_dir, f'aml_masks_rank{get_rank()}.pt'))
