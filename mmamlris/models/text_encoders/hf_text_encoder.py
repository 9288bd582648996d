# Copyright (c) mmamlris contributors. All rights reserved.
"""A Hugging Face ``AutoModel`` text encoder for referring expressions."""
import copy
import glob
import inspect
import os
import os.path as osp
from typing import Optional, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmengine.model.weight_init import initialize
from torch import Tensor, nn

from mmamlris.registry import MODELS
from mmamlris.utils import resolve_model_dir
from mmamlris.utils.errors import InputFileNotFoundError, InputValueError
from ..utils import FrozenModelMixin

# File names ``save_pretrained`` writes the weights to (plain or sharded).
_WEIGHT_PATTERNS = ('model.safetensors', 'model-*.safetensors', 'model.safetensors.index.json',
                    'pytorch_model.bin', 'pytorch_model-*.bin', 'pytorch_model.bin.index.json')


def _require_config(model_dir: str) -> None:
    """Raise a clear error when ``model_dir`` holds no ``config.json``."""
    if not osp.isfile(osp.join(model_dir, 'config.json')):
        raise InputFileNotFoundError(
            f'Text model directory {model_dir!r} has no config.json: give a directory written '
            f'by `save_pretrained()` (or an alias of mmamlris.utils.PACKAGED_MODELS).')


def _require_weights(model_dir: str) -> None:
    """Raise a clear error when ``model_dir`` holds no weight file."""
    if not any(glob.glob(osp.join(model_dir, pattern)) for pattern in _WEIGHT_PATTERNS):
        raise InputFileNotFoundError(
            f'Text model directory {model_dir!r} has a config.json but no weights '
            f'(model.safetensors or pytorch_model.bin). Write them with `save_pretrained()`, or '
            f'pass `config=` instead of `pretrained=` to start from random weights.')


@MODELS.register_module()
class HFTextEncoder(FrozenModelMixin, BaseModule):
    """Any Hugging Face ``AutoModel`` text encoder (BERT, RoBERTa, MiniLM, ...).

    The encoder maps token ids to one feature per token. Its pooler is removed (or frozen when
    the model class cannot drop it), so that every trainable parameter receives a gradient, as
    DistributedDataParallel requires without ``find_unused_parameters``.

    **Extra tokens.** ``forward`` can append ``P`` extra tokens (CARIS's conditional prompts)
    *after the embedding layer*: they attend with the words through every transformer layer,
    and their outputs are dropped. This uses only the model's public ``forward``: the ids are
    padded with ``P`` dummy ids and the attention mask with ``P`` ones, and a forward hook on the
    model's embedding module (``model.embeddings``) replaces the last ``P`` rows of its *output*
    (after its LayerNorm and dropout) by ``extra_tokens``. Gradients flow into ``extra_tokens``
    even when the encoder is frozen.

    Args:
        pretrained (str, optional): Directory written by ``save_pretrained()`` or an alias of
            :data:`mmamlris.utils.PACKAGED_MODELS`; loaded offline
            (``local_files_only=True``). Defaults to ``'all-MiniLM-L6-v2'``.
        config (dict | str, optional): Build a randomly initialised model instead: a dict of
            ``AutoConfig.for_model`` arguments that includes ``model_type`` (e.g.
            ``dict(model_type='bert', hidden_size=32, num_hidden_layers=2, ...)``) or a
            directory holding a ``config.json``. Give exactly one of ``pretrained`` and
            ``config``; set ``pretrained=None`` to use ``config``.
        freeze (bool): Freeze all weights and keep the model in eval mode, even after
            ``train()``. Defaults to False.
        attn_implementation (str, optional): Passed to Hugging Face (``'eager'``, ``'sdpa'``
            ...) when given. Defaults to None (the library's default).
        init_cfg (dict | list[dict], optional): mmengine initialisation config, e.g.
            ``dict(type='Pretrained', checkpoint=...)``. It never re-initialises the Hugging
            Face weights by itself. Defaults to None.

    Attributes:
        model (transformers.PreTrainedModel): The wrapped model.
        out_channels (int): Feature size ``C_t`` (the model's ``hidden_size``).
    """

    def __init__(self,
                 pretrained: Optional[str] = 'all-MiniLM-L6-v2',
                 config: Optional[Union[dict, str]] = None,
                 freeze: bool = False,
                 attn_implementation: Optional[str] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if (pretrained is None) == (config is None):
            raise InputValueError(
                'HFTextEncoder needs exactly one of `pretrained` (a local model directory or '
                'alias) and `config` (random initialisation); got '
                f'pretrained={pretrained!r}, config={config!r}. Set `pretrained=None` when '
                'giving `config`.')
        self.model = self._build_model(pretrained, config, attn_implementation)
        self._silence_pooler()
        self.out_channels: int = int(self.model.config.hidden_size)
        self._init_freeze(freeze)

    # ------------------------------------------------------------------ building
    @staticmethod
    def _build_model(pretrained: Optional[str], config: Optional[Union[dict, str]],
                     attn_implementation: Optional[str]) -> nn.Module:
        """Load the weights from ``pretrained`` or build a random model from ``config``."""
        from transformers import AutoConfig, AutoModel  # lazy: transformers is heavy

        kwargs = {}
        if attn_implementation is not None:
            kwargs['attn_implementation'] = attn_implementation

        if pretrained is not None:
            model_dir = resolve_model_dir(pretrained)
            _require_config(model_dir)
            _require_weights(model_dir)
            # Loaded as saved (a checkpoint usually holds the pooler; dropping it at load time
            # would log its weights as unexpected), then the pooler is dropped.
            model = AutoModel.from_pretrained(model_dir, local_files_only=True, **kwargs)
            pooler = getattr(model, 'pooler', None)
            if _pooler_kwargs(model.config) and isinstance(pooler, nn.Module):
                model.pooler = None  # what add_pooling_layer=False does
            return model

        if isinstance(config, (str, os.PathLike)):
            config_dir = resolve_model_dir(str(config))
            _require_config(config_dir)
            hf_config = AutoConfig.from_pretrained(config_dir, local_files_only=True)
        elif isinstance(config, dict):
            config = copy.deepcopy(dict(config))
            model_type = config.pop('model_type', None)
            if model_type is None:
                raise InputValueError(
                    "HFTextEncoder `config` dict needs a 'model_type' key (e.g. 'bert'); "
                    f'got keys {sorted(config)}.')
            hf_config = AutoConfig.for_model(model_type, **config)
        else:
            raise TypeError('HFTextEncoder `config` must be a dict or a directory, '
                            f'got {type(config).__name__}.')
        kwargs.update(_pooler_kwargs(hf_config))
        return AutoModel.from_config(hf_config, **kwargs)

    def _silence_pooler(self) -> None:
        """Freeze a pooler that could not be dropped: its output is never used."""
        pooler = getattr(self.model, 'pooler', None)
        if isinstance(pooler, nn.Module):
            pooler.requires_grad_(False)

    def init_weights(self) -> None:
        """Apply ``init_cfg`` only; never re-initialise the Hugging Face weights.

        mmengine's default would call ``init_weights()`` of every child, and
        ``PreTrainedModel.init_weights`` may re-initialise the loaded pretrained weights.
        """
        if self.init_cfg:
            initialize(self, self.init_cfg)
        self._is_init = True

    # ------------------------------------------------------------------ forward
    def forward(self,
                input_ids: Tensor,
                attention_mask: Tensor,
                extra_tokens: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Encode a batch of token ids.

        Args:
            input_ids (Tensor): ``[B, L]`` int64 token ids.
            attention_mask (Tensor): ``[B, L]``, 1/True for real tokens, 0/False for padding.
            extra_tokens (Tensor, optional): ``[B, P, C_t]`` tokens appended after the embedding
                layer; they attend with the words, and their outputs are dropped.

        Returns:
            tuple[Tensor, Tensor]: ``text_feats`` ``[B, L, C_t]`` and ``text_mask`` ``[B, L]``
            bool (True for real tokens).
        """
        self._check_inputs(input_ids, attention_mask, extra_tokens)
        text_mask = attention_mask.bool()
        num_words = input_ids.shape[1]
        hf_mask = text_mask.long()
        if extra_tokens is None:
            with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
                out = self.model(input_ids=input_ids, attention_mask=hf_mask)
            return out.last_hidden_state, text_mask

        batch, num_extra = extra_tokens.shape[:2]
        dummy_id = getattr(self.model.config, 'pad_token_id', None) or 0
        ids = torch.cat([input_ids, input_ids.new_full((batch, num_extra), dummy_id)], dim=1)
        hf_mask = torch.cat([hf_mask, hf_mask.new_ones((batch, num_extra))], dim=1)

        def replace_tail(module: nn.Module, args: tuple, output: Tensor) -> Tensor:
            if not isinstance(output, Tensor):
                raise TypeError(
                    f'{type(module).__name__} returned {type(output).__name__}, not a tensor '
                    '[B, L + P, C]: HFTextEncoder cannot insert extra tokens into this model.')
            return torch.cat([output[:, :num_words], extra_tokens.to(output.dtype)], dim=1)

        handle = self.model.embeddings.register_forward_hook(replace_tail)
        try:
            out = self.model(input_ids=ids, attention_mask=hf_mask)
        finally:
            handle.remove()
        return out.last_hidden_state[:, :num_words], text_mask

    def _check_inputs(self, input_ids: Tensor, attention_mask: Tensor,
                      extra_tokens: Optional[Tensor]) -> None:
        """Validate the shapes, with messages that say what is wrong."""
        if input_ids.dim() != 2:
            raise InputValueError(f'HFTextEncoder expects input_ids of shape [B, L], got '
                                  f'{tuple(input_ids.shape)}.')
        if attention_mask.shape != input_ids.shape:
            raise InputValueError(
                f'HFTextEncoder expects a 2-D attention_mask of the shape of input_ids '
                f'{tuple(input_ids.shape)}, got {tuple(attention_mask.shape)}.')
        if extra_tokens is None:
            return
        if not isinstance(getattr(self.model, 'embeddings', None), nn.Module):
            raise InputValueError(
                f'{type(self.model).__name__} has no `embeddings` module, so HFTextEncoder '
                'cannot insert extra tokens after its embedding layer; use a BERT-like model '
                '(BERT, RoBERTa, MiniLM, ...) or a decoder without text prompts.')
        expected = (input_ids.shape[0], self.out_channels)
        if extra_tokens.dim() != 3 or (extra_tokens.shape[0],
                                       extra_tokens.shape[2]) != expected:
            raise InputValueError(
                f'HFTextEncoder expects extra_tokens of shape [B={expected[0]}, P, '
                f'C={expected[1]}], got {tuple(extra_tokens.shape)}.')
        max_len = getattr(self.model.config, 'max_position_embeddings', None)
        total = input_ids.shape[1] + extra_tokens.shape[1]
        if max_len is not None and total > max_len:
            raise InputValueError(
                f'{input_ids.shape[1]} tokens + {extra_tokens.shape[1]} extra tokens exceed the '
                f'{max_len} positions of the text model; use fewer tokens.')


def _pooler_kwargs(hf_config) -> dict:
    """``dict(add_pooling_layer=False)`` when the model class of ``hf_config`` accepts it."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING
    try:
        model_class = MODEL_MAPPING[type(hf_config)]
    except (KeyError, ValueError):
        return {}
    params = inspect.signature(model_class.__init__).parameters
    return {'add_pooling_layer': False} if 'add_pooling_layer' in params else {}
