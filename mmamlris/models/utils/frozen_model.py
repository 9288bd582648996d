# Copyright (c) mmamlris contributors. All rights reserved.
"""One way to freeze the pretrained ``self.model`` that a module wraps."""
from torch import nn

__all__ = ['FrozenModelMixin']


class FrozenModelMixin:
    """Freezes a module's wrapped pretrained network, ``self.model``, for good.

    A frozen ``self.model`` gets no gradients and stays in eval mode (no dropout, no drop
    path, fixed normalisation statistics) even when the runner calls ``train()`` on the whole
    segmentor; the module's own layers (adapters, aligners) still follow ``train(mode)``.
    Put the mixin before the ``nn.Module`` base and call :meth:`_init_freeze` once
    ``self.model`` is built.
    """
    freeze: bool
    model: nn.Module

    def _init_freeze(self, freeze: bool) -> None:
        self.freeze = bool(freeze)
        if self.freeze:
            self.model.requires_grad_(False)
            self.model.eval()

    def train(self, mode: bool = True):
        """Set the train mode; a frozen ``self.model`` stays in eval mode."""
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self
