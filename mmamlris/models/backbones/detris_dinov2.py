# Copyright (c) mmamlris contributors. All rights reserved.
"""DETRIS's visual backbone: a frozen DINOv2 with registers and trainable dense aligners."""
import math
import types
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmamlris.registry import MODELS
from ..layers import DenseAligner
from ..utils import FrozenModelMixin
from .base_text_fused_backbone import BaseTextFusedBackbone

__all__ = ['DETRISDinov2']


def _official_pos_interpolation(embeddings: nn.Module, tokens: Tensor, height: int,
                                width: int, offset: float) -> Tensor:
    """DINOv2's own position-table interpolation, which DETRIS runs (transformers' version
    resizes to the exact size with antialiasing instead): bicubic, no antialiasing, scale
    factors ``(n + offset) / M`` for an ``n``-patch side and an ``M x M`` table."""
    table = embeddings.position_embeddings
    if tokens.shape[1] - 1 == table.shape[1] - 1 and height == width:
        return table
    patch = embeddings.patch_embeddings.patch_size
    patch = patch if isinstance(patch, (tuple, list)) else (patch, patch)
    rows, cols = height // patch[0], width // patch[1]
    side = int(round(math.sqrt(table.shape[1] - 1)))
    grid = table[:, 1:].float().reshape(1, side, side, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=((rows + offset) / side, (cols + offset) / side),
                         mode='bicubic', antialias=False)
    if tuple(grid.shape[-2:]) != (rows, cols):
        raise RuntimeError(f'DETRISDinov2: the position table resized to '
                           f'{tuple(grid.shape[-2:])}, not {(rows, cols)}.')
    grid = grid.permute(0, 2, 3, 1).reshape(1, rows * cols, -1)
    return torch.cat([table[:, :1].float(), grid], dim=1).to(table.dtype)


@MODELS.register_module()
class DETRISDinov2(FrozenModelMixin, BaseTextFusedBackbone):
    """A frozen DINOv2 with registers (``transformers``' ``Dinov2WithRegistersModel``, not a
    copy) with DETRIS's trainable :class:`DenseAligner` in some blocks.

    The aligners are added without touching the transformer's code: a forward hook on the
    chosen blocks' ``mlp`` adds ``0.2 * aligner(norm2(x), words)`` to the MLP's output, i.e.
    before the block's LayerScale, as DETRIS does; the words and the patch grid reach the hooks
    through the backbone for the duration of one forward. The position table is interpolated
    as DINOv2's own code does (:func:`_official_pos_interpolation`).

    .. code:: text

        forward(img, words, mask):  [mask unused: DETRIS's aligners attend to every token]
            tokens = embeddings(img)                       # cls, 4 registers, patches
            for each block i:  x += ls1(attn(norm1(x)))
                               x += ls2(mlp(norm2(x)) [+ 0.2 * aligner_i(norm2(x), words)])
            levels = blocks out_layers (before the final norm), layernorm(last)
            -> the patch tokens as [B, C, H/14, W/14] maps

    Args:
        dinov2 (dict): ``Dinov2WithRegistersConfig`` arguments (DINOv2-B/14 with registers:
            ``hidden_size=768, num_hidden_layers=12, num_attention_heads=12``, patch 14,
            ``num_register_tokens=4``, ``layerscale_value=1.0``).
        pretrained (str, optional): A directory written by ``save_pretrained`` (e.g. of
            ``facebook/dinov2-with-registers-base``); without it the weights are random.
        adapter_layers (Sequence[int]): Blocks with an aligner. Defaults to DETRIS's
            ``(1, 3, 5, 7, 9, 11)``.
        adapter_channels (int): Aligner bottleneck. Defaults to 128.
        text_channels (int): Word feature width. Defaults to 512 (CLIP ViT-B/16).
        out_layers (Sequence[int]): Blocks whose outputs are levels, before the final
            norm; the normed last block is always the last level. Defaults to ``(4, 8)``.
        interpolate_offset (float): Defaults to 0.1 (DINOv2's).
        adapter_scale (float): Defaults to 0.2 (DETRIS's).
        freeze (bool): Freeze the transformer (the aligners train). Defaults to True.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 dinov2: dict,
                 pretrained: Optional[str] = None,
                 adapter_layers: Sequence[int] = (1, 3, 5, 7, 9, 11),
                 adapter_channels: int = 128,
                 text_channels: int = 512,
                 out_layers: Sequence[int] = (4, 8),
                 interpolate_offset: float = 0.1,
                 adapter_scale: float = 0.2,
                 freeze: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self._init_dinov2(dinov2, pretrained, interpolate_offset)
        depth = len(self.model.encoder.layer)
        for index in (*adapter_layers, *out_layers):
            if not 0 <= index < depth:
                raise ValueError(f'DETRISDinov2: block {index} does not exist (the model has '
                                 f'{depth} blocks).')
        self.out_layers = tuple(out_layers)
        self.adapter_scale = float(adapter_scale)
        self.num_prefix_tokens = 1 + self.model.config.num_register_tokens
        self._init_aligners(adapter_layers, adapter_channels, text_channels)
        self._init_freeze(freeze)
        self._context: Optional[Tuple[Tensor, Tuple[int, int]]] = None

    def _init_dinov2(self, dinov2: dict, pretrained: Optional[str], offset: float) -> None:
        """Build (or load) the transformer and give it DINOv2's position interpolation."""
        from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel
        if pretrained is not None:
            self.model = Dinov2WithRegistersModel.from_pretrained(pretrained)
        else:
            self.model = Dinov2WithRegistersModel(Dinov2WithRegistersConfig(**dinov2))
        embeddings = self.model.embeddings
        embeddings.interpolate_pos_encoding = types.MethodType(
            lambda module, tokens, height, width: _official_pos_interpolation(
                module, tokens, height, width, offset), embeddings)

    def _init_aligners(self, layers: Sequence[int], channels: int, text_channels: int) -> None:
        """One :class:`DenseAligner` per chosen block, hooked onto that block's MLP."""
        width = self.model.config.hidden_size
        self.aligners = nn.ModuleDict({
            str(i): DenseAligner(width, channels, text_channels,
                                 num_prefix_tokens=1 + self.model.config.num_register_tokens)
            for i in layers
        })
        for i in layers:
            self.model.encoder.layer[i].mlp.register_forward_hook(self._aligner_hook(str(i)))

    def _aligner_hook(self, key: str):
        def hook(module: nn.Module, args: Tuple[Tensor, ...], output: Tensor) -> Tensor:
            if self._context is None:
                raise RuntimeError('DETRISDinov2: its blocks run only inside its forward().')
            words, hw = self._context
            return output + self.adapter_scale * self.aligners[key](args[0], words, hw)
        return hook

    @property
    def patch_size(self) -> int:
        """int: The side of a patch in pixels (14); inputs should be multiples of it."""
        patch = self.model.config.patch_size
        return patch if isinstance(patch, int) else patch[0]

    def forward(self, inputs: Tensor, text_feats: Tensor,
                text_mask: Tensor) -> Tuple[Tensor, ...]:
        """Levels ``[B, C, H/14, W/14]``: ``out_layers`` then the normed last block."""
        patch = self.model.config.patch_size
        hw = (inputs.shape[-2] // patch, inputs.shape[-1] // patch)
        self._context = (text_feats, hw)
        try:
            out = self.model(pixel_values=inputs, output_hidden_states=True)
        finally:
            self._context = None
        tokens = [out.hidden_states[i + 1] for i in self.out_layers] + [out.last_hidden_state]
        n = self.num_prefix_tokens
        return tuple(t[:, n:].transpose(1, 2).reshape(t.shape[0], -1, *hw) for t in tokens)
