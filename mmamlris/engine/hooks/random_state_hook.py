# Copyright (c) mmamlris contributors. All rights reserved.
"""Save the random number generators in checkpoints, so that ``--resume`` is exact."""
import logging
import random
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from mmamlris.registry import HOOKS

__all__ = ['RandomStateHook']

DATA_BATCH = Optional[dict]


def capture_random_state() -> Dict[str, Any]:
    """The state of every generator a training step may draw from, on this process."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()  # the current device: one per rank
    return state


def restore_random_state(state: Dict[str, Any]) -> None:
    """Inverse of :func:`capture_random_state`."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'])


class _RestoreAfter:
    """Iterator proxy: call ``restore`` before item ``skip + 1``, then step aside."""

    def __init__(self, iterator, skip: int, restore) -> None:
        self.iterator, self.remaining, self.restore = iterator, skip, restore

    def __iter__(self):
        return self

    def __next__(self):
        if self.remaining == 0:
            self.restore()
            self.remaining = -1
        elif self.remaining > 0:
            self.remaining -= 1
        return next(self.iterator)

    def __getattr__(self, name: str):
        return getattr(self.iterator, name)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Store the Python / NumPy / torch / CUDA generators of every rank in each checkpoint
    and restore them on resume.

    mmengine resumes the weights, optimizer, schedulers, message hub and the data order (the
    iteration-based loop replays the sampler), but not the generators: after a resume, AML's
    random block choice (``rho``), dropout and random transforms would draw different numbers
    than the uninterrupted run. With this hook, training N + M iterations in one go and
    N, then ``--resume`` for M, give the same weights (``tests/test_engine/
    test_random_state_hook.py``).

    How:

    - ``before_save_checkpoint`` (rank 0) writes ``checkpoint['random_states']``: one state
      per rank. Under DDP the ranks' states are gathered in ``after_train_iter`` /
      ``after_train_epoch`` of the iterations at which a :class:`CheckpointHook` will save.
    - ``after_load_checkpoint`` keeps this rank's state. For iteration-based training it is
      restored right after mmengine has replayed the dataloader up to the resumed iteration
      (the replay draws from the generators when data are loaded in the main process) and
      before the first new batch is loaded; for epoch-based training at
      ``before_train_epoch`` (before the epoch's dataloader iterator seeds its workers).
    - Validation during training is made neutral: the generators are saved before it and
      restored after it, so evaluating every K iterations does not change the training run.
      A checkpoint written during validation (mmengine re-saves the regular checkpoint when a
      new best score is reached) gets the states from before validation.

    A checkpoint without random states (older ones, or from a different number of ranks)
    resumes as before, with a warning that the continuation is not bitwise the same.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[Dict[str, Any]] = None
        # all ranks' states at the end of the latest training iteration (DDP only)
        self._gathered: Optional[List[Dict[str, Any]]] = None
        self._before_val: Optional[Dict[str, Any]] = None

    # --- saving -----------------------------------------------------------------------------
    def _checkpoint_due(self, runner, by_epoch: bool) -> bool:
        """Whether a CheckpointHook saves at the end of this iteration / epoch."""
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or hook.by_epoch != by_epoch:
                continue
            if by_epoch:
                due = hook.every_n_epochs(runner, hook.interval, hook.save_begin) or (
                    hook.save_last and hook.is_last_train_epoch(runner))
            else:
                due = hook.every_n_train_iters(runner, hook.interval, hook.save_begin) or (
                    hook.save_last and hook.is_last_train_iter(runner))
            if due:
                return True
        return False

    def _gather_if_due(self, runner, by_epoch: bool) -> None:
        if get_world_size() > 1 and self._checkpoint_due(runner, by_epoch):
            # Every rank takes part; rank 0 writes them in before_save_checkpoint.
            self._gathered = all_gather_object(capture_random_state())

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        self._gather_if_due(runner, by_epoch=False)

    def after_train_epoch(self, runner) -> None:
        self._gather_if_due(runner, by_epoch=True)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if get_world_size() == 1:
            # During validation (mmengine saves the regular checkpoint again when a new best
            # score is reached) the state to keep is the one training resumes from: the state
            # before validation, which after_val restores.
            state = self._before_val if self._before_val is not None else capture_random_state()
            checkpoint['random_states'] = [state]
        elif self._gathered is not None:
            # still current: no training iteration since (validation does not count)
            checkpoint['random_states'] = self._gathered
        # else: a checkpoint saved outside the CheckpointHook schedule under DDP; without the
        # other ranks' states it is written without any (resume warns).

    # --- loading ----------------------------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('random_states')
        if states is None:
            print_log('The checkpoint has no random states (written without RandomStateHook): '
                      'training resumes, but not bitwise as the uninterrupted run would.',
                      logger='current', level=logging.WARNING)
            return
        if len(states) != get_world_size():
            print_log(f'The checkpoint holds the random states of {len(states)} processes and '
                      f'{get_world_size()} are running: they are not restored, so the run '
                      'continues with fresh random streams.', logger='current',
                      level=logging.WARNING)
            return
        self._pending = states[get_rank()]

    def _restore_pending(self) -> None:
        if self._pending is not None:
            restore_random_state(self._pending)
            self._pending = None

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            # The loop now replays `iter` batches, then loads the next one: restore in
            # between, so that this batch is loaded from the generators as they were saved.
            loop.dataloader_iterator = _RestoreAfter(loop.dataloader_iterator, loop.iter,
                                                     self._restore_pending)
        else:
            self._restore_pending()

    def before_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None) -> None:
        self._gathered = None  # a new iteration: the gathered states are out of date

    # --- validation does not perturb training ------------------------------------------------
    def before_val(self, runner) -> None:
        self._before_val = capture_random_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            restore_random_state(self._before_val)
            self._before_val = None
