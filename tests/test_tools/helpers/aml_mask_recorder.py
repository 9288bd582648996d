# Copyright (c) mmamlris contributors. All rights reserved.
"""A hook for the multi-process tests: every rank saves its AML block masks.

Test configs import it with ``custom_imports=dict(imports=['mmamlris', 'aml_mask_recorder'])``
and this folder on ``PYTHONPATH``. It observes through :class:`AMLStepRecorder` (forward hooks),
so the model computes what it computes without it.
"""
import os.path as osp
from typing import Optional

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmamlris.engine.hooks import AMLStepRecorder
from mmamlris.registry import HOOKS


@HOOKS.register_module()
class RecordAMLMasksHook(Hook):
    """Write ``aml_masks_rank{r}.pt`` into the work dir: per iteration, this rank's AML block
    mask, the indices of its samples and the torch generator state before the step."""

    def __init__(self) -> None:
        self.records = []
        self._recorder: Optional[AMLStepRecorder] = None

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._recorder = AMLStepRecorder(model)
        self._recorder.start()
        self._rng = torch.get_rng_state()

    def after_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        self._recorder.stop()
        self.records.append(dict(
            iter=runner.iter,
            block_mask=self._recorder.record['block_mask'].cpu(),
            samples=[(s.metainfo.get('ref_id'), s.metainfo.get('sent_id'))
                     for s in data_batch['data_samples']],
            rng=self._rng))

    def after_train(self, runner) -> None:
        torch.save(self.records, osp.join(runner.work_dir, f'aml_masks_rank{get_rank()}.pt'))
