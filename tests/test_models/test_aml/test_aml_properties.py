# Copyright (c) mmamlris contributors. All rights reserved.
"""Property tests of AlignmentAwareMasking over random shapes, paddings and options."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmamlris.models.aml import AlignmentAwareMasking

CV, CT = 12, 10

PATCH_MAX = st.fixed_dictionaries(
    dict(type=st.just('PatchMaxScorer'),
         proj_dim=st.just(8),
         normalize=st.booleans(),
         temperature=st.sampled_from([0.05, 0.5, 1.0]),
         reduce=st.sampled_from(['max', 'mean']),
         score_norm=st.sampled_from(['none', 'minmax'])))
AFM = st.fixed_dictionaries(
    dict(type=st.just('AlignmentAwareFilter'),
         tau=st.sampled_from([0.0, 0.3, 0.4, 0.8, 1.01]),
         rho=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
         granularity=st.sampled_from(['block', 'pixel']),
         mode=st.sampled_from(['aml', 'random', 'none'])))
RELEASED = st.tuples(st.just(dict(type='ReleasedRelevanceScorer')),
                     st.fixed_dictionaries(dict(type=st.just('ReleasedBlockFilter'),
                                                tau=st.sampled_from([0.3, 0.4, 0.8]),
                                                rho=st.sampled_from([0.25, 0.5]))))
# (scorer, filter, fill_value): the paper's pair three times out of four, else the released one
OPTIONS = st.tuples(st.one_of(st.tuples(PATCH_MAX, AFM), st.tuples(PATCH_MAX, AFM),
                              st.tuples(PATCH_MAX, AFM), RELEASED),
                    st.sampled_from([0.0, -2.0]))


def build(options, block):
    (scorer, block_filter), fill_value = options
    return AlignmentAwareMasking(
        scorer=dict(scorer, vis_channels=CV, text_channels=CT),
        filter=dict(block_filter, block_size=block), fill_value=fill_value)


@st.composite
def batches(draw):
    """A batch: images, features, tokens with random padding, and a block size."""
    batch = draw(st.integers(1, 3))
    block = draw(st.sampled_from([8, 16, 32]))
    # at least one block (smaller images are refused: test_smaller_than_one_block_is_refused)
    height = draw(st.integers(block, 100).filter(lambda v: v % block != 0))
    width = draw(st.integers(block, 100).filter(lambda v: v % block != 0))
    grid = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    num_tokens = draw(st.integers(1, 20))
    real = [draw(st.integers(1, num_tokens)) for _ in range(batch)]
    seed = draw(st.integers(0, 2**16))
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, 3, height, width, generator=gen)
    vis = torch.randn(batch, CV, *grid, generator=gen)
    text = torch.randn(batch, num_tokens, CT, generator=gen)
    mask = torch.arange(num_tokens)[None, :] < torch.tensor(real)[:, None]
    return inputs, vis, text, mask, block


def forward(module, batch, seed=0):
    torch.manual_seed(seed)
    return module(*batch)


@settings(max_examples=40, deadline=None)
@given(data=batches(), options=OPTIONS)
def test_masks_are_whole_blocks_and_outputs_are_sane(data, options):
    inputs, vis, text, mask, block = data
    module = build(options, block)
    out = forward(module, (inputs, vis, text, mask))
    batch, _, height, width = inputs.shape

    assert out.masked_inputs.shape == inputs.shape
    assert out.block_mask.shape == out.weak_mask.shape == (batch, 1, height, width)
    assert out.score_map.shape == (batch, 1, *vis.shape[-2:])
    assert torch.isfinite(out.score_map).all()
    assert all(torch.isfinite(v) and v.dim() == 0 for v in out.stats.values())
    for key in ('aml_mask_ratio', 'aml_weak_ratio', 'aml_block_mask_ratio'):
        assert 0.0 <= out.stats[key].item() <= 1.0

    # the mask is the union of whole blocks (the last row / column of blocks may be partial)
    grid = out.block_mask[:, 0, ::block, ::block]
    assert grid.shape[1:] == (math.ceil(height / block), math.ceil(width / block))
    expanded = grid.repeat_interleave(block, 1).repeat_interleave(block, 2)
    assert torch.equal(out.block_mask[:, 0], expanded[:, :height, :width])
    assert out.stats['aml_masked_blocks'].item() * batch == pytest.approx(grid.sum().item())
    assert out.stats['aml_mask_ratio'].item() == pytest.approx(
        out.block_mask.float().mean().item(), abs=1e-6)

    # masked pixels hold fill_value, the others the input
    hidden = out.block_mask.expand_as(inputs)
    assert torch.all(out.masked_inputs[hidden] == module.fill_value)
    assert torch.equal(out.masked_inputs[~hidden], inputs[~hidden])

    afm = module.filter
    if getattr(afm, 'mode', None) == 'none':
        assert not out.block_mask.any()
    if getattr(afm, 'mode', None) == 'aml' and afm.granularity == 'block':
        weak = out.weak_mask[:, 0, ::block, ::block]
        assert not (grid & ~weak).any(), 'AML masks weak blocks only'


@settings(max_examples=30, deadline=None)
@given(data=batches(), options=st.tuples(st.tuples(PATCH_MAX, AFM), st.sampled_from([0.0, -2.0])))
def test_padding_tokens_never_change_the_result(data, options):
    inputs, vis, text, mask, block = data
    module = build(options, block)
    reference = forward(module, (inputs, vis, text, mask))
    changed = text.clone()
    changed[~mask] = torch.randn(int((~mask).sum()), CT) * 50 + 3
    out = forward(module, (inputs, vis, changed, mask))
    assert torch.equal(out.score_map, reference.score_map)
    assert torch.equal(out.block_mask, reference.block_mask)
    assert torch.equal(out.weak_mask, reference.weak_mask)
    assert torch.equal(out.masked_inputs, reference.masked_inputs)


@settings(max_examples=20, deadline=None)
@given(block=st.sampled_from([8, 16, 32]), data=st.data())
def test_smaller_than_one_block_is_refused(block, data):
    short = data.draw(st.integers(1, block - 1))
    long = data.draw(st.integers(block, 100))
    height, width = (short, long) if data.draw(st.booleans()) else (long, short)
    scorer = dict(type='PatchMaxScorer', vis_channels=CV, text_channels=CT, proj_dim=8)
    module = AlignmentAwareMasking(scorer, dict(type='AlignmentAwareFilter', block_size=block))
    batch = (torch.zeros(2, 3, height, width), torch.randn(2, CV, 2, 2),
             torch.randn(2, 4, CT), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=rf'{height}x{width}, smaller than one AML block '
                       rf'\({block}x{block}\)') as err:
        module(*batch)
    assert 'model.aml.filter.block_size' in str(err.value)
    # pixel granularity and mode='none' have no blocks: they accept such inputs
    for options in (dict(granularity='pixel'), dict(mode='none')):
        afm = dict(type='AlignmentAwareFilter', block_size=block, **options)
        out = AlignmentAwareMasking(scorer, afm)(*batch)
        assert out.masked_inputs.shape == (2, 3, height, width)
