# Copyright (c) mmamlris contributors. All rights reserved.
"""One drawing of an AML step: the panels of every sample of a masked batch."""
from typing import List, Optional, Sequence, Tuple

from torch import Tensor

from mmamlris.models.aml import AMLOutput, fit_to_size, per_image_alignment

__all__ = ['draw_aml_step']


def _shown_size(meta: dict, size: Tuple[int, int]) -> Tuple[int, int]:
    """The image's own size inside the padded batch (``img_shape``), capped by it."""
    shape = meta.get('img_shape') or size
    return min(int(shape[0]), size[0]), min(int(shape[1]), size[1])


def draw_aml_step(visualizer, data_preprocessor, inputs: Tensor, aml_out: AMLOutput,
                  samples: Sequence, block_size: Tuple[int, int], names: Sequence[str],
                  pred_masks: Optional[Sequence[Tensor]] = None, step: int = 0,
                  out_files: Optional[Sequence[str]] = None) -> List:
    """Draw what AML did to the first ``len(names)`` samples of a batch.

    Used by :class:`AMLVisualizationHook` (during training) and by
    ``tools/analysis_tools/browse_aml_masks.py`` (before or after it): the same panels
    (:meth:`RISLocalVisualizer.add_aml_panels`), cropped to each image's own size, with the
    sample's alignment statistics (:func:`per_image_alignment`) in the captions.

    Args:
        visualizer (RISLocalVisualizer): Draws and writes the panels.
        data_preprocessor (RISDataPreProcessor): Its ``denormalize`` turns the batch back into
            RGB images.
        inputs (Tensor): The clean batch ``[B, 3, H, W]`` (normalised, padded).
        aml_out (AMLOutput): The masking of that batch.
        samples (Sequence[SegDataSample]): The batch's samples (expression, GT, sizes).
        block_size (tuple[int, int]): The filter's block.
        names (Sequence[str]): One figure name per drawn sample.
        pred_masks (Sequence[Tensor], optional): ``[H, W]`` stage-2 predictions per sample.
        step (int): Global step for the backends.
        out_files (Sequence[str], optional): One file per sample instead of the backends.

    Returns:
        list[np.ndarray]: The drawn figures.
    """
    count = len(names)
    size = tuple(inputs.shape[-2:])
    images = data_preprocessor.denormalize(inputs[:count])
    masked = data_preprocessor.denormalize(aml_out.masked_inputs[:count])
    alignments = None
    if len(samples) >= count:
        alignments = per_image_alignment(aml_out.score_map[:count],
                                         aml_out.block_mask[:count], list(samples)[:count],
                                         block_size)
    drawn = []
    for i, name in enumerate(names):
        sample = samples[i] if i < len(samples) else None
        meta = sample.metainfo if sample is not None else {}
        height, width = _shown_size(meta, size)
        gt = None
        if sample is not None and 'gt_sem_seg' in sample:
            gt = fit_to_size(sample.gt_sem_seg.data.detach().cpu(), size)[0, :height, :width]
        drawn.append(visualizer.add_aml_panels(
            name,
            images[i, :height, :width],
            meta.get('text', ''),
            score_map=aml_out.score_map[i].float().cpu(),
            weak_mask=aml_out.weak_mask[i, 0, :height, :width].cpu(),
            block_mask=aml_out.block_mask[i, 0, :height, :width].cpu(),
            masked_image=masked[i, :height, :width],
            pred_mask=pred_masks[i][:height, :width] if pred_masks is not None else None,
            gt_mask=gt,
            alignment=alignments[i] if alignments is not None else None,
            step=step,
            out_file=out_files[i] if out_files is not None else None))
    return drawn
