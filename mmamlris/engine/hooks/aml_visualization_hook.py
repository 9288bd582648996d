# Copyright (c) mmamlris contributors. All rights reserved.
"""Draw what alignment-aware masking did during training."""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from torch import Tensor, nn

from mmamlris.models.aml import AMLOutput
from mmamlris.models.utils import logits_to_mask
from mmamlris.registry import HOOKS
from mmamlris.visualization import draw_aml_step
from .aml_step_recorder import AMLStepRecorder

__all__ = ['AMLVisualizationHook']

DATA_BATCH = Optional[dict]


@HOOKS.register_module()
class AMLVisualizationHook(Hook):
    """Draw, every ``interval`` training iterations, what AML masked.

    The hook only observes: on a drawing step it puts an :class:`AMLStepRecorder` (forward
    hooks on ``model.aml`` and ``model.decode_head``) on the unwrapped
    :class:`AMLSegmentor`, which keeps the tensors of that step (``inputs``,
    ``masked_inputs``, ``block_mask``, ``weak_mask``, ``score_map`` and the stage-2
    ``seg_logits``); the model computes exactly what it computes without the hook. After the
    step the hook removes the forward hooks and draws the first ``num_samples`` samples of the
    batch with :meth:`RISLocalVisualizer.add_aml_panels` (input + expression, alignment heat
    map, weak set, block mask, masked stage-2 input, stage-2 prediction, GT), which sends them
    to every vis backend (``vis_data/vis_image/aml_sample<i>_<iter>.png`` with
    ``LocalVisBackend``; images in TensorBoard when configured). The images are shown at the
    network input size (padding cropped).

    Only the main process draws; a model without AML (the baseline) is warned about once
    and left alone.

    Args:
        interval (int): Draw every ``interval`` training iterations. Defaults to 50.
        num_samples (int): Samples of the batch to draw. Defaults to 4.
        draw (bool): Whether to draw at all. Defaults to True.
    """
    priority = 'NORMAL'

    def __init__(self, interval: int = 50, num_samples: int = 4, draw: bool = True) -> None:
        for key, value in (('interval', interval), ('num_samples', num_samples)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f'AMLVisualizationHook: {key} must be a positive int, got '
                                 f'{value!r}.')
        self.interval = interval
        self.num_samples = num_samples
        self.draw = bool(draw)
        self._warned_no_aml = False
        self._recorder: Optional[AMLStepRecorder] = None

    @staticmethod
    def _unwrap(model: nn.Module) -> nn.Module:
        return model.module if is_model_wrapper(model) else model

    def before_run(self, runner) -> None:
        """Check that the runner's visualizer can draw AML panels."""
        if self.draw and not hasattr(runner.visualizer, 'add_aml_panels'):
            raise TypeError(
                'AMLVisualizationHook draws with RISLocalVisualizer.add_aml_panels, but the '
                f'visualizer is a {type(runner.visualizer).__name__}; set '
                "visualizer=dict(type='RISLocalVisualizer', vis_backends=...) in the config.")

    def before_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None) -> None:
        """Start observing the model when this is a drawing step."""
        if not self.draw or not is_main_process():
            return
        if not self.every_n_train_iters(runner, self.interval):
            return
        model = self._unwrap(runner.model)
        if not getattr(model, 'with_aml', False):
            if not self._warned_no_aml:
                self._warned_no_aml = True
                print_log(
                    'AMLVisualizationHook: the model trains without AML (model.aml is None), '
                    'so there is nothing to draw; remove the hook or turn AML on.',
                    logger='current', level=logging.WARNING)
            return
        self._recorder = AMLStepRecorder(model)
        self._recorder.start()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Stop observing, then draw the recorded step."""
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        recorder.stop()
        if 'inputs' not in recorder.record:
            print_log('AMLVisualizationHook: AML did not run in this step; nothing drawn.',
                      logger='current', level=logging.WARNING)
            return
        samples = (data_batch or {}).get('data_samples') or []
        self._draw(runner, recorder.model, recorder.record, samples)

    def _draw(self, runner, model: nn.Module, record: Dict[str, Tensor],
              samples: Sequence) -> None:
        """Draw the first ``num_samples`` samples of a recorded step (:func:`draw_aml_step`)."""
        inputs = record['inputs']
        count = min(self.num_samples, inputs.shape[0])
        aml_out = AMLOutput(record['masked_inputs'], record['block_mask'], record['score_map'],
                            record['weak_mask'], dict(), dict())
        draw_aml_step(runner.visualizer, model.data_preprocessor, inputs, aml_out, samples,
                      model.aml.block_size, [f'aml_sample{i}' for i in range(count)],
                      pred_masks=self._predictions(model, record.get('seg_logits'),
                                                   tuple(inputs.shape[-2:]), count),
                      step=runner.iter + 1)

    @staticmethod
    def _predictions(model: nn.Module, seg_logits: Optional[Tensor], size: Tuple[int, int],
                     count: int) -> Optional[List[Tensor]]:
        """Stage-2 logits ``[B, C, h, w]`` -> masks ``[H, W]`` (uint8, 1 = object)."""
        if seg_logits is None:
            return None
        logits = seg_logits[:count].detach().float()
        align_corners = bool(getattr(model, 'align_corners', False))
        logits = F.interpolate(logits, size=size, mode='bilinear', align_corners=align_corners)
        masks = logits_to_mask(logits, model.decode_head.threshold)[:, 0]
        return [m.to(torch.uint8).cpu() for m in masks]
