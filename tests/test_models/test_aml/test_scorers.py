# Copyright (c) mmamlris contributors. All rights reserved.
"""OracleScorer, LearnedScorer, DecoderScorer and RandomBlockFilter, inside AMLSegmentor."""
import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from mmengine.optim import build_optim_wrapper

from mmamlris.engine.hooks import AMLStepRecorder
from mmamlris.models.aml.scorers import minmax_per_image
from mmamlris.registry import MODELS
from mmamlris.testing.ris_inputs import demo_ris_inputs, tiny_aml_cfg, tiny_segmentor_cfg

SCORERS = ('PatchMaxScorer', 'OracleScorer', 'LearnedScorer', 'DecoderScorer',
           'ReleasedRelevanceScorer')


def build(aml):
    torch.manual_seed(0)
    model = MODELS.build(tiny_segmentor_cfg(aml=aml))
    model.init_weights()
    return model


def batch(model, training=True, seed=0, **kwargs):
    return model.data_preprocessor(demo_ris_inputs(seed=seed, **kwargs), training)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), tau=st.sampled_from([0.01, 0.4, 1.0]),
       rho=st.sampled_from([0.25, 1.0]), granularity=st.sampled_from(['block', 'pixel']))
def test_oracle_never_masks_the_referred_object(seed, tau, rho, granularity):
    gen = torch.Generator().manual_seed(seed)
    model = build(tiny_aml_cfg(scorer=dict(type='OracleScorer'), tau=tau, rho=rho,
                               granularity=granularity))
    data = batch(model, batch_size=3, image_shapes=((64, 96), (70, 50)))
    for sample in data['data_samples']:  # a random 8 x 8 box as the referred object
        gt = sample.gt_sem_seg.data
        y, x = (int(torch.randint(0, s - 7, (1, ), generator=gen)) for s in sample.img_shape)
        gt[gt == 1] = 0
        gt[0, y:y + 8, x:x + 8] = 1
    with torch.no_grad():
        out = model.mask_batch(data['inputs'], data['data_samples'])
    assert out.stats['aml_object_masked'].item() == 0.0
    assert out.stats['aml_target_auc'].item() == 1.0
    for i, sample in enumerate(data['data_samples']):
        assert not (out.block_mask[i, 0] & (sample.gt_sem_seg.data[0] == 1)).any()
    if tau > 0.01 and rho == 1.0 and granularity == 'block':
        assert out.stats['aml_context_masked'].item() > 0  # the other blocks are masked


def test_oracle_needs_the_gt():
    model = build(tiny_aml_cfg(scorer=dict(type='OracleScorer')))
    data = batch(model)
    for sample in data['data_samples']:
        del sample.gt_sem_seg
    with pytest.raises(ValueError, match='OracleScorer reads the GT'):
        model.mask_batch(data['inputs'], data['data_samples'])


def test_learned_scorer_trains_only_itself_in_its_own_parameter_group():
    model = build(tiny_aml_cfg(scorer=dict(type='LearnedScorer', embed_dim=8)))
    scorer_params = dict(model.aml.scorer.named_parameters())
    assert {'logit_scale', 'logit_bias'} <= set(scorer_params)
    assert all(f'aml.scorer.{k}' in model.state_dict() for k in scorer_params)
    losses = model(**batch(model), mode='loss')
    assert 'aml.loss_scorer' in losses and torch.isfinite(losses['aml.loss_scorer'])
    # the scorer's loss reaches the scorer only; the model's loss never reaches the scorer
    losses['aml.loss_scorer'].backward(retain_graph=True)
    assert all(p.grad is not None for p in scorer_params.values())
    assert all(p.grad is None for n, p in model.named_parameters() if not n.startswith('aml.'))
    model.zero_grad(set_to_none=True)
    losses['decode.loss_ce'].backward()
    assert all(p.grad is None for p in scorer_params.values())
    optim = build_optim_wrapper(model, dict(
        type='OptimWrapper', constructor='RISOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
        paramwise_cfg=dict(lr_mult={'text_encoder': 0.1})))
    ids = {id(p) for p in scorer_params.values()}
    for group in optim.optimizer.param_groups:
        inside = {id(p) in ids for p in group['params']}
        assert len(inside) == 1, 'a group mixes scorer and model parameters'
    assert sum(len(g['params']) for g in optim.optimizer.param_groups
               if id(g['params'][0]) in ids) == len(scorer_params)


def test_learned_scorer_learns_the_target_cells():
    # blocks of one cell (stride 32): the AUC over blocks is the AUC over the scored cells
    model = build(tiny_aml_cfg(scorer=dict(type='LearnedScorer', embed_dim=16), block_size=32))
    model.eval()  # fixed features: only the scorer changes
    model.aml.train()  # AML computes the scorer's loss in training mode
    raw = demo_ris_inputs(batch_size=6, image_shapes=((64, 64), ), seed=1)
    for image, sample in zip(raw['inputs'], raw['data_samples']):
        image[:, sample.gt_sem_seg.data[0] == 1] = 255  # the referred object: a white square
    data = model.data_preprocessor(raw, True)
    scorer = model.aml.scorer
    optim = torch.optim.Adam(scorer.parameters(), lr=0.02)
    for _ in range(100):
        optim.zero_grad()
        loss = model.mask_batch(data['inputs'], data['data_samples']).losses
        loss['loss_scorer'].backward()
        optim.step()
    with torch.no_grad():
        out = model.mask_batch(data['inputs'], data['data_samples'])
    assert out.stats['aml_target_auc'].item() > 0.9


def test_decoder_scorer_reads_the_stage1_decoder_without_gradient():
    model = build(tiny_aml_cfg(scorer=dict(type='DecoderScorer')))
    calls = []
    model.decode_head.register_forward_hook(
        lambda m, a, o: calls.append((torch.is_grad_enabled(), o.detach())))
    data = batch(model)
    with AMLStepRecorder(model) as recorder:
        model(**data, mode='loss')
    assert [grad for grad, _ in calls] == [False, True]  # stage 1 (scores), stage 2 (loss)
    prob = calls[0][1].float().softmax(dim=1)[:, 1:2]
    score = recorder.record['score_map']
    assert torch.equal(score, minmax_per_image(prob))  # default: rescaled per image
    assert score.flatten(1).amin(1).eq(0).all() and score.flatten(1).amax(1).eq(1).all()
    # score_norm='none': the raw probability
    model = build(tiny_aml_cfg(scorer=dict(type='DecoderScorer', score_norm='none')))
    calls.clear()
    model.decode_head.register_forward_hook(
        lambda m, a, o: calls.append((torch.is_grad_enabled(), o.detach())))
    with AMLStepRecorder(model) as recorder:
        model(**data, mode='loss')
    assert torch.equal(recorder.record['score_map'],
                       calls[0][1].float().softmax(dim=1)[:, 1:2])
    with pytest.raises(ValueError, match='score_norm'):
        build(tiny_aml_cfg(scorer=dict(type='DecoderScorer', score_norm='max')))


def test_random_block_filter_masks_a_fixed_share_of_the_blocks():
    model = build(tiny_aml_cfg(filter=dict(type='RandomBlockFilter', ratio=0.6, block_size=16)))
    data = batch(model, batch_size=3, image_shapes=((64, 96), ))
    with torch.no_grad():
        out = model.mask_batch(data['inputs'], data['data_samples'])
    blocks = out.block_mask[:, 0, ::16, ::16].flatten(1)
    assert blocks.sum(1).tolist() == [14] * 3  # floor(0.6 * 24 + 0.5) of the 4 x 6 blocks
    assert (blocks[0] != blocks[1]).any()  # drawn per image
    assert out.stats['aml_weak_ratio'].item() == 1.0


@pytest.mark.parametrize('scorer', SCORERS)
def test_predict_is_bit_identical_for_every_scorer(scorer):
    baseline = build(None).eval()
    with_aml = build(tiny_aml_cfg(scorer=dict(type=scorer)))
    with_aml.load_state_dict(baseline.state_dict(), strict=False)
    with_aml.eval()
    data = demo_ris_inputs(batch_size=2, image_shapes=((64, 96), ))
    for a, b in zip(baseline.test_step(copy.deepcopy(data)),
                    with_aml.test_step(copy.deepcopy(data))):
        assert torch.equal(a.seg_logits.data, b.seg_logits.data)
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)


def test_learned_scorer_rescales_each_image_unless_told_not_to():
    from mmamlris.models.aml import LearnedScorer
    torch.manual_seed(0)
    scorer = LearnedScorer(8, 6, embed_dim=4)
    vis, text = torch.randn(2, 8, 3, 3), torch.randn(2, 5, 6)
    mask = torch.ones(2, 5, dtype=torch.bool)
    logits = scorer([vis], text, mask)
    score = scorer.scores(logits)
    assert torch.allclose(score.flatten(1).amin(1), torch.zeros(2))
    assert torch.allclose(score.flatten(1).amax(1), torch.ones(2))
    scorer.score_norm = 'none'
    assert torch.equal(scorer.scores(logits), logits.sigmoid())
    with pytest.raises(ValueError, match='score_norm'):
        LearnedScorer(8, 6, score_norm='rank')


def test_learned_scorer_pools_the_finer_levels_into_its_cells():
    from mmamlris.models.aml import LearnedScorer
    torch.manual_seed(0)
    scorer = LearnedScorer(8, 6, embed_dim=4, aux_feat_indices=(0, ), aux_channels=(3, ))
    assert scorer.vis_embed[0].in_channels == 8 + 2 * 3  # vis + max- and mean-pooled level
    vis, text = torch.randn(2, 8, 2, 2), torch.randn(2, 5, 6)
    mask = torch.ones(2, 5, dtype=torch.bool)
    fine = torch.randn(2, 3, 4, 4, requires_grad=True)
    cells = scorer._cells([fine, vis])
    top_left = fine.detach()[:, :, :2, :2].flatten(2)
    assert torch.equal(cells[:, :8], vis)
    assert torch.equal(cells[:, 8:11, 0, 0], top_left.amax(-1))
    assert torch.allclose(cells[:, 11:, 0, 0], top_left.mean(-1))
    # only the scorer learns: no gradient flows back into the levels it reads
    logits = scorer([fine, vis], text, mask)
    logits.sum().backward()
    assert fine.grad is None
    # the finer level changes the score of the cell it falls into, and only that one
    other = fine.detach().clone()
    other[0, :, 3, 3] += 5
    delta = scorer([other, vis], text, mask) - logits.detach()
    assert delta[0, 0, 1, 1] != 0 and delta[0, 0, :1].eq(0).all() and delta[1].eq(0).all()


def test_learned_scorer_aux_level_errors():
    from mmamlris.models.aml import LearnedScorer
    with pytest.raises(ValueError, match='one positive width per index'):
        LearnedScorer(8, 6, aux_feat_indices=(-2, ), aux_channels=())
    scorer = LearnedScorer(8, 6, aux_feat_indices=(-2, ), aux_channels=(3, ))
    vis, text = torch.randn(1, 8, 2, 2), torch.randn(1, 5, 6)
    mask = torch.ones(1, 5, dtype=torch.bool)
    with pytest.raises(ValueError, match='set aux_channels'):
        scorer([torch.randn(1, 4, 4, 4), vis], text, mask)
    with pytest.raises(ValueError, match='set aux_channels'):
        scorer([None, vis], text, mask)  # a level stage 1 did not compute
    with pytest.raises(ValueError, match='has 1 feature levels'):
        scorer([vis], text, mask)


def test_learned_scorer_reads_the_finer_levels_inside_the_segmentor():
    scorer = dict(type='LearnedScorer', embed_dim=8, aux_feat_indices=(-2, -3),
                  aux_channels=(32, 16))
    model = build(tiny_aml_cfg(scorer=scorer))
    assert model.aml.scorer.feat_indices == (-1, -2, -3)
    seen = []
    model.aml.scorer.register_forward_hook(
        lambda m, args, out: seen.append([None if t is None else t.shape[1] for t in args[0]]))
    losses = model(**batch(model), mode='loss')
    assert torch.isfinite(losses['aml.loss_scorer'])
    # the scorer receives every stage-1 level (the tiny backbone's are 8, 16, 32, 64 wide)
    assert seen == [[8, 16, 32, 64]]


def test_a_scorer_declares_its_level_and_widths():
    """The segmentor builds the scorer as configured: a wrong width is a clear error."""
    aml = tiny_aml_cfg(vis_channels=32, scorer=dict(type='PatchMaxScorer', in_index=-2))
    model = build(aml)
    assert (model.aml.scorer.in_index, model.aml.scorer.vis_channels) == (-2, 32)
    assert model._stage1_levels() == [-2]
    model(**batch(model), mode='loss')
    wrong = build(tiny_aml_cfg(scorer=dict(type='PatchMaxScorer', in_index=-2)))  # 64 wide
    with pytest.raises(ValueError, match=r'in_index=-2 must be \[B, vis_channels=64'):
        wrong(**batch(wrong), mode='loss')
    with pytest.raises(ValueError, match='in_index must be an int'):
        build(tiny_aml_cfg(scorer=dict(type='PatchMaxScorer', in_index=(-1, ))))


def test_the_oracle_must_score_the_filters_blocks():
    with pytest.raises(ValueError, match='set model.aml.scorer.block_size'):
        build(tiny_aml_cfg(scorer=dict(type='OracleScorer', block_size=32)))  # filter: 16


@pytest.mark.parametrize('empty', [[0], [0, 1]])
def test_alignment_statistics_stay_defined_without_a_target(empty):
    """gRefCOCO: an expression may refer to nothing (all-zero GT)."""
    model = build(tiny_aml_cfg(scorer=dict(type='LearnedScorer', embed_dim=8)))
    data = batch(model, batch_size=2)
    for i in empty:
        gt = data['data_samples'][i].gt_sem_seg.data
        gt[gt == 1] = 0
    out = model.mask_batch(data['inputs'], data['data_samples'])
    for key, value in out.stats.items():
        assert torch.isfinite(value), key
    assert torch.isfinite(out.losses['loss_scorer'])
    # a batch with no object at all logs no AUC and no object share (not 0.5 / 0.0)
    undefined = {'aml_target_auc', 'aml_object_masked'}
    assert undefined.isdisjoint(out.stats) if len(empty) == 2 else undefined <= set(out.stats)
    assert 'aml_context_masked' in out.stats
