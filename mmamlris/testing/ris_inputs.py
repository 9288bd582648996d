# Copyright (c) mmamlris contributors. All rights reserved.
"""Tiny models and batches for tests: everything offline, seconds on a CPU."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from .tiny_text_model import tiny_bert_config

TINY_TEXT_CHANNELS = 32


def tiny_aml_cfg(vis_channels: int = 64, scorer: Optional[Dict] = None, **filter_kwargs) -> Dict:
    """An ``AlignmentAwareMasking`` config for :func:`tiny_segmentor_cfg` models.

    Args:
        vis_channels (int): Width of the scored level (64: the tiny ResNet's stride 32).
        scorer (dict, optional): Scorer config; ``PatchMaxScorer`` by default. Its
            ``vis_channels`` / ``text_channels`` are filled in when absent, and an
            ``OracleScorer``'s ``block_size`` (the filter's).
        **filter_kwargs: ``AlignmentAwareFilter`` options (``tau``, ``rho``, ``mode`` ...);
            ``block_size`` defaults to 16. ``filter=dict(...)`` replaces the filter config.

    Returns:
        dict: The ``aml`` config.
    """
    scorer = dict(scorer or dict(type='PatchMaxScorer'))
    scorer.setdefault('vis_channels', vis_channels)
    scorer.setdefault('text_channels', TINY_TEXT_CHANNELS)
    block_filter = filter_kwargs.pop('filter', None)
    if block_filter is None:
        block_filter = dict(type='AlignmentAwareFilter', block_size=16)
        block_filter.update(filter_kwargs)
    if scorer['type'] == 'OracleScorer':  # it scores the filter's blocks
        scorer.setdefault('block_size', block_filter.get('block_size', 32))
    return dict(type='AlignmentAwareMasking', scorer=scorer, filter=block_filter)


def tiny_segmentor_cfg(aml: Optional[Dict] = None, head: str = 'LiteRISHead',
                       **kwargs) -> Dict:
    """An ``AMLSegmentor`` config with a narrow ResNet-18, a 2-layer BERT and a small head.

    Args:
        aml (dict, optional): The ``aml`` config (see :func:`tiny_aml_cfg`); None = baseline.
        head (str): ``'LiteRISHead'`` or ``'CARISHead'``.
        **kwargs: Other ``AMLSegmentor`` arguments (``stage1_loss_weight`` ...).

    Returns:
        dict: The model config, with a ``RISDataPreProcessor``.
    """
    in_channels = [8, 16, 32, 64]
    loss = dict(type='RISCrossEntropyLoss', class_weight=[0.9, 1.1], loss_weight=1.0)
    if head == 'LiteRISHead':
        decode_head = dict(type='LiteRISHead', in_channels=in_channels, in_index=[0, 1, 2, 3],
                           channels=16, text_channels=TINY_TEXT_CHANNELS, num_heads=2,
                           num_classes=2, out_channels=2, loss_decode=loss)
    elif head == 'CARISHead':
        decode_head = dict(type='CARISHead', in_channels=in_channels, in_index=[0, 1, 2, 3],
                           text_channels=TINY_TEXT_CHANNELS, channels=32, num_layers=1,
                           num_heads=2, attn_inner_channels=32, ffn_channels=64,
                           num_classes=2, out_channels=2, align_corners=True,
                           loss_decode=loss)
    else:
        raise ValueError(f'unknown tiny head {head!r}')
    cfg = dict(
        type='AMLSegmentor',
        data_preprocessor=dict(type='RISDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                               seg_pad_val=255, size_divisor=32),
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
                      num_stages=4, out_indices=(0, 1, 2, 3),
                      norm_cfg=dict(type='BN', requires_grad=True)),
        text_encoder=dict(type='HFTextEncoder', pretrained=None, config=tiny_bert_config()),
        decode_head=decode_head,
        aml=copy.deepcopy(aml),
        test_cfg=dict(mode='whole'))
    cfg.update(kwargs)
    return cfg


def demo_ris_inputs(batch_size: int = 2, image_shapes: Sequence = ((64, 64), ),
                    num_tokens: Sequence[int] = (7, ), max_tokens: int = 20,
                    seed: int = 0) -> Dict[str, List]:
    """A raw batch as the dataloader gives it (before the data preprocessor).

    Args:
        batch_size (int): Number of samples.
        image_shapes (Sequence[tuple]): ``(H, W)`` per sample, cycled.
        num_tokens (Sequence[int]): Real tokens per sample (with [CLS]/[SEP]), cycled.
        max_tokens (int): Padded token length.
        seed (int): Seed of the random content.

    Returns:
        dict: ``inputs`` (list of uint8 ``[3, H, W]``) and ``data_samples``.
    """
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(batch_size):
        height, width = image_shapes[i % len(image_shapes)]
        inputs.append(torch.randint(0, 256, (3, height, width), generator=gen,
                                    dtype=torch.uint8))
        sample = SegDataSample()
        gt = torch.zeros((1, height, width), dtype=torch.long)
        gt[:, height // 4:height // 2, width // 4:width // 2] = 1
        sample.gt_sem_seg = PixelData(data=gt)
        n = num_tokens[i % len(num_tokens)]
        ids = torch.zeros(max_tokens, dtype=torch.long)
        ids[:n] = torch.randint(1000, 2000, (n, ), generator=gen)
        ids[0], ids[n - 1] = 101, 102
        mask = torch.zeros(max_tokens, dtype=torch.long)
        mask[:n] = 1
        sample.text_token_ids = ids
        sample.text_attention_mask = mask
        sample.set_metainfo(dict(img_shape=(height, width), ori_shape=(height, width),
                                 text=f'expression {i}', ref_id=i, sent_id=i, split='val',
                                 img_path=f'img_{i}.jpg'))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


# Real tokens per expression (with [CLS]/[SEP]), cycled over the batch: RefCOCO-like lengths.
TOKEN_COUNTS = (9, 12, 7, 15, 10, 8, 20, 11)
MAX_TOKENS = 20


def synthetic_batch(batch_size: int, img_size: Tuple[int, int], seed: int) -> Dict[str, List]:
    """A raw batch for the benchmark tools: uint8 images, GT masks, :data:`MAX_TOKENS` token
    slots with RefCOCO-like expression lengths (:data:`TOKEN_COUNTS`); every expression has a
    target (``no_target=False``, which a gRefCOCO head reads)."""
    batch = demo_ris_inputs(batch_size=batch_size, image_shapes=(tuple(img_size), ),
                            num_tokens=TOKEN_COUNTS, max_tokens=MAX_TOKENS, seed=seed)
    for sample in batch['data_samples']:
        sample.set_metainfo(dict(no_target=False))
    return batch
