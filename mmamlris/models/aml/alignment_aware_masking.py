# Copyright (c) mmamlris contributors. All rights reserved.
"""Alignment-aware masking (AML): PatchMax Matching Evaluation + Alignment-aware Filtering Mask."""
import inspect
import math
import warnings
from typing import Dict, NamedTuple, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmamlris.registry import MODELS
from mmamlris.utils.errors import InputValueError
from .official_compat import official_block_mask, official_relevance

__all__ = ['AMLOutput', 'AlignmentAwareMasking']

# A score map whose range is below this fraction of its magnitude counts as constant.
_CONSTANT_RTOL = 1e-5


class AMLOutput(NamedTuple):
    """What :class:`AlignmentAwareMasking` returns for one batch.

    Attributes:
        masked_inputs (Tensor): ``[B, C, H, W]`` images with the masked blocks set to
            ``fill_value`` (0 = the mean colour in normalised space), same dtype as the input.
        block_mask (Tensor): ``[B, 1, H, W]`` bool, True where a pixel belongs to a masked block.
        score_map (Tensor): ``[B, 1, h, w]`` float32 alignment score per feature cell, after
            ``score_norm``: the map that ``tau`` thresholds (after upsampling).
        weak_mask (Tensor): ``[B, 1, H, W]`` bool, the weak set: weak blocks for
            ``granularity='block'``, weak pixels for ``'pixel'`` and ``compat_official``.
        stats (dict[str, Tensor]): 0-dim float32 statistics for the log (no key contains
            ``loss``): ``aml_mask_ratio`` (fraction of pixels masked), ``aml_weak_ratio``
            (fraction of pixels weak), ``aml_score_mean``, ``aml_masked_blocks`` and
            ``aml_weak_blocks`` (blocks per image, batch mean; a block is weak when it holds
            a weak pixel in the pixel modes), ``aml_block_mask_ratio`` (fraction of blocks
            masked).
    """
    masked_inputs: Tensor
    block_mask: Tensor
    score_map: Tensor
    weak_mask: Tensor
    stats: Dict[str, Tensor]


def _pair(value: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    """``(h, w)`` from an int or a pair of positive ints."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair):
        raise ValueError(f'AlignmentAwareMasking: {name} must be a positive int or a pair of '
                         f'positive ints (h, w), got {value!r}.')
    return pair


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f'AlignmentAwareMasking: {name} must be one of {list(choices)}, '
                         f'got {value!r}.')


def _block_area(image_size: Tuple[int, int], block: Tuple[int, int],
                device: torch.device) -> Tensor:
    """Number of image pixels in each block, ``[Gh, Gw]`` float (partial last blocks)."""
    (height, width), (bh, bw) = image_size, block
    rows = (height - torch.arange(math.ceil(height / bh), device=device) * bh).clamp(max=bh)
    cols = (width - torch.arange(math.ceil(width / bw), device=device) * bw).clamp(max=bw)
    return (rows[:, None] * cols[None, :]).float()


def _pool_blocks(x: Tensor, block: Tuple[int, int], how: str) -> Tensor:
    """Pool ``[B, H, W]`` over ``bh x bw`` blocks; partial last blocks pool their real pixels.

    Returns:
        Tensor: ``[B, Gh, Gw]`` with ``Gh = ceil(H / bh)``, ``Gw = ceil(W / bw)``.
    """
    height, width = x.shape[-2:]
    bh, bw = block
    gh, gw = math.ceil(height / bh), math.ceil(width / bw)
    fill = {'mean': 0.0, 'min': float('inf'), 'max': float('-inf')}[how]
    x = F.pad(x, (0, gw * bw - width, 0, gh * bh - height), value=fill)[:, None]
    if how == 'min':
        return -F.max_pool2d(-x, block)[:, 0]
    if how == 'max':
        return F.max_pool2d(x, block)[:, 0]
    block_sum = F.avg_pool2d(x, block)[:, 0] * (bh * bw)
    return block_sum / _block_area((height, width), block, x.device)


def _expand_blocks(grid: Tensor, image_size: Tuple[int, int], block: Tuple[int, int]) -> Tensor:
    """``[B, Gh, Gw]`` block values -> ``[B, 1, H, W]`` pixel values (last blocks cropped)."""
    batch, gh, gw = grid.shape
    bh, bw = block
    pixels = grid[:, :, None, :, None].expand(batch, gh, bh, gw, bw)
    pixels = pixels.reshape(batch, 1, gh * bh, gw * bw)
    return pixels[..., :image_size[0], :image_size[1]].contiguous()


def _draw_without_replacement(candidates: Tensor, counts: Tensor) -> Tensor:
    """Draw ``counts[b]`` of the True entries of each row uniformly without replacement.

    Args:
        candidates (Tensor): ``[B, G]`` bool.
        counts (Tensor): ``[B]`` int64, at most the number of candidates of each row.

    Returns:
        Tensor: ``[B, G]`` bool, exactly ``counts[b]`` True entries per row, all candidates.
    """
    keys = torch.rand(candidates.shape, device=candidates.device)
    keys = keys.masked_fill(~candidates, 2.0)  # non-candidates sort last
    order = keys.argsort(dim=1, stable=True)
    positions = torch.arange(keys.shape[1], device=keys.device).expand_as(order)
    rank = torch.empty_like(order).scatter_(1, order, positions)
    return candidates & (rank < counts[:, None])


def _minmax(score: Tensor) -> Tensor:
    """Rescale each image's ``[B, 1, h, w]`` map to ``[0, 1]``; a constant map becomes all 1."""
    flat = score.flatten(1)
    low = flat.amin(dim=1, keepdim=True)
    high = flat.amax(dim=1, keepdim=True)
    spread = high - low
    constant = spread <= _CONSTANT_RTOL * torch.maximum(low.abs(), high.abs())
    scaled = (flat - low) / spread.clamp_min(torch.finfo(flat.dtype).tiny)
    return torch.where(constant, torch.ones_like(flat), scaled).view_as(score)


@MODELS.register_module()
class AlignmentAwareMasking(BaseModule):
    r"""Alignment-aware masking of AMLRIS: PMME scores, then the AFM block mask.

    A training-only component without trainable parameters. Stage 1 of
    :class:`AMLSegmentor` gives it the clean images and their features; it returns the images
    with weakly aligned blocks masked, for the stage-2 forward and loss (DESIGN.md §1).

    **Algorithm** (``B`` images ``[B, 3, H, W]``, visual features ``V`` ``[B, C_v, h, w]``,
    tokens ``T`` ``[B, N, C_t]`` with mask ``[B, N]``; every step in float32 under
    ``torch.no_grad()``, autocast off, vectorised over the batch):

    1. PMME.

       a. ``normalize``: l2-normalise ``V`` per cell and ``T`` per token. Padding tokens are
          zeroed first, so their features never reach the result.
       b. Projection. ``'random'``: ``(V W_v)(T W_t)^T`` with fixed Gaussian buffers
          ``W_v`` ``[C_v, D_a]``, ``W_t`` ``[C_t, D_a]``, entries N(0, 1/D_a) (computed as
          ``V ((T W_t) W_v^T)^T``, the same product in a cheaper order).
          ``'text_to_visual'``: ``V (T W^T + b)^T`` with a fixed ``Linear(C_t -> C_v)``
          initialised as PyTorch initialises ``nn.Linear`` (U(+-1/sqrt(C_t)), weight and bias).
          Divided by ``temperature``: ``S`` ``[B, hw, N]``.
       c. Softmax over the real tokens of each cell (``softmax_over='tokens'``; padding gets
          probability 0) or over the cells for each token (``'cells'``).
       d. Reduce over the real tokens: ``'max'`` (PatchMax: a cell is aligned if one word
          matches it) or ``'mean'``. A sample without any real token scores 1 everywhere.
       e. ``score_norm='minmax'`` rescales each image's map to ``[0, 1]``
          (``(s - min) / (max - min)``; a constant map becomes all 1, i.e. nothing weak).
          Result: ``score_map`` ``[B, 1, h, w]``.

    2. AFM. Bilinear upsampling (``align_corners=False``) of ``score_map`` to ``H x W``.
       Blocks are ``bh x bw`` (``block_size``) on a ``ceil(H/bh) x ceil(W/bw)`` grid; the
       last row / column of blocks may be partial and is a block like the others.

       - ``granularity='block'`` (default): a block is weak when the ``block_pool`` (mean by
         default; ``'min'``/``'max'``) of its upsampled scores is ``< tau``. Of the ``n`` weak
         blocks of an image, exactly ``k = floor(rho * n + 0.5)`` are masked (round half up,
         no minimum: ``n = 1`` with ``rho = 0.25`` masks nothing), drawn uniformly without
         replacement (random keys, ranked per image: no loop).
       - ``granularity='pixel'`` (the paper's literal recipe): weak pixels are those
         ``< tau``; each is selected with probability ``rho`` (Bernoulli); a block is masked
         when any selected pixel lies in it. Dense weak sets mask nearly every weak block.

       ``mode='random'`` masks the same number of blocks per image as ``'aml'`` would, drawn
       uniformly among **all** blocks (the paper's "+ Random Mask" ablation); ``mode='none'``
       masks nothing but still reports the scores and statistics.
       ``masked_inputs = where(block_mask, fill_value, inputs)``: ``fill_value=0`` is the
       mean colour of the normalised batch, i.e. ``inputs * (1 - block_mask)``.

    **Options: paper vs released code** (DESIGN.md §1, RIS_REFERENCE.md §1.4-1.5)

    ================  ================================  ================================
    key               paper / ours (default)            released code (compat_official)
    ================  ================================  ================================
    projection        ``'random'`` Gaussian, both       ``'text_to_visual'``: untrained
                      modalities                        Linear(C_t -> C_v) with bias
    normalize         True                              False
    temperature       0.05 (ours, see below)            1.0
    softmax_over      ``'tokens'`` ("column-wise";      ``'tokens'``
                      ``'cells'`` is the other axis)
    padding tokens    excluded                          included (a bug; compat only)
    reduce            ``'max'`` (``'mean'``: ablation)  ``'max'``
    score_norm        ``'minmax'`` (ours, see below)    ``'none'``
    granularity       ``'block'`` (``'pixel'``: the     ``K // 4`` of the weak (block,
                      paper's literal recipe)           pixel-offset) pairs, both
                                                        columns used as block ids
    ================  ================================  ================================

    ``compat_official=True`` sets the right column itself (``projection``, ``normalize``,
    ``temperature``, ``softmax_over``, ``reduce``, ``score_norm``, ``granularity``, ``mode``
    and the padding mask) and warns about any of those given with a non-default value, which
    it overrides; ``tau``, ``rho`` (``0.25`` = ``// 4``), ``block_size``, ``fill_value`` and
    ``seed`` still apply. It masks ``n = max(1, floor(rho * K))`` of the ``K`` weak
    (block, pixel-offset) pairs and, as the released code does through an indexing slip,
    block ``min(offset, N - 1)`` as well as the pair's own block (see
    :mod:`mmamlris.models.aml.official_compat`). Differences that remain: we compute in
    float32 where the released code ran the product under fp16 autocast, the projection is
    seeded (the released code sets no seed), and the softmax spans the ``N`` token slots the
    batch has (20 with ``TokenizeExpression(pad_to_max=True)``, as in the released code).

    **Why ``temperature=0.05`` and ``score_norm='minmax'`` by default (the scale trap).**
    Unrelated l2-normalised features have projected cosines of about +-1/sqrt(D_a) (0.06 at
    D_a=256), so with ``temperature=1`` a softmax over ~10-20 tokens is flat, its max sits
    near ``1/N`` below ``tau=0.4`` everywhere, every block is weak and AML degenerates into
    random masking of ``rho`` of the image. Measured on CPU (seeded, 12 batches per cell,
    20 token slots of which 10 real, ``D_a=256``, 32 x 32 blocks = one feature cell):
    *random*: Gaussian features; *planted*: 20 % of the cells of each image are
    ``0.25 u + g`` with ``u`` the unit visual direction whose projection matches one real
    token's projection and ``g`` unit-norm noise (projected similarity ~0.35-0.5 against
    +-0.06); *+common*: the planted features l2-normalised plus one shared direction per
    modality (anisotropy, as in real encoders). Each cell: fraction of blocks weak / masked,
    and for planted features the fraction of aligned / other blocks masked.

    ===========================  ===========  =======================  =======================
    vis [2,512,5,5], 160 x 160   random       planted                  planted + common
    ===========================  ===========  =======================  =======================
    defaults (0.05, minmax)      .63 / .16    .68 / .18 / .00 / .22    .80 / .21 / .06 / .24
    temperature 1, none          1.0 / .24    1.0 / .24 / .24 / .24    1.0 / .24 / .27 / .23
    temperature 0.05, none       .63 / .16    .36 / .10 / .00 / .12    .71 / .18 / .04 / .22
    temperature 1, minmax        .54 / .14    .83 / .21 / .02 / .25    .82 / .21 / .07 / .24
    defaults, granularity pixel  .89 / .88    .88 / .86 / .38 / .98    .97 / .96 / .82 / 1.0
    ===========================  ===========  =======================  =======================

    ===========================  ===========  =======================  =======================
    vis [8,1024,14,14], 448^2    random       planted                  planted + common
    ===========================  ===========  =======================  =======================
    defaults (0.05, minmax)      .79 / .20    .63 / .16 / .00 / .20    .77 / .19 / .01 / .24
    temperature 1, none          1.0 / .25    1.0 / .25 / .24 / .25    1.0 / .25 / .25 / .25
    temperature 0.05, none       .66 / .16    .33 / .08 / .00 / .11    .63 / .16 / .00 / .20
    temperature 1, minmax        .70 / .18    .82 / .21 / .03 / .25    .84 / .21 / .06 / .25
    defaults, granularity pixel  .97 / .96    .85 / .83 / .24 / .98    .95 / .94 / .71 / 1.0
    ===========================  ===========  =======================  =======================

    With the defaults, ``tau=0.4, rho=0.25`` mask 16-21 % of the blocks and almost never an
    aligned one; minmax makes the weak set relative to each image, so it does not depend on
    ``D_a``, the token count or the feature scale (without it, ``temperature`` alone has to
    be re-tuned: 0.02 already leaves nothing weak). ``granularity='pixel'`` shows the
    density trap: 83-96 % of the image masked, aligned blocks included. Note that with two
    *independent* random projections, ``(V W_v)(T W_t)^T`` is a fixed random bilinear form
    of the raw features: it measures alignment only along directions the encoders happen to
    share through ``W_v W_t^T`` (the released code's untrained Linear has the same property).

    Args:
        vis_channels (int): ``C_v`` of the visual features.
        text_channels (int): ``C_t`` of the token features.
        proj_dim (int): ``D_a`` of the random projections. Defaults to 256.
        projection (str): ``'random'`` or ``'text_to_visual'``. Defaults to ``'random'``.
        normalize (bool): l2-normalise cells and tokens first. Defaults to True.
        temperature (float): Divides the similarities before the softmax. Defaults to 0.05.
        softmax_over (str): ``'tokens'`` or ``'cells'``. Defaults to ``'tokens'``.
        reduce (str): ``'max'`` (PatchMax) or ``'mean'`` over the real tokens.
        score_norm (str): ``'minmax'`` or ``'none'``. Defaults to ``'minmax'``.
        tau (float): Weak threshold on the (upsampled) score. Defaults to 0.4.
        rho (float): Fraction of the weak set selected, in ``[0, 1]``. Defaults to 0.25.
        block_size (int | tuple[int, int]): Mask block ``(bh, bw)``. Defaults to 32.
        granularity (str): ``'block'`` or ``'pixel'``. Defaults to ``'block'``.
        block_pool (str): How ``'block'`` pools the pixel scores of a block: ``'mean'``,
            ``'min'`` or ``'max'``. Defaults to ``'mean'``.
        mode (str): ``'aml'``, ``'random'`` or ``'none'``. Defaults to ``'aml'``.
        fill_value (float): Value of masked pixels (normalised space). Defaults to 0.0.
        seed (int): Seed of the CPU generator that draws the projection buffers (identical on
            every rank; saved in checkpoints). Defaults to 0.
        compat_official (bool): Reproduce the released code (see above). Defaults to False.
        init_cfg (dict, optional): Unused (no parameters); kept for the BaseModule API.
    """

    _COMPAT_SETTINGS = dict(projection='text_to_visual', normalize=False, temperature=1.0,
                            softmax_over='tokens', reduce='max', score_norm='none',
                            granularity='pixel', mode='aml')

    def __init__(self,
                 vis_channels: int,
                 text_channels: int,
                 proj_dim: int = 256,
                 projection: str = 'random',
                 normalize: bool = True,
                 temperature: float = 0.05,
                 softmax_over: str = 'tokens',
                 reduce: str = 'max',
                 score_norm: str = 'minmax',
                 tau: float = 0.4,
                 rho: float = 0.25,
                 block_size: Union[int, Sequence[int]] = 32,
                 granularity: str = 'block',
                 block_pool: str = 'mean',
                 mode: str = 'aml',
                 fill_value: float = 0.0,
                 seed: int = 0,
                 compat_official: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('vis_channels', vis_channels), ('text_channels', text_channels),
                            ('proj_dim', proj_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f'AlignmentAwareMasking: {name} must be a positive int, '
                                 f'got {value!r}.')
        self.compat_official = bool(compat_official)
        if self.compat_official:
            given = dict(projection=projection, normalize=normalize, temperature=temperature,
                         softmax_over=softmax_over, reduce=reduce, score_norm=score_norm,
                         granularity=granularity, mode=mode)
            self._warn_overridden(given)
            released = self._COMPAT_SETTINGS
            projection, normalize = released['projection'], released['normalize']
            temperature, softmax_over = released['temperature'], released['softmax_over']
            reduce, score_norm = released['reduce'], released['score_norm']
            granularity, mode = released['granularity'], released['mode']
        _check_choice('projection', projection, ('random', 'text_to_visual'))
        _check_choice('softmax_over', softmax_over, ('tokens', 'cells'))
        _check_choice('reduce', reduce, ('max', 'mean'))
        _check_choice('score_norm', score_norm, ('none', 'minmax'))
        _check_choice('granularity', granularity, ('block', 'pixel'))
        _check_choice('block_pool', block_pool, ('mean', 'min', 'max'))
        _check_choice('mode', mode, ('aml', 'random', 'none'))
        if not temperature > 0:
            raise ValueError(f'AlignmentAwareMasking: temperature must be > 0, got '
                             f'{temperature!r}.')
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f'AlignmentAwareMasking: rho (the fraction of the weak set that '
                             f'is masked) must be in [0, 1], got {rho!r}.')
        if not math.isfinite(tau) or not math.isfinite(fill_value):
            raise ValueError('AlignmentAwareMasking: tau and fill_value must be finite, got '
                             f'{tau!r} and {fill_value!r}.')

        self.vis_channels = vis_channels
        self.text_channels = text_channels
        self.proj_dim = proj_dim
        self.projection = projection
        self.normalize = bool(normalize)
        self.temperature = float(temperature)
        self.softmax_over = softmax_over
        self.reduce = reduce
        self.score_norm = score_norm
        self.tau = float(tau)
        self.rho = float(rho)
        self.block_size = _pair(block_size, 'block_size')
        self.granularity = granularity
        self.block_pool = block_pool
        self.mode = mode
        self.fill_value = float(fill_value)
        self.seed = int(seed)
        self._init_projection()

    def _warn_overridden(self, given: Dict[str, object]) -> None:
        """Warn about options that ``compat_official=True`` replaces by the released values."""
        params = inspect.signature(AlignmentAwareMasking.__init__).parameters
        defaults = {k: params[k].default for k in given}
        overridden = {k: v for k, v in given.items()
                      if v != defaults[k] and v != self._COMPAT_SETTINGS[k]}
        if overridden:
            warnings.warn(f'AlignmentAwareMasking: compat_official=True reproduces the released '
                          f'code and overrides {overridden} with '
                          f'{ {k: self._COMPAT_SETTINGS[k] for k in overridden} }.')

    def _init_projection(self) -> None:
        """Draw the fixed projection buffers from ``seed`` on the CPU (same on every rank)."""
        generator = torch.Generator(device='cpu').manual_seed(self.seed)
        if self.projection == 'random':
            std = 1.0 / math.sqrt(self.proj_dim)
            self.register_buffer('vis_proj', torch.randn(
                self.vis_channels, self.proj_dim, generator=generator) * std)
            self.register_buffer('text_proj', torch.randn(
                self.text_channels, self.proj_dim, generator=generator) * std)
        else:
            # nn.Linear.reset_parameters: kaiming_uniform(a=sqrt(5)) for the weight and
            # U(+-1/sqrt(fan_in)) for the bias, i.e. both U(+-1/sqrt(C_t)).
            bound = 1.0 / math.sqrt(self.text_channels)
            weight = torch.rand(self.vis_channels, self.text_channels, generator=generator)
            bias = torch.rand(self.vis_channels, generator=generator)
            self.register_buffer('text_proj_weight', (weight * 2 - 1) * bound)
            self.register_buffer('text_proj_bias', (bias * 2 - 1) * bound)

    def extra_repr(self) -> str:
        parts = [f'vis_channels={self.vis_channels}', f'text_channels={self.text_channels}']
        if self.compat_official:
            parts.append('compat_official=True')
        else:
            parts += [f'projection={self.projection!r}']
            if self.projection == 'random':
                parts.append(f'proj_dim={self.proj_dim}')
            parts += [f'normalize={self.normalize}', f'temperature={self.temperature}',
                      f'softmax_over={self.softmax_over!r}', f'reduce={self.reduce!r}',
                      f'score_norm={self.score_norm!r}', f'granularity={self.granularity!r}']
            if self.granularity == 'block':
                parts.append(f'block_pool={self.block_pool!r}')
        parts += [f'tau={self.tau}', f'rho={self.rho}', f'block_size={self.block_size}',
                  f'mode={self.mode!r}', f'fill_value={self.fill_value}', f'seed={self.seed}']
        return ', '.join(parts)

    # ------------------------------------------------------------------ checks
    def _check_inputs(self, inputs: Tensor, vis_feat: Tensor, text_feat: Tensor,
                      text_mask: Tensor) -> None:
        """Clear errors for tensors of the wrong rank, width or batch size."""
        name = type(self).__name__
        if inputs.dim() != 4:
            raise ValueError(f'{name}: inputs must be [B, C, H, W], got shape '
                             f'{tuple(inputs.shape)}.')
        if vis_feat.dim() != 4 or vis_feat.shape[1] != self.vis_channels:
            raise ValueError(f'{name}: vis_feat must be [B, vis_channels={self.vis_channels}, '
                             f'h, w], got shape {tuple(vis_feat.shape)}; set vis_channels to '
                             f'the channels of the feature level AML uses.')
        if text_feat.dim() != 3 or text_feat.shape[2] != self.text_channels:
            raise ValueError(f'{name}: text_feat must be [B, N, text_channels='
                             f'{self.text_channels}], got shape {tuple(text_feat.shape)}; set '
                             f'text_channels to the width of the text encoder.')
        if text_mask.shape != text_feat.shape[:2]:
            raise ValueError(f'{name}: text_mask must be [B, N] = {tuple(text_feat.shape[:2])} '
                             f'(True for real tokens), got shape {tuple(text_mask.shape)}.')
        sizes = {inputs.shape[0], vis_feat.shape[0], text_feat.shape[0]}
        if len(sizes) != 1:
            raise ValueError(f'{name}: inputs, vis_feat and text_feat must have the same batch '
                             f'size, got {inputs.shape[0]}, {vis_feat.shape[0]} and '
                             f'{text_feat.shape[0]}.')
        if text_feat.shape[1] == 0:
            raise ValueError(f'{name}: text_feat has no token slot (N = 0).')
        self.check_image_size(*inputs.shape[-2:])

    def check_image_size(self, height: int, width: int) -> None:
        """Refuse images smaller than one block: a masked block would hide all of it.

        :class:`AMLSegmentor` also calls this with every sample's ``img_shape`` (the image
        before batch padding, which the tensor shape does not show).

        Raises:
            InputValueError: If ``granularity='block'``, ``mode != 'none'`` and ``height`` or
                ``width`` is smaller than the block.
        """
        block_h, block_w = self.block_size
        if (self.granularity == 'block' and self.mode != 'none'
                and (height < block_h or width < block_w)):
            raise InputValueError(
                f'{type(self).__name__}: the input images are {height}x{width}, smaller than '
                f'one AML block ({block_h}x{block_w}), so a masked block would hide the whole '
                'image. Resize the images to at least the block size (the `scale` of Resize in '
                'the pipeline) or lower model.aml.block_size.')

    # ------------------------------------------------------------------ PMME
    def alignment_scores(self, vis_feat: Tensor, text_feat: Tensor,
                         text_mask: Tensor) -> Tensor:
        """PatchMax Matching Evaluation: one alignment score per feature cell.

        Args:
            vis_feat (Tensor): ``[B, C_v, h, w]``.
            text_feat (Tensor): ``[B, N, C_t]``.
            text_mask (Tensor): ``[B, N]``, True (or 1) for real tokens.

        Returns:
            Tensor: float32 ``[B, 1, h, w]``, after ``score_norm``.
        """
        vis_feat = vis_feat.float()
        text_feat = text_feat.float()
        if self.compat_official:
            return official_relevance(vis_feat, text_feat, self.text_proj_weight.float(),
                                      self.text_proj_bias.float())
        batch, _, h, w = vis_feat.shape
        valid = text_mask.bool()
        # Zero the padding first: whatever it holds (even inf/NaN) cannot reach the scores.
        text = torch.where(valid[..., None], text_feat, torch.zeros((), device=text_feat.device))
        vis = vis_feat.flatten(2).transpose(1, 2)  # [B, hw, C_v]
        if self.normalize:
            text = F.normalize(text, dim=-1)
        if self.projection == 'random':
            # (V W_v)(T W_t)^T computed as V ((T W_t) W_v^T)^T: C_v x N instead of hw x D_a.
            text = (text @ self.text_proj.float()) @ self.vis_proj.float().t()
        else:
            text = F.linear(text, self.text_proj_weight.float(), self.text_proj_bias.float())
        sim = torch.bmm(vis, text.transpose(1, 2))  # [B, hw, N]
        if self.normalize:
            # Dividing each cell's row of S by |v| equals l2-normalising the cells first.
            sim = sim / vis_feat.flatten(2).norm(dim=1)[..., None].clamp_min(1e-12)
        sim = sim / self.temperature

        pad = ~valid[:, None, :]  # [B, 1, N]
        if self.softmax_over == 'tokens':
            prob = sim.masked_fill(pad, torch.finfo(sim.dtype).min).softmax(dim=2)
        else:
            prob = sim.softmax(dim=1)
        if self.reduce == 'max':
            score = prob.masked_fill(pad, float('-inf')).amax(dim=2)
        else:
            score = prob.masked_fill(pad, 0.0).sum(dim=2) / valid.sum(
                dim=1, keepdim=True).clamp(min=1)
        # A sample with no real token has nothing to align with: score 1, nothing weak.
        score = torch.where(valid.any(dim=1, keepdim=True), score, torch.ones_like(score))
        score = score.view(batch, 1, h, w)
        if self.score_norm == 'minmax':
            score = _minmax(score)
        return score

    # ------------------------------------------------------------------ AFM
    def _aml_blocks(self, score_pix: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Blocks AML masks: ``(masked [B, Gh, Gw], weak pixels [B, 1, H, W], weak blocks)``."""
        image_size = score_pix.shape[-2:]
        if self.granularity == 'block':
            pooled = _pool_blocks(score_pix[:, 0], self.block_size, self.block_pool)
            weak_blocks = pooled < self.tau  # [B, Gh, Gw]
            flat = weak_blocks.flatten(1)
            counts = (flat.sum(dim=1).double() * self.rho + 0.5).floor().long()
            masked = _draw_without_replacement(flat, counts).view_as(weak_blocks)
            weak_mask = _expand_blocks(weak_blocks, image_size, self.block_size)
            return masked, weak_mask, weak_blocks
        weak_mask = score_pix < self.tau
        selected = weak_mask & (torch.rand(weak_mask.shape, device=weak_mask.device) < self.rho)
        masked = _pool_blocks(selected[:, 0].float(), self.block_size, 'max') > 0
        weak_blocks = _pool_blocks(weak_mask[:, 0].float(), self.block_size, 'max') > 0
        return masked, weak_mask, weak_blocks

    def mask_from_scores(self, inputs: Tensor, score_map: Tensor) -> AMLOutput:
        """Alignment-aware Filtering Mask: mask blocks of ``inputs`` from a score map.

        Args:
            inputs (Tensor): Normalised, padded images ``[B, C, H, W]``.
            score_map (Tensor): ``[B, 1, h, w]`` scores (as returned by
                :meth:`alignment_scores`).

        Returns:
            AMLOutput: Masked images, masks, the score map and the statistics.
        """
        if inputs.dim() != 4 or score_map.dim() != 4 or score_map.shape[1] != 1 or \
                score_map.shape[0] != inputs.shape[0]:
            raise ValueError(f'{type(self).__name__}.mask_from_scores: needs inputs [B, C, H, W] '
                             f'and score_map [B, 1, h, w] with the same B, got shapes '
                             f'{tuple(inputs.shape)} and {tuple(score_map.shape)}.')
        height, width = inputs.shape[-2:]
        score_map = score_map.float()
        if self.compat_official:
            masked, weak_mask = official_block_mask(score_map, (height, width), self.block_size,
                                                    self.tau, self.rho)
            weak_blocks = _pool_blocks(weak_mask[:, 0].float(), self.block_size, 'max') > 0
        else:
            score_pix = F.interpolate(score_map, size=(height, width), mode='bilinear',
                                      align_corners=False)
            masked, weak_mask, weak_blocks = self._aml_blocks(score_pix)
            if self.mode == 'random':
                counts = masked.flatten(1).sum(dim=1)
                masked = _draw_without_replacement(
                    torch.ones_like(masked.flatten(1)), counts).view_as(masked)
            elif self.mode == 'none':
                masked = torch.zeros_like(masked)
        block_mask = _expand_blocks(masked, (height, width), self.block_size)
        masked_inputs = inputs.masked_fill(block_mask, self.fill_value)
        stats = self._statistics(masked, weak_blocks, weak_mask, score_map, (height, width))
        return AMLOutput(masked_inputs, block_mask, score_map, weak_mask, stats)

    def _statistics(self, masked: Tensor, weak_blocks: Tensor, weak_mask: Tensor,
                    score_map: Tensor, image_size: Tuple[int, int]) -> Dict[str, Tensor]:
        """0-dim float32 statistics for the log, computed on the block grid where possible."""
        area = _block_area(image_size, self.block_size, masked.device)
        num_pixels = masked.shape[0] * image_size[0] * image_size[1]
        if self.granularity == 'block' and not self.compat_official:
            weak_ratio = (weak_blocks * area).sum() / num_pixels
        else:
            weak_ratio = weak_mask.count_nonzero().float() / num_pixels
        return dict(
            aml_mask_ratio=(masked * area).sum() / num_pixels,
            aml_weak_ratio=weak_ratio,
            aml_score_mean=score_map.mean(),
            aml_masked_blocks=masked.flatten(1).sum(dim=1).float().mean(),
            aml_weak_blocks=weak_blocks.flatten(1).sum(dim=1).float().mean(),
            aml_block_mask_ratio=masked.float().mean())

    @torch.no_grad()
    def forward(self, inputs: Tensor, vis_feat: Tensor, text_feat: Tensor,
                text_mask: Tensor) -> AMLOutput:
        """Score the alignment of every feature cell and mask weakly aligned blocks.

        Args:
            inputs (Tensor): Normalised, padded images ``[B, 3, H, W]``.
            vis_feat (Tensor): Visual features ``[B, C_v, h, w]`` of the same images.
            text_feat (Tensor): Token features ``[B, N, C_t]``.
            text_mask (Tensor): ``[B, N]`` bool, True for real tokens.

        Returns:
            AMLOutput: See :class:`AMLOutput`.
        """
        self._check_inputs(inputs, vis_feat, text_feat, text_mask)
        with torch.autocast(device_type=inputs.device.type, enabled=False):
            score_map = self.alignment_scores(vis_feat, text_feat, text_mask)
            return self.mask_from_scores(inputs, score_map)
