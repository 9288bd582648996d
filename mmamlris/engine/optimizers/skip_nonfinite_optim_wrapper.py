# Copyright (c) mmamlris contributors. All rights reserved.
"""Optimizer wrappers that skip the update of a step whose loss is NaN or Inf."""
import logging
from contextlib import contextmanager
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmamlris.registry import OPTIM_WRAPPERS

__all__ = ['NonFiniteLossError', 'SkipNonFiniteOptimWrapper', 'SkipNonFiniteAmpOptimWrapper']


class NonFiniteLossError(RuntimeError):
    """Raised after ``max_consecutive_skips`` non-finite losses in a row."""


class _SkipNonFiniteMixin:
    """``update_params`` that looks at the loss before the backward pass.

    A finite loss takes the normal path. A NaN / Inf loss (on **any** rank: the flag is
    all-reduced, so every DDP process skips together and no collective is left waiting)
    skips backward and optimizer step: weights, optimizer moments and (for AMP) the loss
    scale are untouched, and the running statistics that batch-norm layers updated during
    that forward pass are put back (they are saved in ``optim_context``, which mmengine enters
    before the forward pass; a copy of the BN buffers per step, a few hundred kB for ResNets,
    nothing for the LayerNorm/GroupNorm CARIS model). Each skip is logged with a warning; the
    running total is the ``skipped_updates`` scalar of the training log and is kept in the
    message hub (so it survives ``--resume``). After ``max_consecutive_skips`` skips in a row
    the wrapper raises :class:`NonFiniteLossError`: training stops and the checkpoints already
    written stay as they are (none of them was touched by a non-finite update).

    With gradient accumulation, an accumulation window that contains a skipped loss makes no
    update (its gradients are dropped), so no step ever uses a partial window.

    Cost: one device-to-host read of a flag per step (and one all-reduce of it under DDP).
    """

    def _init_skip(self, max_consecutive_skips: int) -> None:
        if int(max_consecutive_skips) < 1:
            raise ValueError(f'max_consecutive_skips must be >= 1, got {max_consecutive_skips}.')
        self.max_consecutive_skips = int(max_consecutive_skips)
        self.consecutive_skips = 0
        self._window_skipped = False
        self._norm_stats: List[Tuple[Tensor, Tensor]] = []

    @contextmanager
    def optim_context(self, model: nn.Module):
        """mmengine's context of the forward pass, plus a copy of the BN running statistics."""
        self._norm_stats = [
            (buf, buf.detach().clone()) for module in model.modules()
            if isinstance(module, _BatchNorm) and module.training and module.track_running_stats
            for buf in (module.running_mean, module.running_var, module.num_batches_tracked)
            if buf is not None
        ]
        with super().optim_context(model):
            yield

    @property
    def total_skips(self) -> int:
        return int(self.message_hub.get_info('skipped_updates', 0))

    def _all_finite(self, loss: torch.Tensor) -> bool:
        flag = torch.isfinite(loss.detach()).all().to(torch.int32).reshape(1)
        if get_world_size() > 1:
            all_reduce(flag, op='min')
        return bool(flag.item())

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        if self._all_finite(loss):
            self._norm_stats = []
            self.consecutive_skips = 0
            self.message_hub.update_scalar('train/skipped_updates', self.total_skips)
            super().update_params(loss, step_kwargs, zero_kwargs)
            return
        with torch.no_grad():
            for buf, saved in self._norm_stats:
                buf.copy_(saved)
        self._norm_stats = []
        self.consecutive_skips += 1
        total = self.total_skips + 1
        self.message_hub.update_info('skipped_updates', total)
        self.message_hub.update_scalar('train/skipped_updates', total)
        iteration = self.message_hub.get_info('iter')
        where = f' at iteration {iteration + 1}' if iteration is not None else ''
        value = loss.detach().float().sum().item()
        what = (f'Non-finite loss ({value})' if not torch.isfinite(torch.tensor(value)) else
                f'Non-finite loss on another process (here {value:.4f})')
        print_log(f'{what}{where}: the update '
                  f'is skipped ({self.consecutive_skips} in a row, {total} in total; training '
                  f'stops after {self.max_consecutive_skips} in a row).', logger='current',
                  level=logging.WARNING)
        if self.consecutive_skips >= self.max_consecutive_skips:
            raise NonFiniteLossError(
                f'The loss was NaN/Inf for {self.consecutive_skips} iterations in a row{where}; '
                'training stops. No update was made from these losses, so the last checkpoint '
                'in the work dir is intact: lower the learning rate, check the data (empty '
                'masks, bad images) or train in fp32 (drop --amp), then resume from it with '
                '--resume.')
        # What super().update_params would have counted, without backward or step.
        self._inner_count += 1
        self._window_skipped = True
        if self.should_update():
            self._window_skipped = False
            self.zero_grad(**(zero_kwargs or {}))

    def step(self, **kwargs) -> None:
        if self._window_skipped:
            # The accumulation window had a non-finite loss: drop it, make no update.
            self._window_skipped = False
            return
        super().step(**kwargs)


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(_SkipNonFiniteMixin, OptimWrapper):
    """``OptimWrapper`` that skips NaN / Inf losses (see ``_SkipNonFiniteMixin``).

    Args:
        max_consecutive_skips (int): Stop training (:class:`NonFiniteLossError`) after this
            many non-finite losses in a row. Defaults to 10.
        **kwargs: :class:`mmengine.optim.OptimWrapper` arguments (``optimizer``,
            ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self, *args, max_consecutive_skips: int = 10, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_skip(max_consecutive_skips)


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteAmpOptimWrapper(_SkipNonFiniteMixin, AmpOptimWrapper):
    """``AmpOptimWrapper`` (fp16 with dynamic loss scale, or bf16) that skips NaN / Inf losses.

    Overflowing *gradients* are still handled by the loss scaler as usual (the scaler skips
    that step and lowers the scale); a non-finite *loss* skips the step before the backward
    pass and leaves the scale alone.

    Args:
        max_consecutive_skips (int): See :class:`SkipNonFiniteOptimWrapper`. Defaults to 10.
        **kwargs: :class:`mmengine.optim.AmpOptimWrapper` arguments (``loss_scale``,
            ``dtype``, ``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, *args, max_consecutive_skips: int = 10, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_skip(max_consecutive_skips)
