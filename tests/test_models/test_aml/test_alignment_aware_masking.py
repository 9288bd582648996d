# Copyright (c) mmamlris contributors. All rights reserved.
"""Tests of AlignmentAwareMasking (PatchMaxScorer + AlignmentAwareFilter) and of the released-code
scorer and filter."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample

from mmamlris.models.aml import (AlignmentAwareMasking, AMLOutput, PatchMaxScorer,
                                 ReleasedRelevanceScorer, official_block_mask,
                                 official_relevance, real_image_pixels)
from mmamlris.models.aml.block_ops import expand_blocks
from mmamlris.registry import MODELS

CV, CT = 32, 24  # small feature widths for most tests
SCORER_KEYS = ('vis_channels', 'text_channels', 'proj_dim', 'normalize', 'temperature',
               'reduce', 'score_norm', 'seed')
FILTER_KEYS = ('tau', 'rho', 'block_size', 'granularity', 'mode')


def build(**kwargs):
    """AlignmentAwareMasking with PatchMaxScorer + AlignmentAwareFilter; options by name."""
    scorer = dict(type='PatchMaxScorer', vis_channels=CV, text_channels=CT, proj_dim=16)
    block_filter = dict(type='AlignmentAwareFilter', block_size=8)
    for key in list(kwargs):
        if key in SCORER_KEYS:
            scorer[key] = kwargs.pop(key)
        elif key in FILTER_KEYS:
            block_filter[key] = kwargs.pop(key)
    return MODELS.build(dict(type='AlignmentAwareMasking', scorer=scorer, filter=block_filter,
                             **kwargs))


def build_released(block_size=16, **kwargs):
    """The released-code pair: ReleasedRelevanceScorer + ReleasedBlockFilter."""
    return MODELS.build(dict(
        type='AlignmentAwareMasking',
        scorer=dict(type='ReleasedRelevanceScorer', vis_channels=CV, text_channels=CT, **kwargs),
        filter=dict(type='ReleasedBlockFilter', block_size=block_size)))


def make_batch(batch=2, size=(40, 48), grid=(5, 6), num_tokens=7, real=(3, 7), cv=CV, ct=CT,
               seed=0):
    """Images, visual features, token features and a padding mask (True = real)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, 3, *size, generator=gen)
    vis = torch.randn(batch, cv, *grid, generator=gen)
    text = torch.randn(batch, num_tokens, ct, generator=gen)
    mask = torch.zeros(batch, num_tokens, dtype=torch.bool)
    for b in range(batch):
        mask[b, :real[b % len(real)]] = True
    return inputs, vis, text, mask


def run(module, *batch, seed=0):
    torch.manual_seed(seed)
    return module(*batch)


def block_grid(mask, block):
    """The value of each block's top-left pixel, ``[B, Gh, Gw]``."""
    return mask[:, 0, ::block[0], ::block[1]]


def expand_grid(grid, size, block):
    """Test-side expansion of a block grid to pixels (independent of the module's helper)."""
    pixels = grid.repeat_interleave(block[0], dim=1).repeat_interleave(block[1], dim=2)
    return pixels[:, None, :size[0], :size[1]]


# ---------------------------------------------------------------------- construction
def test_build_from_config_has_buffers_only():
    module = build()
    assert isinstance(module, AlignmentAwareMasking)
    assert isinstance(module.scorer, PatchMaxScorer)
    assert len(list(module.parameters())) == 0
    state = module.state_dict()
    assert set(state) == {'scorer.vis_proj', 'scorer.text_proj'}
    assert state['scorer.vis_proj'].shape == (CV, 16)
    assert state['scorer.text_proj'].shape == (CT, 16)
    released = build_released()
    assert isinstance(released.scorer, ReleasedRelevanceScorer)
    assert set(released.state_dict()) == {'scorer.text_proj_weight', 'scorer.text_proj_bias'}
    assert released.scorer.text_proj_weight.shape == (CV, CT)
    assert released.scorer.text_proj_bias.shape == (CV, )
    assert len(list(released.parameters())) == 0
    text = repr(module)
    assert 'tau=0.4' in text and 'rho=0.25' in text and "granularity='block'" in text
    assert 'temperature=0.05' in text and "score_norm='minmax'" in text


def test_default_filter_is_the_papers_afm():
    module = AlignmentAwareMasking(scorer=dict(type='PatchMaxScorer', vis_channels=CV,
                                               text_channels=CT))
    afm = module.filter
    assert type(afm).__name__ == 'AlignmentAwareFilter'
    assert (afm.tau, afm.rho, afm.block_size, afm.granularity, afm.mode) == (
        0.4, 0.25, (32, 32), 'block', 'aml')


def test_random_projection_is_gaussian_with_variance_one_over_dim():
    scorer = PatchMaxScorer(512, 384, proj_dim=256)
    for proj in (scorer.vis_proj, scorer.text_proj):
        assert abs(proj.mean().item()) < 0.01 / math.sqrt(256) * 10
        assert proj.std().item() == pytest.approx(1 / math.sqrt(256), rel=0.02)


def test_released_linear_is_initialised_like_nn_linear():
    scorer = ReleasedRelevanceScorer(512, 384)
    bound = 1 / math.sqrt(384)
    for buf in (scorer.text_proj_weight, scorer.text_proj_bias):
        assert buf.abs().max().item() <= bound
        assert buf.abs().max().item() > 0.95 * bound
    # U(-b, b) has std b / sqrt(3), like nn.Linear's default init
    reference = torch.nn.Linear(384, 512).weight.detach()
    assert scorer.text_proj_weight.std().item() == pytest.approx(reference.std().item(),
                                                                 rel=0.02)
    assert scorer.text_proj_weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_buffers_depend_only_on_seed():
    torch.manual_seed(123)
    a = build(seed=3)
    torch.manual_seed(456)
    b = build(seed=3)
    c = build(seed=4)
    assert torch.equal(a.scorer.vis_proj, b.scorer.vis_proj)
    assert torch.equal(a.scorer.text_proj, b.scorer.text_proj)
    assert not torch.equal(a.scorer.vis_proj, c.scorer.vis_proj)


def test_state_dict_roundtrip_restores_the_projection():
    source, target = build(seed=1), build(seed=2)
    batch = make_batch()
    assert not torch.equal(run(source, *batch).score_map, run(target, *batch).score_map)
    target.load_state_dict(source.state_dict())
    out_a, out_b = run(source, *batch, seed=5), run(target, *batch, seed=5)
    assert torch.equal(out_a.score_map, out_b.score_map)
    assert torch.equal(out_a.block_mask, out_b.block_mask)


@pytest.mark.parametrize('kwargs, match', [
    (dict(reduce='sum'), 'reduce'),
    (dict(score_norm='zscore'), 'score_norm'),
    (dict(granularity='patch'), 'granularity'),
    (dict(mode='other'), 'mode'),
    (dict(temperature=0.0), 'temperature'),
    (dict(rho=1.5), 'rho'),
    (dict(block_size=0), 'block_size'),
    (dict(block_size=(8, 8, 8)), 'block_size'),
    (dict(vis_channels=0), 'vis_channels'),
    (dict(proj_dim=-1), 'proj_dim'),
    (dict(tau=float('nan')), 'tau'),
    (dict(fill_value=float('inf')), 'fill_value'),
])
def test_bad_options_are_refused_with_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)


def test_scorer_and_filter_of_the_wrong_kind_are_refused():
    block_filter = dict(type='AlignmentAwareFilter')
    with pytest.raises(TypeError, match='scorer must build a BaseAlignmentScorer'):
        AlignmentAwareMasking(scorer=block_filter)
    with pytest.raises(TypeError, match='filter must build a BaseBlockFilter'):
        AlignmentAwareMasking(
            scorer=dict(type='PatchMaxScorer', vis_channels=CV, text_channels=CT),
            filter=dict(type='PatchMaxScorer', vis_channels=CV, text_channels=CT))


def test_bad_inputs_are_refused_with_a_clear_error():
    module = build()
    inputs, vis, text, mask = make_batch()
    with pytest.raises(ValueError, match='vis_channels'):
        module(inputs, vis[:, :5], text, mask)
    with pytest.raises(ValueError, match='text_channels'):
        module(inputs, vis, text[..., :5], mask)
    with pytest.raises(ValueError, match='text_mask'):
        module(inputs, vis, text, mask[:, :3])
    with pytest.raises(ValueError, match='batch size'):
        module(inputs[:1], vis, text, mask)
    with pytest.raises(ValueError, match='inputs'):
        module(inputs[0], vis, text, mask)


# ---------------------------------------------------------------------- outputs
def test_output_fields_shapes_and_statistics():
    module = build()
    inputs, vis, text, mask = make_batch()
    out = run(module, inputs, vis, text, mask)
    assert isinstance(out, AMLOutput)
    assert out.masked_inputs.shape == inputs.shape and out.masked_inputs.dtype == inputs.dtype
    assert out.block_mask.shape == (2, 1, 40, 48) and out.block_mask.dtype == torch.bool
    assert out.weak_mask.shape == (2, 1, 40, 48) and out.weak_mask.dtype == torch.bool
    assert out.score_map.shape == (2, 1, 5, 6) and out.score_map.dtype == torch.float32
    expected = {'aml_mask_ratio', 'aml_weak_ratio', 'aml_score_mean', 'aml_masked_blocks',
                'aml_weak_blocks', 'aml_block_mask_ratio'}
    assert set(out.stats) == expected
    for key, value in out.stats.items():
        assert 'loss' not in key
        assert value.dim() == 0 and value.dtype == torch.float32 and torch.isfinite(value)
    mask_ratio = out.block_mask.float().mean().item()
    assert out.stats['aml_mask_ratio'].item() == pytest.approx(mask_ratio)
    assert out.stats['aml_weak_ratio'].item() == pytest.approx(out.weak_mask.float().mean().item())
    assert out.stats['aml_score_mean'].item() == pytest.approx(out.score_map.mean().item())
    blocks = block_grid(out.block_mask, (8, 8))
    assert out.stats['aml_masked_blocks'].item() == pytest.approx(blocks.sum().item() / 2)
    assert not out.block_mask.requires_grad


@pytest.mark.parametrize('granularity', ['block', 'pixel'])
@pytest.mark.parametrize('size, block', [((70, 45), (16, 16)), ((40, 48), (8, 8)),
                                         ((33, 65), (32, 16))])
def test_block_mask_is_a_union_of_whole_blocks(granularity, size, block):
    module = build(block_size=block, granularity=granularity, tau=0.7, rho=0.5)
    batch = make_batch(batch=3, size=size, real=(2, 7, 5))
    out = run(module, *batch)
    grid = block_grid(out.block_mask, block)
    assert grid.shape[1:] == (math.ceil(size[0] / block[0]), math.ceil(size[1] / block[1]))
    assert torch.equal(out.block_mask, expand_grid(grid, size, block))
    if granularity == 'block':
        assert torch.equal(out.weak_mask, expand_grid(block_grid(out.weak_mask, block), size,
                                                      block))
    assert 0 < grid.sum() < grid.numel(), 'the test needs some masked and some kept blocks'


def test_masked_inputs_hold_fill_value_inside_and_inputs_elsewhere():
    module = build(fill_value=-1.5, tau=0.6, rho=0.5)
    inputs, vis, text, mask = make_batch()
    out = run(module, inputs, vis, text, mask)
    hidden = out.block_mask.expand_as(inputs)
    assert hidden.any() and (~hidden).any()
    assert torch.all(out.masked_inputs[hidden] == -1.5)
    assert torch.equal(out.masked_inputs[~hidden], inputs[~hidden])
    # the default fill 0 is the mean colour of the normalised batch: inputs * (1 - mask)
    out0 = run(build(tau=0.6, rho=0.5), inputs, vis, text, mask)
    assert torch.equal(out0.masked_inputs, inputs * (1 - out0.block_mask.float()))


def test_half_precision_inputs_keep_their_dtype():
    inputs, vis, text, mask = make_batch()
    out = run(build(), inputs.half(), vis.half(), text.half(), mask)
    assert out.masked_inputs.dtype == torch.float16
    assert out.score_map.dtype == torch.float32


def test_autocast_does_not_lower_the_precision_of_the_scores():
    module = build()
    inputs, vis, text, mask = make_batch()
    vis, text = vis.bfloat16(), text.bfloat16()
    reference = run(module, inputs, vis, text, mask)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = run(module, inputs, vis, text, mask)
    assert out.score_map.dtype == torch.float32
    assert torch.equal(out.score_map, reference.score_map)


@pytest.mark.gpu
def test_cuda_gives_the_cpu_scores_and_device_tensors():
    batch = make_batch(batch=3, size=(70, 45))
    cpu = run(build(), *batch)
    module = build().to('cuda')
    out = run(module, *(t.to('cuda') for t in batch))
    assert out.block_mask.device.type == 'cuda' and out.masked_inputs.device.type == 'cuda'
    assert all(v.device.type == 'cuda' for v in out.stats.values())
    torch.testing.assert_close(out.score_map.cpu(), cpu.score_map, rtol=1e-4, atol=1e-5)
    with torch.autocast('cuda', dtype=torch.float16):
        half = run(module, *(t.to('cuda') for t in batch))
    assert half.score_map.dtype == torch.float32
    torch.testing.assert_close(half.score_map, out.score_map)


# ---------------------------------------------------------------------- thresholds
@pytest.mark.parametrize('granularity', ['block', 'pixel'])
@pytest.mark.parametrize('score_norm', ['minmax', 'none'])
def test_tau_below_every_score_masks_nothing(granularity, score_norm):
    # softmax scores are > 0 and minmax scores >= 0: nothing is below tau = 0
    module = build(tau=0.0, rho=1.0, granularity=granularity, score_norm=score_norm)
    out = run(module, *make_batch())
    assert not out.block_mask.any() and not out.weak_mask.any()
    assert out.stats['aml_mask_ratio'].item() == 0.0


@pytest.mark.parametrize('granularity', ['block', 'pixel'])
def test_tau_above_every_score_with_rho_one_masks_every_block(granularity):
    module = build(tau=1.01, rho=1.0, granularity=granularity, score_norm='minmax')
    inputs, vis, text, mask = make_batch(size=(37, 50))
    out = run(module, inputs, vis, text, mask)
    assert out.block_mask.all() and out.weak_mask.all()
    assert torch.all(out.masked_inputs == 0)
    assert out.stats['aml_mask_ratio'].item() == 1.0


@pytest.mark.parametrize('rho', [0.25, 0.5, 0.75])
def test_block_selection_takes_rho_of_the_weak_blocks(rho):
    module = build(rho=rho, tau=0.5, block_size=8)
    gen = torch.Generator().manual_seed(1)
    scores = torch.rand(64, 1, 8, 8, generator=gen)
    inputs = torch.zeros(64, 3, 64, 64)
    torch.manual_seed(0)
    out = module.mask_from_scores(inputs, scores)
    weak = block_grid(out.weak_mask, (8, 8)).flatten(1)
    masked = block_grid(out.block_mask, (8, 8)).flatten(1)
    assert not (masked & ~weak).any(), 'only weak blocks are masked'
    n_weak, n_masked = weak.sum(1), masked.sum(1)
    assert torch.equal(n_masked, torch.floor(n_weak * rho + 0.5).long())
    assert n_masked.sum().item() / n_weak.sum().item() == pytest.approx(rho, abs=0.02)


def test_block_selection_is_uniform_over_the_weak_blocks():
    module = build(rho=0.25, tau=0.5, block_size=8)
    scores = torch.rand(1, 1, 6, 6, generator=torch.Generator().manual_seed(2))
    scores = scores.expand(2000, 1, 6, 6)
    torch.manual_seed(0)
    out = module.mask_from_scores(torch.zeros(2000, 1, 48, 48), scores)
    weak = block_grid(out.weak_mask, (8, 8))[0]
    frequency = block_grid(out.block_mask, (8, 8)).float().mean(0)
    n_weak = int(weak.sum())
    expected = math.floor(0.25 * n_weak + 0.5) / n_weak
    # binomial(2000, ~0.25): std ~0.01
    assert torch.all((frequency[weak] - expected).abs() < 0.045)
    assert torch.all(frequency[~weak] == 0)


def test_pixel_granularity_selects_each_weak_pixel_with_probability_rho():
    # every pixel weak; a 2x2 block is masked unless none of its 4 pixels is drawn
    module = build(granularity='pixel', rho=0.25, tau=0.5, block_size=2)
    torch.manual_seed(0)
    out = module.mask_from_scores(torch.zeros(16, 1, 32, 32), torch.zeros(16, 1, 4, 4))
    frequency = block_grid(out.block_mask, (2, 2)).float().mean().item()
    assert frequency == pytest.approx(1 - 0.75**4, abs=0.03)


def test_partial_blocks_pool_only_their_pixels():
    # a 1x1 score map upsamples to a constant: every block (partial or not) pools to it
    module = build(tau=0.5, rho=1.0, block_size=16)
    out = module.mask_from_scores(torch.zeros(1, 3, 20, 20), torch.full((1, 1, 1, 1), 0.45))
    assert out.block_mask.all()
    out = module.mask_from_scores(torch.zeros(1, 3, 20, 20), torch.full((1, 1, 1, 1), 0.55))
    assert not out.block_mask.any()


# ---------------------------------------------------------------------- randomness
def test_same_torch_seed_same_mask_different_seed_different_mask():
    module = build(tau=1.01, rho=0.5, block_size=8)
    batch = make_batch(batch=2, size=(64, 64))
    a, b, c = run(module, *batch, seed=7), run(module, *batch, seed=7), run(module, *batch,
                                                                            seed=8)
    assert torch.equal(a.block_mask, b.block_mask)
    assert not torch.equal(a.block_mask, c.block_mask)


@pytest.mark.parametrize('granularity', ['block', 'pixel'])
def test_random_mode_masks_as_many_blocks_as_aml_anywhere(granularity):
    aml = build(tau=0.5, rho=0.5, granularity=granularity, block_size=8)
    rand = build(tau=0.5, rho=0.5, granularity=granularity, block_size=8, mode='random')
    outside_weak = 0
    for seed in range(6):
        batch = make_batch(batch=3, size=(48, 64), seed=seed)
        out_aml, out_rand = run(aml, *batch, seed=seed), run(rand, *batch, seed=seed)
        count_aml = block_grid(out_aml.block_mask, (8, 8)).flatten(1).sum(1)
        count_rand = block_grid(out_rand.block_mask, (8, 8)).flatten(1).sum(1)
        assert torch.equal(count_aml, count_rand)
        assert torch.equal(out_aml.score_map, out_rand.score_map)
        weak_blocks = F.max_pool2d(out_rand.weak_mask.float(), 8)[:, 0] > 0
        outside_weak += (block_grid(out_rand.block_mask, (8, 8)) & ~weak_blocks).sum().item()
    assert outside_weak > 0, 'random mode chooses among all blocks, not only weak ones'


def test_mode_none_masks_nothing_but_reports():
    module = build(mode='none', tau=1.01)
    inputs, vis, text, mask = make_batch()
    out = run(module, inputs, vis, text, mask)
    assert not out.block_mask.any()
    assert torch.equal(out.masked_inputs, inputs)
    assert out.stats['aml_weak_ratio'].item() == 1.0
    assert out.stats['aml_mask_ratio'].item() == 0.0


# ---------------------------------------------------------------------- PMME
def reference_scores(module, vis, text, mask):
    """A literal, per-sample float64 NumPy reading of the PMME steps of the docstring.

    ``module`` is the PatchMaxScorer."""
    vis, text, mask = vis.double().numpy(), text.double().numpy(), mask.numpy()
    batch, cv, h, w = vis.shape
    out = np.zeros((batch, h * w))
    for b in range(batch):
        cells = vis[b].reshape(cv, h * w).T
        tokens = text[b][mask[b]]
        if len(tokens) == 0:
            out[b] = 1.0
            continue
        if module.normalize:
            cells = cells / np.maximum(np.linalg.norm(cells, axis=1, keepdims=True), 1e-12)
            tokens = tokens / np.maximum(np.linalg.norm(tokens, axis=1, keepdims=True), 1e-12)
        sim = (cells @ module.vis_proj.double().numpy()) @ (
            tokens @ module.text_proj.double().numpy()).T
        sim = sim / module.temperature
        prob = np.exp(sim - sim.max(axis=1, keepdims=True))  # softmax over the tokens
        prob = prob / prob.sum(axis=1, keepdims=True)
        score = prob.max(axis=1) if module.reduce == 'max' else prob.mean(axis=1)
        if module.score_norm == 'minmax':
            spread = score.max() - score.min()  # a constant map is defined as all 1
            score = (score - score.min()) / spread if spread > 1e-9 else np.ones_like(score)
        out[b] = score
    return out.reshape(batch, 1, h, w)


OPTION_GRID = list(itertools.product([True, False], ['max', 'mean'], ['none', 'minmax']))


@pytest.mark.parametrize('normalize, reduce, score_norm', OPTION_GRID)
def test_scores_match_a_literal_reference(normalize, reduce, score_norm):
    temperature = 0.5 if normalize else 5.0
    module = build(normalize=normalize, reduce=reduce, score_norm=score_norm,
                   temperature=temperature)
    inputs, vis, text, mask = make_batch(batch=3, real=(1, 4, 7))
    out = run(module, inputs, vis, text, mask)
    expected = reference_scores(module.scorer, vis, text, mask)
    np.testing.assert_allclose(out.score_map.numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('normalize, reduce, score_norm', OPTION_GRID)
def test_padding_tokens_never_change_the_result(normalize, reduce, score_norm):
    module = build(normalize=normalize, reduce=reduce, score_norm=score_norm, tau=0.6, rho=0.5)
    inputs, vis, text, mask = make_batch(batch=3, real=(1, 4, 7))
    other = text.clone()
    other[~mask] = torch.randn(int((~mask).sum()), CT) * 100
    nasty = text.clone()
    nasty[~mask] = float('nan')
    nasty[0, -1] = float('inf')
    reference = run(module, inputs, vis, text, mask)
    for changed in (other, nasty):
        out = run(module, inputs, vis, changed, mask)
        assert torch.equal(out.score_map, reference.score_map)
        assert torch.equal(out.block_mask, reference.block_mask)
        assert torch.equal(out.masked_inputs, reference.masked_inputs)


def test_one_real_token_and_no_real_token_give_no_nan():
    module = build()
    inputs, vis, text, mask = make_batch(batch=2, real=(1, 0))
    out = run(module, inputs, vis, text, mask)
    assert torch.isfinite(out.score_map).all()
    assert all(torch.isfinite(v) for v in out.stats.values())
    # without any real token there is nothing to align with: nothing weak, nothing masked
    assert torch.all(out.score_map[1] == 1.0) and not out.block_mask[1].any()


def test_integer_text_mask_is_accepted():
    module = build()
    inputs, vis, text, mask = make_batch()
    a = run(module, inputs, vis, text, mask)
    b = run(module, inputs, vis, text, mask.long())
    assert torch.equal(a.block_mask, b.block_mask)


def test_constant_score_map_is_not_weak_under_minmax():
    module = build(tau=0.4, rho=1.0)
    inputs, vis, text, mask = make_batch()
    vis = torch.ones_like(vis)  # every cell identical: one score for the whole map
    out = run(module, inputs, vis, text, mask)
    assert torch.all(out.score_map == 1.0) and not out.block_mask.any()


def planted_batch(module, batch, grid, num_tokens=20, num_real=10, aligned_frac=0.2,
                  strength=0.25, seed=0):
    """Features where some cells point, through the module's projections, at one real token.

    A planted cell is ``strength * u + g`` with ``u = normalize(W_v (W_t^T t))`` (the visual
    direction whose projection matches token t's projection) and ``g`` unit Gaussian noise.
    """
    gen = torch.Generator().manual_seed(seed)
    scorer = module.scorer
    cv, ct = scorer.vis_channels, scorer.text_channels
    vis = torch.randn(batch, cv, grid * grid, generator=gen)
    text = torch.randn(batch, num_tokens, ct, generator=gen)
    mask = torch.zeros(batch, num_tokens, dtype=torch.bool)
    mask[:, :num_real] = True
    aligned = torch.zeros(batch, grid * grid, dtype=torch.bool)
    k = round(aligned_frac * grid * grid)
    for b in range(batch):
        cells = torch.randperm(grid * grid, generator=gen)[:k]
        tokens = torch.randint(0, num_real, (k, ), generator=gen)
        target = F.normalize(text[b, tokens], dim=-1) @ scorer.text_proj
        direction = F.normalize(target @ scorer.vis_proj.t(), dim=-1)
        noise = torch.randn(k, cv, generator=gen) / math.sqrt(cv)
        vis[b][:, cells] = (strength * direction + noise).t()
        aligned[b, cells] = True
    vis = vis.view(batch, cv, grid, grid)
    return vis, text, mask, aligned.view(batch, grid, grid)


def test_defaults_mask_a_minority_and_spare_aligned_cells():
    """The scale trap: the defaults (temperature 0.05, minmax) give tau=0.4 a useful meaning."""
    module = AlignmentAwareMasking(scorer=dict(type='PatchMaxScorer', vis_channels=512,
                                               text_channels=384))
    masked_aligned = masked_other = n_aligned = n_other = 0
    for seed in range(4):
        vis, text, mask, aligned = planted_batch(module, 4, 5, seed=seed)
        out = run(module, torch.zeros(4, 3, 160, 160), vis, text, mask, seed=seed)
        blocks = block_grid(out.block_mask, (32, 32))
        masked_aligned += (blocks & aligned).sum().item()
        masked_other += (blocks & ~aligned).sum().item()
        n_aligned += aligned.sum().item()
        n_other += (~aligned).sum().item()
    assert masked_aligned / n_aligned < 0.05
    assert 0.1 < masked_other / n_other <= 0.25 + 0.05
    assert (masked_aligned + masked_other) / (n_aligned + n_other) < 0.5


def test_scale_trap_without_temperature_every_block_is_weak():
    """Documents why temperature/minmax exist: cosine scores through a flat softmax."""
    module = AlignmentAwareMasking(scorer=dict(type='PatchMaxScorer', vis_channels=512,
                                               text_channels=384, temperature=1.0,
                                               score_norm='none'))
    vis, text, mask, _ = planted_batch(module, 4, 5)
    out = run(module, torch.zeros(4, 3, 160, 160), vis, text, mask)
    assert out.stats['aml_weak_ratio'].item() == 1.0
    assert out.score_map.max().item() < 0.2  # about 1 / (10 real tokens)


# ---------------------------------------------------------------------- released code
def literal_official_mask(relevance, image_size, patch, tau, keys):
    """Per-sample NumPy replica of the released code's masking (square, H % patch == 0).

    As released: upsample, patchify, ``low = nonzero(rel < tau)`` gives (patch, offset) pairs,
    both columns clamped to ``N - 1``, ``max(1, K // 4)`` pairs drawn, and the drawn index pairs
    zero the patches of **both** columns.

    The bilinear upsampling is the same library call as the released code's; ``randperm`` is
    replaced by the order of the given keys of the weak pairs, so the draw is reproducible.
    """
    up = F.interpolate(relevance, size=image_size, mode='bilinear', align_corners=False)
    up = up.numpy()
    batch = up.shape[0]
    grid = image_size[0] // patch
    num = grid * grid
    # patchify a 1-channel map: [B, N, patch * patch], offset = py * patch + px
    patches = up.reshape(batch, grid, patch, grid, patch).transpose(0, 1, 3, 2, 4).reshape(
        batch, num, patch * patch)
    zeroed = np.zeros((batch, num), dtype=bool)
    for i in range(batch):
        low = np.argwhere(patches[i] < tau)  # [K, 2] (patch, offset), row-major like nonzero
        order = np.argsort(keys[i][low[:, 0] * patch * patch + low[:, 1]], kind='stable')
        low = np.clip(low, 0, num - 1)  # both columns, as coded
        n = max(1, len(low) // 4)
        chosen = low[order[:n]]  # [n, 2]
        zeroed[i][chosen] = True  # patches[i, low[sel]] = 0 zeroes both columns' patches
    return zeroed.reshape(batch, grid, grid)


@pytest.mark.parametrize('size, patch, grid', [(64, 16, 4), (96, 32, 3), (448, 32, 14)])
def test_official_mask_matches_the_literal_replica(size, patch, grid):
    gen = torch.Generator().manual_seed(size)
    relevance = torch.rand(2, 1, grid, grid, generator=gen) * 0.8
    num_pairs = (size // patch)**2 * patch * patch
    keys = torch.rand(2, num_pairs, generator=gen)
    blocks, weak = official_block_mask(relevance, (size, size), (patch, patch), 0.4, 0.25, keys)
    expected = literal_official_mask(relevance, (size, size), patch, 0.4, keys.numpy())
    assert weak.any()
    np.testing.assert_array_equal(blocks.numpy(), expected)


def test_official_mask_without_weak_pixels_masks_nothing():
    blocks, weak = official_block_mask(torch.ones(2, 1, 4, 4), (64, 64), (16, 16), 0.4)
    assert not blocks.any() and not weak.any()


@pytest.mark.parametrize('weak_frac, expected', [(0.01, 0.11), (0.05, 0.49), (0.20, 0.98)])
def test_official_mask_reproduces_the_reported_masked_fractions(weak_frac, expected):
    """Figures measured on a NumPy replica of the released indexing (weak patches drawn from
    U(0.05, 0.35), others from U(0.5, 1), 448 x 448): 11 / 49 / 98 % of the blocks masked."""
    gen = torch.Generator().manual_seed(0)
    trials, num = 8, 196
    relevance = 0.5 + 0.5 * torch.rand(trials, num, generator=gen)
    num_weak = round(weak_frac * num)
    for t in range(trials):
        cells = torch.randperm(num, generator=gen)[:num_weak]
        relevance[t, cells] = 0.05 + 0.3 * torch.rand(num_weak, generator=gen)
    torch.manual_seed(0)
    blocks, _ = official_block_mask(relevance.view(trials, 1, 14, 14), (448, 448), (32, 32),
                                    0.4, 0.25)
    assert blocks.float().mean().item() == pytest.approx(expected, abs=0.07)


def test_official_relevance_matches_the_description_and_includes_padding():
    gen = torch.Generator().manual_seed(0)
    vis = torch.randn(2, 8, 3, 3, generator=gen)
    text = torch.randn(2, 5, 6, generator=gen)
    weight, bias = torch.randn(8, 6, generator=gen), torch.randn(8, generator=gen)
    out = official_relevance(vis, text, weight, bias)
    for b in range(2):
        v = vis[b].reshape(8, 9).T.double().numpy()
        t = text[b].double().numpy() @ weight.double().numpy().T + bias.double().numpy()
        s = v @ t.T
        p = np.exp(s - s.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        np.testing.assert_allclose(out[b, 0].numpy().ravel(), p.max(1), rtol=1e-5, atol=1e-6)


def test_released_pair_reproduces_the_released_behaviour():
    module = build_released(block_size=16)
    inputs, vis, text, mask = make_batch(batch=2, size=(64, 64), grid=(4, 4))
    out = run(module, inputs, vis, text, mask)
    expected_scores = official_relevance(vis, text, module.scorer.text_proj_weight,
                                         module.scorer.text_proj_bias)
    assert torch.equal(out.score_map, expected_scores)
    torch.manual_seed(0)
    blocks, weak = official_block_mask(expected_scores, (64, 64), (16, 16), 0.4, 0.25)
    assert torch.equal(out.block_mask, expand_grid(blocks, (64, 64), (16, 16)))
    assert torch.equal(out.weak_mask, weak)
    # the weak fraction is counted on pixels, the weak blocks are those with a weak pixel
    assert out.stats['aml_weak_ratio'].item() == pytest.approx(weak.float().mean().item())
    # the released code's softmax includes [PAD] slots: padding changes its scores
    other = text.clone()
    other[~mask] = torch.randn(int((~mask).sum()), CT) * 10
    assert not torch.equal(run(module, inputs, vis, other, mask).score_map, out.score_map)


def test_released_filter_never_refuses_small_images():
    # the released code has no block-size check (it hides blocks beyond the image, too)
    module = build_released(block_size=32)
    module.check_image_size(16, 16)
    with pytest.raises(ValueError, match='smaller than one AML block'):
        build(block_size=32).check_image_size(16, 16)


@pytest.mark.parametrize('block_filter', [
    dict(type='AlignmentAwareFilter', tau=2.0, rho=1.0),
    dict(type='AlignmentAwareFilter', tau=2.0, rho=0.5, mode='random'),
    dict(type='AlignmentAwareFilter', tau=2.0, count=0.5),
    dict(type='AlignmentAwareFilter', tau=2.0, rho=1.0, granularity='pixel'),
    dict(type='RandomBlockFilter', ratio=1.0),
    dict(type='ReleasedBlockFilter', tau=2.0, rho=0.01),
], ids=lambda c: f"{c['type']}-{c.get('mode', c.get('granularity', ''))}")
def test_blocks_of_padding_only_are_never_candidates(block_filter):
    block_filter = MODELS.build(dict(block_filter, block_size=8))
    samples = [SegDataSample(metainfo=dict(img_shape=(20, 12))),  # batch padding
               SegDataSample(metainfo=dict(letterbox_box=(0.0, 9.5, 32.0, 22.5)))]
    valid = real_image_pixels(samples, (32, 32), torch.device('cpu'))
    assert valid[0, 0, :20, :12].all() and valid[0].sum() == 20 * 12
    assert valid[1, 0, 9:23].all() and valid[1].sum() == 14 * 32
    torch.manual_seed(0)
    selection = block_filter(torch.rand(2, 1, 4, 4), (32, 32), valid)
    candidates = torch.zeros(2, 4, 4, dtype=torch.bool)
    candidates[0, :3, :2] = True  # rows 0-23 and columns 0-15 hold image pixels
    candidates[1, 1:3, :] = True  # rows 8-23
    if block_filter.__class__.__name__ != 'ReleasedBlockFilter':  # (its slip goes anywhere)
        assert not (selection.masked & ~candidates).any()
        assert selection.masked.any()
    assert not (selection.weak_blocks & ~candidates).any()
    assert not (selection.weak_mask & ~expand_blocks(candidates, (32, 32), (8, 8))).any()
    if getattr(block_filter, 'count', None) is not None:  # a share of the candidates
        assert selection.masked.flatten(1).sum(1).tolist() == [3, 4]
    unpadded = block_filter(torch.rand(2, 1, 4, 4), (32, 32), None)
    assert unpadded.weak_blocks.all()  # without valid, every block is a candidate


def test_no_valid_mask_when_the_images_fill_the_batch():
    samples = [SegDataSample(metainfo=dict(img_shape=(32, 32))),
               SegDataSample(metainfo=dict(letterbox_box=(0.0, 0.0, 32.0, 32.0)))]
    assert real_image_pixels(samples, (32, 32), torch.device('cpu')) is None
