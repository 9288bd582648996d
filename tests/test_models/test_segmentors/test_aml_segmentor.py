# Copyright (c) mmamlris contributors. All rights reserved.
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper

from mmamlris.engine.hooks import AMLStepRecorder
from mmamlris.models.aml import AMLOutput
from mmamlris.registry import MODELS
from mmamlris.testing.ris_inputs import demo_ris_inputs, tiny_aml_cfg, tiny_segmentor_cfg

# A low tau masks some blocks of random-init features; rho=1 makes the choice deterministic.
AML = tiny_aml_cfg(tau=0.5, rho=1.0)
RELEASED_AML = tiny_aml_cfg(scorer=dict(type='ReleasedRelevanceScorer'),
                            filter=dict(type='ReleasedBlockFilter', block_size=16))
# PatchMax on the stride-16 level of the tiny ResNet (32 channels).
LEVEL_MINUS_2 = tiny_aml_cfg(vis_channels=32, scorer=dict(type='PatchMaxScorer', in_index=-2))


def build(cfg):
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    return model


def preprocess(model, training=True, **kwargs):
    return model.data_preprocessor(demo_ris_inputs(**kwargs), training)


def test_baseline_loss_and_train_step():
    model = build(tiny_segmentor_cfg())
    assert not model.with_aml
    data = preprocess(model)
    losses = model(**data, mode='loss')
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg'}
    assert torch.isfinite(losses['decode.loss_ce'])
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    before = [p.detach().clone() for p in model.parameters()]
    log_vars = model.train_step(demo_ris_inputs(), optim)
    assert 'loss' in log_vars
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_aml_loss_logs_statistics_that_are_not_optimised():
    model = build(tiny_segmentor_cfg(aml=AML))
    losses = model(**preprocess(model), mode='loss')
    stats = {k for k in losses if k.startswith('aml_')}
    assert {'aml_mask_ratio', 'aml_weak_ratio', 'aml_score_mean'} <= stats
    assert all('loss' not in k for k in stats)
    assert 0.0 <= float(losses['aml_mask_ratio']) <= 1.0
    # mmengine only sums keys containing 'loss': the statistics never reach the gradient.
    total, _ = model.parse_losses(losses)
    assert torch.allclose(total, losses['decode.loss_ce'])


def test_predict_is_identical_with_aml_on_and_off():
    baseline = build(tiny_segmentor_cfg())
    with_aml = build(tiny_segmentor_cfg(aml=AML))
    with_aml.load_state_dict(baseline.state_dict(), strict=False)
    for model in (baseline, with_aml):
        model.eval()
    data = demo_ris_inputs(image_shapes=((64, 96), ), batch_size=2)
    out_a = baseline.test_step(copy.deepcopy(data))
    out_b = with_aml.test_step(copy.deepcopy(data))
    for a, b in zip(out_a, out_b):
        assert torch.equal(a.seg_logits.data, b.seg_logits.data)
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)


def test_predict_shapes_original_and_resized():
    model = build(tiny_segmentor_cfg(aml=AML)).eval()
    data = demo_ris_inputs(batch_size=2, image_shapes=((64, 64), ))
    # pretend the images were resized from larger originals
    data['data_samples'][0].set_metainfo(dict(ori_shape=(120, 90)))
    data['data_samples'][1].set_metainfo(dict(ori_shape=(30, 50)))
    out = model.test_step(data)
    assert out[0].pred_sem_seg.data.shape == (1, 120, 90)
    assert out[1].pred_sem_seg.data.shape == (1, 30, 50)
    for sample in out:
        assert sample.pred_sem_seg_resized.data.shape == (1, 64, 64)
        assert set(sample.pred_sem_seg_resized.data.unique().tolist()) <= {0, 1}


def test_stage1_contributes_no_gradient_by_default():
    """The AML gradient equals the plain model's gradient on the masked images."""
    aml_model = build(tiny_segmentor_cfg(aml=AML))
    plain = build(tiny_segmentor_cfg())
    plain.load_state_dict(aml_model.state_dict(), strict=False)
    # eval(): no dropout (its random draws would differ) and BN with fixed statistics.
    aml_model.eval()
    plain.eval()
    data = preprocess(aml_model)
    with AMLStepRecorder(aml_model) as recorder:
        losses = aml_model(**copy.deepcopy(data), mode='loss')
    masked = recorder.record['masked_inputs']
    assert float(losses['aml_mask_ratio']) > 0, 'the test needs some masking'
    total, _ = aml_model.parse_losses(losses)
    total.backward()
    plain_losses = plain(masked, copy.deepcopy(data['data_samples']), mode='loss')
    plain.parse_losses(plain_losses)[0].backward()
    for (name, p_aml), p_plain in zip(aml_model.named_parameters(), plain.parameters()):
        if p_aml.grad is None:
            assert p_plain.grad is None, name
            continue
        assert torch.allclose(p_aml.grad, p_plain.grad, atol=1e-6), name


def test_stage1_runs_without_gradient_and_without_decoder():
    model = build(tiny_segmentor_cfg(aml=AML))
    grads, head_calls = [], []
    model.backbone.register_forward_hook(lambda m, i, o: grads.append(o[-1].requires_grad))
    head_forward = model.decode_head.forward
    model.decode_head.forward = lambda *a: head_calls.append(1) or head_forward(*a)
    model(**preprocess(model), mode='loss')
    assert grads == [False, True]
    assert len(head_calls) == 1


def test_stage1_loss_weight_adds_a_weighted_stage1_loss():
    model = build(tiny_segmentor_cfg(aml=AML, stage1_loss_weight=0.5, stage2_loss_weight=0.5))
    grads = []
    model.backbone.register_forward_hook(lambda m, i, o: grads.append(o[-1].requires_grad))
    losses = model(**preprocess(model), mode='loss')
    assert grads == [True, True]
    assert 'stage1.decode.loss_ce' in losses and 'decode.loss_ce' in losses
    # acc_seg is a statistic, not weighted
    assert float(losses['stage1.decode.acc_seg']) <= 100.0


def test_stage1_scale_downsamples_the_alignment_pass():
    model = build(tiny_segmentor_cfg(aml=AML, stage1_scale=0.5))
    shapes = []
    model.backbone.register_forward_hook(lambda m, i, o: shapes.append(tuple(i[0].shape[-2:])))
    model(**preprocess(model), mode='loss')
    assert shapes == [(32, 32), (64, 64)]


def test_released_step_runs_three_backbone_passes():
    model = build(tiny_segmentor_cfg(aml=RELEASED_AML, stage1_loss_weight=0.5,
                                     stage2_loss_weight=0.5, stage2_text='clean'))
    inputs = []
    model.backbone.register_forward_hook(lambda m, i, o: inputs.append(i[0]))
    text_feats = []
    model.text_encoder.register_forward_hook(lambda m, i, o: text_feats.append(o[0]))
    data = preprocess(model)
    with AMLStepRecorder(model) as recorder:
        losses = model(**data, mode='loss')
    assert len(inputs) == 3
    assert 'stage1.decode.loss_ce' in losses
    # stage 1 and the clean text pass see the clean images, the last pass the masked ones
    assert torch.equal(inputs[0], data['inputs']) and torch.equal(inputs[1], data['inputs'])
    assert torch.equal(inputs[2], recorder.record['masked_inputs'])


def test_stage2_text_masked_encodes_the_text_from_the_masked_pass():
    model = build(tiny_segmentor_cfg(aml=AML, head='CARISHead'))  # prompts: text needs vision
    inputs, prompts_from = [], []
    model.backbone.register_forward_hook(lambda m, i, o: inputs.append(i[0]))
    model.decode_head.text_prompts = (
        lambda feats, f=model.decode_head.text_prompts: prompts_from.append(feats[-1]) or f(feats))
    model(**preprocess(model), mode='loss')
    assert len(inputs) == 2 and len(prompts_from) == 2  # stage 1 (clean), stage 2 (masked)


def test_mask_batch_is_the_public_stage1_entry_point():
    model = build(tiny_segmentor_cfg(aml=AML))
    data = preprocess(model)
    with torch.no_grad():
        torch.manual_seed(3)
        out = model.mask_batch(data['inputs'], data['data_samples'])
    assert isinstance(out, AMLOutput)
    assert out.masked_inputs.shape == data['inputs'].shape
    assert out.losses == {}
    assert model._reuses_stage1_text  # LiteRISHead has no prompts: text shared with stage 2
    # loss() masks exactly what mask_batch masks for the same random state
    with AMLStepRecorder(model) as recorder:
        torch.manual_seed(3)
        model(**data, mode='loss')
    assert torch.equal(recorder.record['block_mask'], out.block_mask)
    with pytest.raises(RuntimeError, match='needs model.aml'):
        build(tiny_segmentor_cfg()).mask_batch(data['inputs'], data['data_samples'])


def test_every_parameter_gets_a_gradient_with_aml():
    """No unused parameters: DDP without find_unused_parameters must work."""
    model = build(tiny_segmentor_cfg(aml=AML))
    losses = model(**preprocess(model), mode='loss')
    model.parse_losses(losses)[0].backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing
    assert not [n for n, _ in model.aml.named_parameters()], 'AML must have no parameters'


def test_tensor_mode_and_missing_text_errors():
    model = build(tiny_segmentor_cfg()).eval()
    data = preprocess(model, training=False)
    logits = model(**data, mode='tensor')
    assert logits.shape[:2] == (2, 2)
    with pytest.raises(ValueError, match='tokenised expression'):
        model.predict(data['inputs'], None)


@pytest.mark.parametrize('kwargs', [dict(stage1_scale=0), dict(stage1_loss_weight=-1),
                                    dict(stage2_text='both'),
                                    dict(stage1_scale=0.5, stage1_loss_weight=0.5)])
def test_bad_options_are_refused(kwargs):
    with pytest.raises(ValueError):
        MODELS.build(tiny_segmentor_cfg(aml=AML, **kwargs))


def test_every_parameter_gets_a_gradient_with_aml_under_autocast():
    """Stage 1's no-grad pass must not leave gradient-less autocast weight copies behind."""
    model = build(tiny_segmentor_cfg(aml=AML))
    data = preprocess(model)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model(**data, mode='loss')
    model.parse_losses(losses)[0].backward()
    assert not [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]


def _count_calls(module):
    calls = []
    module.register_forward_hook(lambda m, i, o: calls.append(1))
    return calls


def test_stage1_stops_the_backbone_after_the_level_it_scores():
    aml = tiny_aml_cfg(vis_channels=32, tau=0.5, rho=1.0,  # level -2 (stride 16) is 32 wide
                       scorer=dict(type='PatchMaxScorer', in_index=-2))
    losses = {}
    for early_exit in (True, False):
        model = build(tiny_segmentor_cfg(aml=aml, stage1_early_exit=early_exit))
        data = preprocess(model)
        assert model._stage1_levels() == ([-2] if early_exit else None)
        model(**data, mode='loss')  # the first call verifies the cut once
        top = _count_calls(model.backbone.layer4)
        torch.manual_seed(5)
        losses[early_exit] = model(**data, mode='loss')
        # stage 2 only, or stages 1 and 2
        assert len(top) == (1 if early_exit else 2)
    assert model._stage1_backbone is None
    for key in ('decode.loss_ce', 'aml_mask_ratio'):
        assert torch.equal(losses[True][key], losses[False][key]), key


def test_stage1_keeps_the_levels_of_the_scorer_and_the_text_prompts():
    learned = tiny_aml_cfg(vis_channels=32, scorer=dict(
        type='LearnedScorer', in_index=-2, aux_feat_indices=[-3], aux_channels=[16]))
    model = build(tiny_segmentor_cfg(aml=learned))
    assert sorted(model._stage1_levels()) == [-3, -2]
    # CARIS's conditional prompts read the coarsest level: stage 1 needs it
    model = build(tiny_segmentor_cfg(aml=LEVEL_MINUS_2, head='CARISHead'))
    assert model._stage1_levels() == [-2, 3]
    top = _count_calls(model.backbone.layer4)
    model(**preprocess(model), mode='loss')
    assert len(top) == 2
    # a scorer that runs the decoder needs every level
    model = build(tiny_segmentor_cfg(aml=tiny_aml_cfg(scorer=dict(type='DecoderScorer'))))
    assert model._stage1_levels() is None


def test_stage1_text_without_prompts_lets_caris_stop_below_the_coarsest_level():
    model = build(tiny_segmentor_cfg(aml=LEVEL_MINUS_2, head='CARISHead',
                                     stage1_text_prompts=False))
    assert model._stage1_levels() == [-2]
    data = preprocess(model)
    model(**data, mode='loss')  # verifies the cut
    top, prompts = _count_calls(model.backbone.layer4), []
    model.text_encoder.register_forward_hook(lambda m, i, o: prompts.append(i[2]))
    model(**data, mode='loss')
    assert len(top) == 1  # stage 2 only
    # stage 1: the plain expression; stage 2: with CARIS's prompts, as always
    assert prompts[0] is None and prompts[1] is not None and len(prompts) == 2


def test_mask_target_loss_hides_the_blocks_from_the_loss_not_from_the_image():
    model = build(tiny_segmentor_cfg(aml=dict(AML, mask_target='loss')))
    model.decode_head.dropout = None  # no dropout: the two computations below compare exactly
    model.text_encoder.eval()  # (BERT's dropout off; nothing here has BatchNorm)
    data = preprocess(model)
    gts = [s.gt_sem_seg.data.clone() for s in data['data_samples']]
    seen = []
    model.backbone.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    with AMLStepRecorder(model) as recorder:
        losses = model(**data, mode='loss')
    block_mask = recorder.record['block_mask']
    assert block_mask.any() and not block_mask.all()
    assert torch.equal(recorder.record['masked_inputs'], data['inputs'])
    assert len(seen) == 2 and torch.equal(seen[1], data['inputs'])  # stage 2: clean image
    for gt, sample in zip(gts, data['data_samples']):  # the batch's samples are untouched
        assert torch.equal(gt, sample.gt_sem_seg.data)
    # stage 2's loss is the plain loss on the clean image with the masked pixels ignored
    ignored = [s.clone() for s in data['data_samples']]
    for sample, mask in zip(ignored, block_mask):
        sample.gt_sem_seg = sample.gt_sem_seg.clone()
        sample.gt_sem_seg.data = sample.gt_sem_seg.data.masked_fill(mask, 255)
    from mmamlris.models.data_preprocessor import stack_text_inputs
    feats, text = model._encode(data['inputs'], stack_text_inputs(ignored))
    expected = model._decode_head_forward_train(feats, text, ignored)
    torch.testing.assert_close(losses['decode.loss_ce'], expected['decode.loss_ce'])
    plain = model._decode_head_forward_train(feats, text, data['data_samples'])
    assert not torch.allclose(plain['decode.loss_ce'], expected['decode.loss_ce'])


def test_mask_target_is_checked():
    with pytest.raises(ValueError, match="mask_target must be 'image' or 'loss'"):
        build(tiny_segmentor_cfg(aml=dict(AML, mask_target='gt')))
