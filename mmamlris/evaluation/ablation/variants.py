# Copyright (c) mmamlris contributors. All rights reserved.
"""The rows of the SynRef ablation: what each variant changes in the AML config.

A variant is ``None`` (the baseline: the model without AML) or a triple ``(scorer, filter,
segmentor options)``. A scorer or filter override with a ``type`` replaces the config's
(its level, widths and block size are kept); one without a ``type`` updates it. Segmentor
options are merged into ``model`` (``aml=dict(...)`` into ``model.aml``).
"""
from typing import Dict, Optional

from mmengine.config import Config

from mmamlris.utils import load_config
from ..robustness import with_data_root, with_objects

__all__ = [
    'VARIANTS', 'LABELS', 'OBJECT_VARIANTS', 'EQUAL_SHARE', 'RELEASED_STEP', 'variant_cfg',
    'apply_instrument'
]

# Share of the blocks the equal-share oracle rows mask: what PatchMax masked on the SynRef
# models (aml_mask_ratio 0.12-0.13 in the committed records).
EQUAL_SHARE = 0.125
RELEASED_STEP = dict(stage1_loss_weight=0.5, stage2_loss_weight=0.5, stage2_text='clean')
# variant -> (scorer override, filter override, segmentor options); None = the baseline.
# An override replaces the config's scorer / filter (its channels and block size are kept).
VARIANTS: Dict[str, Optional[tuple]] = {
    'baseline': None,
    'random': (None, dict(mode='random'), {}),
    'random50': (None, dict(type='RandomBlockFilter', ratio=0.5), {}),
    'aml': (None, None, {}),
    'official': (dict(type='ReleasedRelevanceScorer'), dict(type='ReleasedBlockFilter'),
                 RELEASED_STEP),
    'oracle': (dict(type='OracleScorer'), None, {}),
    'learned': (dict(type='LearnedScorer'), None, {}),
    'decoder': (dict(type='DecoderScorer'), None, {}),
    # The cheap stage 1: half-scale image, stride-16 level, so a cell still covers 32 pixels.
    'aml_half': (dict(in_index=-2), None, dict(stage1_scale=0.5)),
    # The paper's blocks hidden from the stage-2 loss instead of the image.
    'aml_loss': (None, None, dict(aml=dict(mask_target='loss'))),
    # Which context matters? The oracle hiding all context, only background, or only other
    # objects, each masking the same share of the blocks (EQUAL_SHARE).
    'oracle_eq': (dict(type='OracleScorer', hide='context'), dict(count=EQUAL_SHARE), {}),
    'oracle_background': (dict(type='OracleScorer', hide='background'),
                          dict(count=EQUAL_SHARE), {}),
    'oracle_distractors': (dict(type='OracleScorer', hide='distractors'),
                           dict(count=EQUAL_SHARE), {}),
}
# The oracle rows that need every object of the image (RefCOCODataset(with_objects=True) and
# LoadObjectsMask in the training pipeline).
OBJECT_VARIANTS = ('oracle_background', 'oracle_distractors')
LABELS = {
    'baseline': 'baseline (no AML)',
    'random': '+ random mask (same count)',
    'random50': '+ random mask (50 % of the blocks)',
    'aml': '+ AML, PatchMax (paper)',
    'official': '+ AML, released-code step',
    'oracle': '+ AML, oracle scorer (GT)',
    'learned': '+ AML, learned scorer',
    'decoder': '+ AML, decoder scorer',
    'aml_half': '+ AML, PatchMax, stage 1 at half scale',
    'aml_loss': '+ AML, PatchMax, blocks ignored in the loss (image untouched)',
    'oracle_eq': '+ oracle, all context, 12.5 % of the blocks',
    'oracle_background': '+ oracle, background only, 12.5 % of the blocks',
    'oracle_distractors': '+ oracle, other objects only, 12.5 % of the blocks',
}


def variant_cfg(variant: str, baseline_config: str, aml_config: str,
                scorer_options: Optional[dict] = None) -> Config:
    """The config of one row: the baseline config, or the AML config with the variant's
    overrides and ``scorer_options`` (extra scorer arguments, e.g. ``aux_channels``)."""
    spec = VARIANTS[variant]
    if spec is None:
        return load_config(baseline_config)
    scorer, block_filter, options = spec
    options = dict(options)
    cfg = load_config(aml_config)
    aml = cfg.model.aml
    aml.update(options.pop('aml', {}))
    if scorer is not None and 'type' in scorer:  # another scorer: keep the level and widths
        kept = {k: aml.scorer[k] for k in ('in_index', 'vis_channels', 'text_channels')
                if k in aml.scorer}
        aml.scorer = dict(scorer, **kept)
    elif scorer is not None:  # the same scorer on another level: that level's width
        aml.scorer.update(scorer)
        aml.scorer.vis_channels = _level_channels(cfg.model.decode_head, scorer['in_index'])
    aml.scorer.update(scorer_options or {})
    if block_filter is not None:
        if 'type' in block_filter:  # another filter: keep only the block size
            aml.filter = dict(block_filter, block_size=aml.filter.block_size)
        else:
            aml.filter.update(block_filter)
    if aml.scorer.get('type') == 'OracleScorer':  # it scores the filter's blocks
        aml.scorer.block_size = aml.filter.block_size
    cfg.model.update(options)
    if variant in OBJECT_VARIANTS:
        cfg.train_dataloader = with_objects(cfg.train_dataloader)
    return cfg


def apply_instrument(cfg: Config, ema: Optional[float] = None, ema_begin: int = 0,
                     iters: Optional[int] = None, eval_data_root: Optional[str] = None) -> None:
    """The measurement settings shared by every row, in place: weight averaging (an
    ``EMAHook`` of momentum ``ema`` from iteration ``ema_begin``; the test scores the averaged
    weights), the schedule's length (``iters``: the schedulers that ended with the training
    end there too, validation once at the end) and the evaluation set (val and test read from
    ``eval_data_root``)."""
    if ema:
        cfg.custom_hooks = [dict(type='EMAHook', ema_type='ExponentialMovingAverage',
                                 momentum=ema, update_buffers=True, priority=49,
                                 begin_iter=ema_begin)]
    if iters:
        old = cfg.train_cfg.max_iters
        cfg.train_cfg.max_iters = iters
        cfg.train_cfg.val_interval = iters
        for scheduler in cfg.param_scheduler:
            if scheduler.get('end') == old:
                scheduler.end = iters
    if eval_data_root:
        cfg.val_dataloader = with_data_root(cfg.val_dataloader, eval_data_root)
        cfg.test_dataloader = with_data_root(cfg.test_dataloader, eval_data_root)


def _level_channels(decode_head: dict, index: int) -> int:
    """The width of backbone level ``index`` as the decode head's config declares it."""
    in_channels, in_index = decode_head['in_channels'], decode_head['in_index']
    levels = max(in_index) + 1
    return int(in_channels[list(in_index).index(index % levels)])
