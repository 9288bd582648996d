# Copyright (c) mmamlris contributors. All rights reserved.
"""DETRIS's text tower: CLIP's text transformer, frozen, with trainable dense text adapters."""
from typing import Dict, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmamlris.registry import MODELS
from ..layers import DenseTextAdapter
from ..utils import FrozenModelMixin

__all__ = ['DETRISCLIPText']


@MODELS.register_module()
class DETRISCLIPText(FrozenModelMixin, BaseModule):
    """The text transformer of ``transformers``' CLIP (not a copy; the ``text_model`` of a
    ``CLIPTextModelWithProjection``, whose projection is left out), frozen, with DETRIS's
    :class:`DenseTextAdapter` in some layers.

    As DETRIS runs CLIP's text tower: causal self-attention only -- **no padding mask** (the
    words attend to the padding ids before them, which CLIP's convention makes harmless only
    after the ``<eot>``), positions ``0..L-1`` of CLIP's 77, and in an adapted layer the
    adapter reads the residual stream *before* ``layer_norm2`` and ``0.2 *`` its output is added
    next to the MLP's: ``x + mlp(ln2(x)) + 0.2 * adapter(x)``. The adapters are added with
    hooks (a pre-hook keeps ``layer_norm2``'s input, a hook on ``mlp`` adds the adapter's
    output), so the transformer's code and weight names are ``transformers``'.

    .. code:: text

        forward(ids, mask): words = final_layer_norm(encoder(embed(ids)))   # [B, L, C]
                            -> (words, mask)

    CLIP's sentence feature (the ``<eot>`` word through the text projection) is computed by
    the decode head (:class:`DETRISHead` keeps the projection), so that the text encoder keeps
    the ``(words, mask)`` interface of every mmamlris text encoder.

    Args:
        clip (dict): ``CLIPTextConfig`` arguments (CLIP ViT-B/16's text tower:
            ``hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
            num_attention_heads=8, projection_dim=512, hidden_act='quick_gelu'``).
        pretrained (str, optional): A ``save_pretrained`` directory of a
            ``CLIPTextModelWithProjection`` (e.g. from ``openai/clip-vit-base-patch16``).
        adapter_layers (Sequence[int]): Defaults to DETRIS's ``(1, 3, 5, 7, 9, 11)``.
        adapter_channels (int): Adapter bottleneck. Defaults to 64.
        adapter_scale (float): Defaults to 0.2.
        freeze (bool): Freeze CLIP (the adapters train). Defaults to True.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 clip: dict,
                 pretrained: Optional[str] = None,
                 adapter_layers: Sequence[int] = (1, 3, 5, 7, 9, 11),
                 adapter_channels: int = 64,
                 adapter_scale: float = 0.2,
                 freeze: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        from transformers import CLIPTextConfig, CLIPTextModelWithProjection
        clip_model = (CLIPTextModelWithProjection.from_pretrained(pretrained)
                      if pretrained is not None else
                      CLIPTextModelWithProjection(CLIPTextConfig(**clip)))
        self.model = clip_model.text_model  # embeddings, encoder, final_layer_norm
        self.config = clip_model.config
        layers = self.model.encoder.layers
        for index in adapter_layers:
            if not 0 <= index < len(layers):
                raise ValueError(f'DETRISCLIPText: layer {index} does not exist (the tower has '
                                 f'{len(layers)} layers).')
        self.adapter_scale = float(adapter_scale)
        width = self.config.hidden_size
        self.adapters = nn.ModuleDict(
            {str(i): DenseTextAdapter(width, adapter_channels) for i in adapter_layers})
        self._stream: Dict[str, Tensor] = {}
        for i in adapter_layers:
            layers[i].layer_norm2.register_forward_pre_hook(self._keep_stream(str(i)))
            layers[i].mlp.register_forward_hook(self._add_adapter(str(i)))
        self._init_freeze(freeze)

    def _keep_stream(self, key: str):
        def hook(module: nn.Module, args: Tuple[Tensor, ...]) -> None:
            self._stream[key] = args[0]
        return hook

    def _add_adapter(self, key: str):
        def hook(module: nn.Module, args: Tuple[Tensor, ...], output: Tensor) -> Tensor:
            stream = self._stream.pop(key)
            return output + self.adapter_scale * self.adapters[key](stream)
        return hook

    def forward(self,
                input_ids: Tensor,
                attention_mask: Tensor,
                extra_tokens: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Word features ``[B, L, C]`` (after the final LayerNorm) and the mask ``[B, L]``
        bool (True from ``<sot>`` to ``<eot>``). ``attention_mask`` is returned, not applied
        (see above); ``extra_tokens`` (visual prompts) are not supported."""
        if extra_tokens is not None:
            raise ValueError('DETRISCLIPText takes no extra tokens (a decode head with visual '
                             'text prompts needs another text encoder).')
        try:
            out = self.model(input_ids=input_ids)
        finally:
            self._stream.clear()
        return out.last_hidden_state, attention_mask.bool()
