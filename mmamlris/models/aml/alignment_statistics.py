# Copyright (c) mmamlris contributors. All rights reserved.
"""Does AML aim? Per-image ROC-AUC of the block scores and the masked parts of the object."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .block_ops import pool_blocks

__all__ = ['fit_to_size', 'gt_masks', 'block_targets', 'ranking_auc', 'alignment_statistics',
           'per_image_alignment']


def fit_to_size(mask: Tensor, size: Tuple[int, int], fill: int = 255) -> Tensor:
    """Pad (bottom/right, as mmseg's ``stack_batch``) with ``fill`` or crop ``[..., h, w]``
    to ``size``."""
    height, width = mask.shape[-2:]
    mask = F.pad(mask, (0, max(size[1] - width, 0), 0, max(size[0] - height, 0)), value=fill)
    return mask[..., :size[0], :size[1]]


def gt_masks(data_samples: Optional[Sequence], image_size: Tuple[int, int],
             device: torch.device, required_by: Optional[str] = None) -> Optional[Tensor]:
    """The GT masks of a batch as ``[B, H, W]`` int64, or ``None`` when a sample has none.

    The data preprocessor pads the training GT to the batch size with ``seg_pad_val``; a GT of
    another size is padded (bottom/right) or cropped to ``image_size`` with 255 (ignore).

    Raises:
        ValueError: If a sample has no GT and ``required_by`` names who needs it.
    """
    if not data_samples or any('gt_sem_seg' not in s for s in data_samples):
        if required_by is not None:
            raise ValueError(f'{required_by} reads the GT (gt_sem_seg) of every data sample: '
                             'it works on training batches only.')
        return None
    return torch.stack([fit_to_size(s.gt_sem_seg.data[0].to(device).long(), image_size, 255)
                        for s in data_samples])


def block_targets(gt: Tensor, block: Tuple[int, int],
                  ignore_index: int = 255) -> Tuple[Tensor, Tensor]:
    """Which blocks hold a pixel of the referred object, and which hold any valid pixel.

    Args:
        gt (Tensor): ``[B, H, W]`` GT: 1 (or any non-zero) object, 0 background,
            ``ignore_index`` ignored (batch padding included).
        block (tuple[int, int]): ``(bh, bw)``.

    Returns:
        tuple[Tensor, Tensor]: ``(target [B, Gh, Gw] bool, valid [B, Gh, Gw] bool)``.
    """
    valid = gt != ignore_index
    target = valid & (gt != 0)
    return (pool_blocks(target.float(), block, 'max') > 0,
            pool_blocks(valid.float(), block, 'max') > 0)


def ranking_auc(scores: Tensor, positive: Tensor, valid: Tensor) -> Tuple[Tensor, Tensor]:
    """Per-row ROC-AUC of ``scores`` for ``positive``, over the ``valid`` entries.

    The probability that a positive entry scores above a negative one, ties counting one
    half (the Mann-Whitney statistic), from all pairs: exact and vectorised.

    Args:
        scores (Tensor): ``[B, G]`` float.
        positive (Tensor): ``[B, G]`` bool.
        valid (Tensor): ``[B, G]`` bool; invalid entries count as neither class.

    Returns:
        tuple[Tensor, Tensor]: ``auc [B]`` (0.5 where undefined) and ``defined [B]`` bool
        (the row has a positive and a negative entry).
    """
    pos = (positive & valid).float()
    neg = (~positive & valid).float()
    diff = scores[:, :, None] - scores[:, None, :]  # [B, G, G]: positive i vs negative j
    wins = (diff > 0).float() + 0.5 * (diff == 0).float()
    pairs = pos[:, :, None] * neg[:, None, :]
    count = pairs.sum(dim=(1, 2))
    defined = count > 0
    auc = (wins * pairs).sum(dim=(1, 2)) / count.clamp(min=1)
    return torch.where(defined, auc, torch.full_like(auc, 0.5)), defined


def _mean_over(values: Tensor, defined: Tensor) -> Tensor:
    """Mean of ``values`` where ``defined`` (at least one entry must be)."""
    return (values * defined).sum() / defined.sum().clamp(min=1)


def alignment_statistics(score_map: Tensor, block_mask: Tensor, gt: Tensor,
                         block: Tuple[int, int], per_image: bool = False,
                         ignore_index: int = 255) -> Dict[str, Tensor]:
    """Whether the scores rank the referred object's blocks first, and what AML hid of it.

    * ``aml_target_auc``: per image, the ROC-AUC of the block scores (the mean of the
      bilinearly upsampled score map over each block, as the filter sees it) against "the block
      holds a pixel of the referred object", over the blocks holding a valid pixel; averaged
      over the images that have both kinds of block.
    * ``aml_object_masked``: the fraction of the object's pixels that the block mask hides,
      averaged over the images with an object.
    * ``aml_context_masked``: the same for the other valid pixels.

    A statistic that no image of the batch defines (a batch of no-target expressions has no
    object) is left out of the batch's dict rather than given a stand-in value: a log that
    read 0.5 there would claim chance ranking where nothing was ranked. The ``per_image``
    values have a ``*_defined`` flag each instead.

    Args:
        score_map (Tensor): ``[B, 1, h, w]`` scores.
        block_mask (Tensor): ``[B, 1, H, W]`` bool, the masked pixels.
        gt (Tensor): ``[B, H, W]`` GT at the size of the block mask.
        block (tuple[int, int]): The filter's block size.
        per_image (bool): Return the ``[B]`` values and their ``*_defined`` flags instead of
            the batch means.
        ignore_index (int): GT value of ignored pixels.

    Returns:
        dict[str, Tensor]: 0-dim float32 values of the defined statistics (``[B]`` values
        and flags with ``per_image``).
    """
    height, width = block_mask.shape[-2:]
    score_pix = F.interpolate(score_map.float(), size=(height, width), mode='bilinear',
                              align_corners=False)
    scores = pool_blocks(score_pix[:, 0], block, 'mean').flatten(1)
    target, valid = block_targets(gt, block, ignore_index)
    auc, auc_defined = ranking_auc(scores, target.flatten(1), valid.flatten(1))

    masked = block_mask[:, 0]
    obj = (gt != ignore_index) & (gt != 0)
    ctx = gt == 0
    obj_count, ctx_count = obj.flatten(1).sum(1), ctx.flatten(1).sum(1)
    obj_masked = (masked & obj).flatten(1).sum(1) / obj_count.clamp(min=1)
    ctx_masked = (masked & ctx).flatten(1).sum(1) / ctx_count.clamp(min=1)
    if per_image:
        return dict(aml_target_auc=auc, aml_target_auc_defined=auc_defined,
                    aml_object_masked=obj_masked.float(), aml_object_defined=obj_count > 0,
                    aml_context_masked=ctx_masked.float(), aml_context_defined=ctx_count > 0)
    stats = dict(aml_target_auc=(auc, auc_defined),
                 aml_object_masked=(obj_masked.float(), obj_count > 0),
                 aml_context_masked=(ctx_masked.float(), ctx_count > 0))
    # one host sync for the three flags (the log reads every value anyway)
    present = torch.stack([defined.any() for _, defined in stats.values()]).tolist()
    return {key: _mean_over(*value) for (key, value), keep in zip(stats.items(), present)
            if keep}


def per_image_alignment(score_map: Tensor, block_mask: Tensor, samples: Optional[Sequence],
                        block: Tuple[int, int],
                        ignore_index: int = 255) -> Optional[List[Dict[str, Optional[float]]]]:
    """The alignment statistics of every image of a masked batch, as plain numbers.

    The one place where the per-image values of :func:`alignment_statistics` are read out:
    the visualization hook writes them into its panels' captions, ``browse_aml_masks.py``
    sums them over a dataset.

    Args:
        score_map (Tensor): ``[B, 1, h, w]`` scores.
        block_mask (Tensor): ``[B, 1, H, W]`` bool, the masked pixels.
        samples (Sequence[SegDataSample], optional): The batch's samples, with their GT.
        block (tuple[int, int]): The filter's block size.
        ignore_index (int): GT value of ignored pixels.

    Returns:
        list[dict] | None: Per image ``target_auc``, ``object_masked``, ``context_masked``,
        each ``None`` where the image does not define it; ``None`` when a sample has no GT.
    """
    size = tuple(block_mask.shape[-2:])
    gt = gt_masks(samples, size, block_mask.device)
    if gt is None:
        return None
    per = alignment_statistics(score_map, block_mask, gt, block, per_image=True,
                               ignore_index=ignore_index)
    columns = (('target_auc', 'aml_target_auc', 'aml_target_auc_defined'),
               ('object_masked', 'aml_object_masked', 'aml_object_defined'),
               ('context_masked', 'aml_context_masked', 'aml_context_defined'))
    values = {name: (per[key].tolist(), per[flag].tolist()) for name, key, flag in columns}
    return [{name: value[i] if defined[i] else None
             for name, (value, defined) in values.items()} for i in range(len(gt))]
