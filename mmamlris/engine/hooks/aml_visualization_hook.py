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

from mmamlris.models.aml import alignment_statistics, gt_masks
from mmamlris.models.utils import logits_to_mask
from mmamlris.registry import HOOKS
from .aml_step_recorder import AMLStepRecorder

__all__ = ['AMLVisualizationHook']

DATA_BATCH = Optional[dict]


def _fit(mask: Tensor, size: Tuple[int, int], fill: int) -> Tensor:
    """Pad (bottom/right, as mmseg's ``stack_batch``) or crop ``[..., h, w]`` to ``size``."""
    height, width = mask.shape[-2:]
    pad_h, pad_w = size[0] - height, size[1] - width
    if pad_h > 0 or pad_w > 0:
        mask = F.pad(mask, (0, max(pad_w, 0), 0, max(pad_h, 0)), value=fill)
    return mask[..., :size[0], :size[1]]


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
        """Draw the first ``num_samples`` samples of a recorded step."""
        inputs = record['inputs']
        count = min(self.num_samples, inputs.shape[0])
        size = tuple(inputs.shape[-2:])
        preprocessor = model.data_preprocessor
        images = preprocessor.denormalize(inputs[:count])
        masked = preprocessor.denormalize(record['masked_inputs'][:count])
        preds = self._predictions(model, record.get('seg_logits'), size, count)
        alignments = self._alignments(model, record, samples, size, count)
        for i in range(count):
            sample = samples[i] if i < len(samples) else None
            meta = sample.metainfo if sample is not None else {}
            height, width = self._shown_size(meta, size)
            gt = None
            if sample is not None and 'gt_sem_seg' in sample:
                gt = _fit(sample.gt_sem_seg.data.detach().cpu(), size, 255)[0]
                gt = gt[:height, :width]
            runner.visualizer.add_aml_panels(
                f'aml_sample{i}',
                images[i, :height, :width],
                meta.get('text', ''),
                score_map=record['score_map'][i].float().cpu(),
                weak_mask=record['weak_mask'][i, 0, :height, :width].cpu(),
                block_mask=record['block_mask'][i, 0, :height, :width].cpu(),
                masked_image=masked[i, :height, :width],
                pred_mask=preds[i][:height, :width] if preds is not None else None,
                gt_mask=gt,
                alignment=alignments[i],
                step=runner.iter + 1)

    @staticmethod
    def _alignments(model: nn.Module, record: Dict[str, Tensor], samples: Sequence,
                    size: Tuple[int, int], count: int) -> List[dict]:
        """Per-sample ``target_auc`` / ``object_masked`` / ``context_masked`` (or empty)."""
        gt = gt_masks(list(samples)[:count], size, record['block_mask'].device)
        if gt is None or len(gt) < count:
            return [{} for _ in range(count)]
        per = alignment_statistics(record['score_map'][:count], record['block_mask'][:count], gt,
                                   model.aml.block_size, per_image=True)
        out = []
        for i in range(count):
            out.append(dict(
                target_auc=float(per['aml_target_auc'][i])
                if per['aml_target_auc_defined'][i] else None,
                object_masked=float(per['aml_object_masked'][i])
                if per['aml_object_defined'][i] else None,
                context_masked=float(per['aml_context_masked'][i])
                if per['aml_context_defined'][i] else None))
        return out

    @staticmethod
    def _shown_size(meta: dict, size: Tuple[int, int]) -> Tuple[int, int]:
        """The image's own size inside the padded batch (``img_shape``), capped by it."""
        shape = meta.get('img_shape') or size
        return min(int(shape[0]), size[0]), min(int(shape[1]), size[1])

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
