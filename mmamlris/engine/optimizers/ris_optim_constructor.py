# Copyright (c) mmamlris contributors. All rights reserved.
"""Parameter groups of the CARIS recipe, which mmengine's ``custom_keys`` cannot express."""
import logging
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from mmamlris.registry import OPTIM_WRAPPER_CONSTRUCTORS

NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class RISOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Learning-rate multipliers by module prefix, combined with no-decay rules.

    mmengine's ``custom_keys`` applies only the first matching key and then ignores
    ``norm_decay_mult`` (``DefaultOptimWrapperConstructor``), so "backbone at 0.1x lr, *and* no
    weight decay on its norms and position tables" (the CARIS recipe) needs two independent
    rules:

    - ``lr_mult``: ``{prefix: mult}``; a parameter takes the multiplier of the longest
      prefix its name starts with (e.g. ``{'backbone': 0.1, 'text_encoder': 0.1}``).
    - ``no_decay_keys``: substrings of parameter names that get ``weight_decay=0``
      (e.g. position tables, embeddings, prompts); parameters of normalisation layers
      get ``weight_decay=0`` too when ``no_decay_norm=True``.
    - ``decay_prefixes``: module prefixes whose parameters always decay, whatever the two
      rules above say (ReLA decays every optimised parameter of its BERT, LayerNorms
      included, while its other norms do not decay).

    Parameters with the same (lr, weight decay) share one parameter group, and the groups are
    logged once as a short table. Parameters of the AML module (``aml.*``: a trainable scorer
    such as ``LearnedScorer``, trained by its own loss) always get groups of their own, so
    that they never share a group with the model's parameters.

    Example:
        >>> optim_wrapper = dict(
        ...     type='OptimWrapper', constructor='RISOptimWrapperConstructor',
        ...     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01),
        ...     paramwise_cfg=dict(lr_mult={'backbone': 0.1, 'text_encoder': 0.1},
        ...                        no_decay_keys=('absolute_pos_embed', 'prompt')))
    """

    def _validate_cfg(self) -> None:
        allowed = {'lr_mult', 'no_decay_keys', 'no_decay_norm', 'decay_prefixes'}
        unknown = set(self.paramwise_cfg) - allowed
        if unknown:
            raise KeyError(f'RISOptimWrapperConstructor: unknown paramwise_cfg keys '
                           f'{sorted(unknown)}; allowed: {sorted(allowed)}.')

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   **kwargs) -> None:
        """Fill ``params`` with one group per (lr multiplier, decay) pair."""
        lr_mult: Dict[str, float] = dict(self.paramwise_cfg.get('lr_mult', {}))
        prefixes = sorted(lr_mult, key=len, reverse=True)
        no_decay_keys = tuple(self.paramwise_cfg.get('no_decay_keys', ()))
        no_decay_norm = self.paramwise_cfg.get('no_decay_norm', True)
        decay_prefixes = tuple(p + '.' for p in self.paramwise_cfg.get('decay_prefixes', ()))
        norm_params = set()
        if no_decay_norm:
            for mod in module.modules():
                if isinstance(mod, NORM_TYPES):
                    norm_params.update(id(p) for p in mod.parameters(recurse=False))

        groups: 'OrderedDict[Tuple[bool, float, bool], List[nn.Parameter]]' = OrderedDict()
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            mult = next((lr_mult[p] for p in prefixes
                         if name == p or name.startswith(p + '.')), 1.0)
            no_decay = (id(param) in norm_params or any(k in name for k in no_decay_keys)) \
                and not name.startswith(decay_prefixes)
            groups.setdefault((name.startswith('aml.'), mult, no_decay), []).append(param)

        lines = []
        for (is_aml, mult, no_decay), group_params in groups.items():
            group = dict(params=group_params, lr=self.base_lr * mult)
            if self.base_wd is not None:
                group['weight_decay'] = 0.0 if no_decay else self.base_wd
            params.append(group)
            lines.append(f'lr={group["lr"]:.3g} weight_decay={group.get("weight_decay")} '
                         f'tensors={len(group_params)}' + (' (aml)' if is_aml else ''))
        print_log('RISOptimWrapperConstructor parameter groups:\n  ' + '\n  '.join(lines),
                  logger='current', level=logging.INFO)
