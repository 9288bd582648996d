# Copyright (c) mmamlris contributors. All rights reserved.
from typing import Iterable, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

#: Attributes under which mmseg / mmpretrain backbones keep their stages, in the order the
#: forward loop runs them (``ResNet.res_layers``, ``MobileNetV2.layers``, ``MixVisionTransformer
#: .layers``, ``VisionTransformer.layers``, ``SwinTransformer.stages``, ``ConvNeXt.stages``).
STAGE_CONTAINERS = ('res_layers', 'layers', 'stages')


class BackboneEarlyExit:
    """Run a backbone only as far as the output levels asked for.

    Most mmseg backbones loop over a stage container (:data:`STAGE_CONTAINERS`) and return
    the outputs of the stages in ``out_indices``. Asked for some of the output levels, this
    runs the backbone with the container cut after the last stage those levels need and
    ``out_indices`` narrowed to them, then restores both (also on an error), so nothing above
    is computed and the backbone's own modules do the work (the same weights, the same
    gradient path). It is not an ``nn.Module``: it holds no parameters of its own.

    .. code:: text

     __call__(x, levels) -> [first call] _verify(x): full pass vs. cut pass, eval mode
                         -> [cut possible] backbone.forward with stages[:k], out_indices=...
                         -> [otherwise]    backbone(x) (every level)

    Whether the cut is exact is not assumed: on the first call that cuts, both passes run
    once on the first image in eval mode without gradient (running statistics untouched; the
    backbone's forward hooks see these two extra calls) and must give the same levels. A
    backbone without a stage container or ``out_indices``, or whose cut pass differs (e.g. a
    final norm applied to whichever stage comes last), runs in full, with one log line saying
    why.

    Args:
        backbone (nn.Module): The visual backbone; must return a tensor or a sequence of
            ``[B, C_i, H_i, W_i]`` maps.
    """

    def __init__(self, backbone: nn.Module) -> None:
        self.backbone = backbone
        self.container, self.out_indices = self._find_container(backbone)
        self._verified: Optional[bool] = None

    @staticmethod
    def _find_container(backbone: nn.Module) -> Tuple[Optional[str], Tuple[int, ...]]:
        """The stage container's attribute name and the sorted ``out_indices`` (or None)."""
        out_indices = getattr(backbone, 'out_indices', None)
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        if not isinstance(out_indices, (list, tuple)) or not out_indices or \
                not all(isinstance(i, int) and i >= 0 for i in out_indices):
            return None, ()
        out_indices = tuple(sorted(out_indices))
        for name in STAGE_CONTAINERS:
            stages = getattr(backbone, name, None)
            if isinstance(stages, (list, tuple, nn.ModuleList, nn.Sequential)) and \
                    len(stages) > out_indices[-1]:
                return name, out_indices
        return None, ()

    @property
    def can_exit_early(self) -> Optional[bool]:
        """bool | None: Whether a cut pass is used (None: not verified yet)."""
        return self._verified

    def __call__(self, x: Tensor, levels: Optional[Iterable[int]] = None
                 ) -> List[Optional[Tensor]]:
        """Compute the output levels ``levels`` (every level when None).

        Args:
            x (Tensor): Images ``[B, 3, H, W]``.
            levels (Iterable[int], optional): Output levels wanted, indices into the
                backbone's output tuple (negative ones count from the end).

        Returns:
            list[Tensor | None]: One entry per output level, ``None`` where a level was not
            computed.
        """
        if levels is None or self._verified is False:
            return _as_list(self.backbone(x))
        if self.container is None:
            print_log(f'AML stage 1: {type(self.backbone).__name__} runs in full (no stage '
                      f'container among {STAGE_CONTAINERS} with out_indices).',
                      logger='current')
            self._verified = False
            return _as_list(self.backbone(x))
        wanted = sorted({i % len(self.out_indices) for i in levels})
        if self.out_indices[wanted[-1]] + 1 >= len(getattr(self.backbone, self.container)):
            return _as_list(self.backbone(x))  # the last stage is needed: nothing to cut
        if self._verified is None:
            self._verified = self._verify(x[:1], wanted)
            if not self._verified:
                return _as_list(self.backbone(x))
        cut = self._cut_forward(x, wanted)
        out: List[Optional[Tensor]] = [None] * len(self.out_indices)
        for level, feat in zip(wanted, cut):
            out[level] = feat
        return out

    def _cut_forward(self, x: Tensor, levels: Sequence[int]) -> List[Tensor]:
        """The backbone's forward with the stage container cut after ``levels``."""
        backbone = self.backbone
        stage_indices = tuple(self.out_indices[i] for i in levels)
        full_stages, full_out = getattr(backbone, self.container), backbone.out_indices
        try:
            self._set_stages(full_stages[:stage_indices[-1] + 1])
            backbone.out_indices = stage_indices
            return _as_list(backbone(x))
        finally:
            self._set_stages(full_stages)
            backbone.out_indices = full_out

    def _set_stages(self, stages) -> None:
        """Put ``stages`` in place of the container, bypassing ``nn.Module``'s registration
        (a registered ModuleList is swapped in ``_modules``, a list of names set plainly)."""
        if self.container in self.backbone._modules:
            self.backbone._modules[self.container] = stages
        else:
            object.__setattr__(self.backbone, self.container, stages)

    def _verify(self, x: Tensor, levels: Sequence[int]) -> bool:
        """Whether the cut pass gives the full pass's levels on ``x`` (eval mode, no grad)."""
        name = type(self.backbone).__name__
        modes = [(m, m.training) for m in self.backbone.modules()]
        self.backbone.eval()
        try:
            with torch.no_grad():
                full = _as_list(self.backbone(x))
                cut = self._cut_forward(x, levels)
        except Exception as error:  # noqa: B902 - any failure means: do not cut
            same, why = False, f'the cut pass failed ({type(error).__name__}: {error})'
        else:
            same = len(cut) == len(levels) and all(
                c.shape == full[i].shape and torch.allclose(c, full[i], rtol=1e-5, atol=1e-6)
                for i, c in zip(levels, cut))
            why = 'the cut pass gives other features than the full pass'
        finally:
            for module, training in modes:
                module.training = training
        if same:
            print_log(f'AML stage 1: {name} stops after stage '
                      f'{self.out_indices[levels[-1]]} of {self.container}.', logger='current')
        else:
            print_log(f'AML stage 1: {name} runs in full ({why}).', logger='current')
        return same


def _as_list(feats) -> List[Tensor]:
    """A backbone's output (a tensor, e.g. MobileNetV2 with one level, or a sequence)."""
    return [feats] if isinstance(feats, Tensor) else list(feats)
