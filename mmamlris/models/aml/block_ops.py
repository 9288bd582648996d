# Copyright (c) mmamlris contributors. All rights reserved.
"""Operations on the block grid that AML masks: pooling, expansion, drawing blocks."""
import math
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['as_pair', 'block_area', 'pool_blocks', 'expand_blocks', 'draw_without_replacement',
           'rank_per_row']


def as_pair(value: Union[int, Sequence[int]], name: str, owner: str) -> Tuple[int, int]:
    """``(h, w)`` from an int or a pair of positive ints; ``owner`` names the caller."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair):
        raise ValueError(f'{owner}: {name} must be a positive int or a pair of positive ints '
                         f'(h, w), got {value!r}.')
    return pair


def block_area(image_size: Tuple[int, int], block: Tuple[int, int],
               device: torch.device) -> Tensor:
    """Number of image pixels in each block, ``[Gh, Gw]`` float (partial last blocks)."""
    (height, width), (bh, bw) = image_size, block
    rows = (height - torch.arange(math.ceil(height / bh), device=device) * bh).clamp(max=bh)
    cols = (width - torch.arange(math.ceil(width / bw), device=device) * bw).clamp(max=bw)
    return (rows[:, None] * cols[None, :]).float()


def pool_blocks(x: Tensor, block: Tuple[int, int], how: str) -> Tensor:
    """Pool ``[B, H, W]`` over ``bh x bw`` blocks; partial last blocks pool their real pixels.

    Args:
        x (Tensor): ``[B, H, W]`` float.
        block (tuple[int, int]): ``(bh, bw)``.
        how (str): ``'mean'`` or ``'max'``.

    Returns:
        Tensor: ``[B, Gh, Gw]`` with ``Gh = ceil(H / bh)``, ``Gw = ceil(W / bw)``.
    """
    height, width = x.shape[-2:]
    bh, bw = block
    gh, gw = math.ceil(height / bh), math.ceil(width / bw)
    fill = {'mean': 0.0, 'max': float('-inf')}[how]
    x = F.pad(x, (0, gw * bw - width, 0, gh * bh - height), value=fill)[:, None]
    if how == 'max':
        return F.max_pool2d(x, block)[:, 0]
    block_sum = F.avg_pool2d(x, block)[:, 0] * (bh * bw)
    return block_sum / block_area((height, width), block, x.device)


def expand_blocks(grid: Tensor, image_size: Tuple[int, int], block: Tuple[int, int]) -> Tensor:
    """``[B, Gh, Gw]`` block values -> ``[B, 1, H, W]`` pixel values (last blocks cropped)."""
    batch, gh, gw = grid.shape
    bh, bw = block
    pixels = grid[:, :, None, :, None].expand(batch, gh, bh, gw, bw)
    pixels = pixels.reshape(batch, 1, gh * bh, gw * bw)
    return pixels[..., :image_size[0], :image_size[1]].contiguous()


def draw_without_replacement(candidates: Tensor, counts: Tensor) -> Tensor:
    """Draw ``counts[b]`` of the True entries of each row uniformly without replacement.

    Random keys ranked per row: vectorised over the batch, no Python loop, one
    ``torch.rand`` call on the candidates' device.

    Args:
        candidates (Tensor): ``[B, G]`` bool.
        counts (Tensor): ``[B]`` int64, at most the number of candidates of each row.

    Returns:
        Tensor: ``[B, G]`` bool, exactly ``counts[b]`` True entries per row, all candidates.
    """
    keys = torch.rand(candidates.shape, device=candidates.device)
    keys = keys.masked_fill(~candidates, 2.0)  # non-candidates sort last
    return candidates & (rank_per_row(keys) < counts[:, None])


def rank_per_row(keys: Tensor) -> Tensor:
    """Rank (0 = smallest) of every key of each row of ``[B, G]``; ties by position."""
    order = keys.argsort(dim=1, stable=True)
    positions = torch.arange(keys.shape[1], device=keys.device).expand_as(order)
    return torch.empty_like(order).scatter_(1, order, positions)
