# Copyright (c) mmamlris contributors. All rights reserved.
"""Keep what AML and the decode head computed in a training step, through forward hooks."""
from typing import Dict, List, Optional

from torch import Tensor, nn

__all__ = ['AMLStepRecorder']


class AMLStepRecorder:
    """Observe one :class:`AMLSegmentor` step without changing what it computes.

    While started, forward hooks on ``model.aml`` and ``model.decode_head`` keep detached
    references to what they return: ``inputs`` (the clean batch AML received),
    ``masked_inputs``, ``block_mask``, ``weak_mask``, ``score_map`` and ``seg_logits`` (the
    decode head's last output of the step, i.e. the stage-2 logits on the masked images).
    The hooks only read; the model takes the same path whether it is observed or not.

    Example::

        recorder = AMLStepRecorder(model)
        with recorder:
            model.train_step(data, optim_wrapper)
        recorder.record['block_mask']  # [B, 1, H, W] bool

    Args:
        model (nn.Module): An (unwrapped) :class:`AMLSegmentor` with ``aml``.
    """

    def __init__(self, model: nn.Module) -> None:
        if getattr(model, 'aml', None) is None:
            raise ValueError('AMLStepRecorder needs a model with `aml` (an AMLSegmentor that '
                             'trains with alignment-aware masking).')
        self.model = model
        self.record: Dict[str, Tensor] = dict()
        self._handles: List = []

    @property
    def started(self) -> bool:
        """bool: Whether the hooks are in place."""
        return bool(self._handles)

    def start(self) -> None:
        """Clear the record and put the forward hooks in place."""
        self.stop()
        self.record = dict()
        self._handles = [
            self.model.aml.register_forward_hook(self._on_aml),
            self.model.decode_head.register_forward_hook(self._on_decode_head),
        ]

    def stop(self) -> None:
        """Remove the hooks; the record stays until the next :meth:`start`."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> 'AMLStepRecorder':
        self.start()
        return self

    def __exit__(self, *exc) -> Optional[bool]:
        self.stop()
        return None

    def _on_aml(self, module: nn.Module, args: tuple, output) -> None:
        self.record.update(
            inputs=args[0].detach(),
            masked_inputs=output.masked_inputs.detach(),
            block_mask=output.block_mask,
            weak_mask=output.weak_mask,
            score_map=output.score_map)

    def _on_decode_head(self, module: nn.Module, args: tuple, output: Tensor) -> None:
        self.record['seg_logits'] = output.detach()
