# Copyright (c) mmamlris contributors. All rights reserved.
import copy
import time

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import nn

from mmamlris.models.decode_heads import BaseRISDecodeHead, CARISHead
from mmamlris.models.layers import ConditionalPrompt, VLDeformLayer, VLMultiheadAttention
from mmamlris.registry import MODELS

IN_CHANNELS = [8, 16, 32, 64]
TEXT_CHANNELS = 32
IMG = 64  # features at strides 4, 8, 16, 32: 16x16, 8x8, 4x4, 2x2


def _head(**kwargs):
    cfg = dict(type='CARISHead', in_channels=IN_CHANNELS, text_channels=TEXT_CHANNELS,
               channels=32, num_layers=2, num_heads=2, attn_inner_channels=32,
               ffn_channels=64)
    cfg.update(kwargs)
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.init_weights()  # what the runner does; must work without conv_seg
    return head


def _feats(batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, IMG // 4 // 2**i, IMG // 4 // 2**i, generator=gen)
            for i, c in enumerate(IN_CHANNELS)]


def _text(batch=2, length=7, seed=1):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(batch, length, TEXT_CHANNELS, generator=gen)
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[0, 4:] = False  # the first expression has 4 real tokens
    return feats, mask


def _samples(batch=2):
    samples = []
    for i in range(batch):
        gt = torch.zeros(1, IMG, IMG, dtype=torch.long)
        gt[:, 8 + 4 * i:40, 16:48] = 1
        gt[:, -2:, :] = 255  # padding-style ignored rows (RISCrossEntropyLoss skips them)
        sample = SegDataSample(metainfo=dict(img_shape=(IMG, IMG), pad_shape=(IMG, IMG)))
        sample.gt_sem_seg = PixelData(data=gt)
        samples.append(sample)
    return samples


def test_is_a_ris_head_with_the_caris_loss_and_no_conv_seg():
    head = _head()
    assert isinstance(head, CARISHead) and isinstance(head, BaseRISDecodeHead)
    assert head.num_classes == 2 and head.out_channels == 2
    assert head.align_corners is True
    assert head.input_transform == 'multiple_select' and head.in_index == [0, 1, 2, 3]
    assert head.loss_decode.class_weight == [0.9, 1.1]
    assert head.loss_decode.loss_name == 'loss_ce'
    assert not hasattr(head, 'conv_seg') and head.dropout is None
    assert not any(k.startswith('conv_seg') for k in head.state_dict())
    with pytest.raises(NotImplementedError, match='conv_seg'):
        head.cls_seg(torch.zeros(1, 32, 2, 2))


def test_default_is_the_full_size_caris_decoder():
    head = CARISHead()
    assert head.in_channels == [128, 256, 512, 1024] and head.channels == 256
    assert head.text_channels == 768 and len(head.layers) == 6
    layer = head.layers[0]
    deform = layer.vis_self_attn
    assert (deform.num_heads, deform.num_levels, deform.num_points) == (8, 3, 4)
    assert layer.v2l_attn.embed_dims == 1024 and layer.v2l_attn.num_heads == 8
    assert layer.lang_ffn[0].out_features == 1024 and layer.vis_ffn[0].out_features == 1024
    assert head.vis_prompts.weight.shape == (5, 256)
    assert head.level_embed.weight.shape == (3, 256)
    assert head.conditional_prompt.num_prompts == 5
    # strides 32, 16, 8 enter the decoder; the stride-4 map only the FPN step
    assert [c.conv.in_channels for c in head.input_convs] == [1024, 512, 256]
    assert [c.conv.in_channels for c in head.lateral_convs] == [128]
    # per layer: 3 attentions 4*(256*1024)+3*1024+256, 2 FFNs 2*256*1024+1024+256,
    # deformable attention 256*(192+96)+192+96+2*(256*256+256), 2 gammas, 6 LayerNorms
    per_layer = (3 * (4 * 256 * 1024 + 3 * 1024 + 256) + 2 * (2 * 256 * 1024 + 1024 + 256)
                 + 256 * 288 + 288 + 2 * (256 * 256 + 256) + 2 * 256 + 6 * 512)
    assert sum(p.numel() for p in layer.parameters()) == per_layer


def test_forward_shape_and_token_layout():
    head = _head()
    seen = {}

    def record(module, args, output):
        seen['vis'], seen['lang'], _, seen['pos'], seen['ref'], seen['shapes'], \
            seen['start'] = args

    head.layers[0].register_forward_hook(record)
    text, mask = _text()
    logits = head(_feats(), text, mask)
    assert logits.shape == (2, 2, IMG // 4, IMG // 4)
    assert torch.isfinite(logits).all()
    # strides 32, 16, 8, coarse first; 7 words + 5 visual prompts
    assert seen['shapes'].tolist() == [[2, 2], [4, 4], [8, 8]]
    assert seen['start'].tolist() == [0, 4, 20]
    assert seen['vis'].shape == (2, 84, 32) and seen['pos'].shape == (2, 84, 32)
    assert seen['lang'].shape == (2, 12, 32)
    ref = seen['ref']
    assert ref.shape == (2, 84, 3, 2)
    # first token of the stride-32 level: centre of the top-left cell of a 2x2 grid
    torch.testing.assert_close(ref[0, 0, 0], torch.tensor([0.25, 0.25]))
    # last token of the stride-8 level: bottom-right cell of an 8x8 grid, (x, y) order
    torch.testing.assert_close(ref[0, -1, 2], torch.tensor([15 / 16, 15 / 16]))
    torch.testing.assert_close(ref[0, 5, 0], torch.tensor([3 / 8, 1 / 8]))  # row 0, col 1


def test_logits_are_background_then_object_class_embeddings():
    head = _head(num_layers=1)
    seen = {}
    head.layers[-1].register_forward_hook(lambda m, a, out: seen.update(lang=out[1]))
    head.mask_feature.register_forward_hook(lambda m, a, out: seen.update(mask=out))
    text, mask = _text()
    with torch.no_grad():
        logits = head(_feats(), text, mask)
        lang = seen['lang']
        obj = head.lang_embed(lang[:, 0])  # [CLS]
        bg = head.lang_embed(lang[:, text.shape[1]:].mean(1))  # the 5 visual prompts
        expected_obj = (obj[:, :, None, None] * seen['mask']).sum(1)
        expected_bg = (bg[:, :, None, None] * seen['mask']).sum(1)
    torch.testing.assert_close(logits[:, 1], expected_obj)
    torch.testing.assert_close(logits[:, 0], expected_bg)


def test_loss_is_weighted_ce_on_logits_upsampled_with_align_corners():
    head = _head()
    text, mask = _text()
    feats = _feats()
    samples = _samples()
    losses = head.loss(feats, text, mask, samples, train_cfg={})
    assert set(losses) == {'loss_ce', 'acc_seg'}
    assert torch.isfinite(losses['loss_ce'])
    with torch.no_grad():
        logits = F.interpolate(head(feats, text, mask), size=(IMG, IMG), mode='bilinear',
                               align_corners=True)
        gt = torch.cat([s.gt_sem_seg.data for s in samples])
        # CARIS's criterion: PyTorch's class-weighted mean, sum(w_y * l) / sum(w_y)
        expected = F.cross_entropy(logits, gt, weight=torch.tensor([0.9, 1.1]), ignore_index=255)
    torch.testing.assert_close(losses['loss_ce'].detach(), expected)


def test_every_parameter_gets_a_gradient():
    """DDP without find_unused_parameters needs a gradient for every parameter."""
    head = _head()
    feats = _feats()
    words, mask = _text()
    prompts = head.text_prompts(feats)
    # A stand-in text encoder: the prompts reach the words, as through BERT's attention.
    text_feats = words + prompts.mean(dim=1, keepdim=True)
    losses = head.loss(feats, text_feats, mask, _samples(), train_cfg={})
    losses['loss_ce'].backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert not missing, f'parameters without gradient: {missing}'
    zero = [n for n, p in head.named_parameters() if not p.grad.abs().sum() > 0]
    assert not zero, f'parameters with an all-zero gradient: {zero}'
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())


def test_padding_tokens_never_change_the_logits():
    head = _head().eval()
    feats = _feats()
    text, mask = _text()
    with torch.no_grad():
        reference = head(feats, text, mask)
        noisy = text.clone()
        noisy[0, 4:] = 100 * torch.randn(3, TEXT_CHANNELS)  # padding of sample 0
        torch.testing.assert_close(head(feats, noisy, mask), reference)
        # more padding slots (a longer batch) change nothing either
        longer = torch.cat([text, torch.randn(2, 3, TEXT_CHANNELS)], dim=1)
        longer_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
        torch.testing.assert_close(head(feats, longer, longer_mask), reference)
        # a real token does matter, and only for its own sample
        edited = text.clone()
        edited[0, 2] += 1.0
        changed = head(feats, edited, mask)
    assert not torch.allclose(changed[0], reference[0], atol=1e-4)
    torch.testing.assert_close(changed[1], reference[1])


def test_text_prompts_are_pooled_from_the_stride32_map():
    head = _head()
    feats = _feats()
    prompts = head.text_prompts(feats)
    assert prompts.shape == (2, 5, TEXT_CHANNELS)
    # token 0 is the 1x1 cell: the global average of the stride-32 map
    cp = head.conditional_prompt
    with torch.no_grad():
        pooled = feats[-1].mean(dim=(2, 3))
        first = cp.out_linears[0](F.relu(cp.in_linears[0](pooled))) + cp.prompt_embed.weight[0]
        torch.testing.assert_close(prompts[:, 0], cp.norm(first))
        # tokens 1..4: the 2x2 cells in row-major order; the map is 2x2, so a cell is a pixel
        cell = feats[-1][:, :, 1, 0]  # row 1, column 0 -> token 3
        third = cp.out_linears[1](F.relu(cp.in_linears[1](cell))) + cp.prompt_embed.weight[3]
        torch.testing.assert_close(prompts[:, 3], cp.norm(third))
    # they depend on the image (stride 32 only), per sample
    other = [f.clone() for f in feats]
    other[-1][1] += 1.0
    changed = head.text_prompts(other)
    assert not torch.allclose(changed[1], prompts[1])
    torch.testing.assert_close(changed[0], prompts[0])
    finer = [f.clone() for f in feats]
    finer[0] += 1.0
    torch.testing.assert_close(head.text_prompts(finer), prompts)


@pytest.mark.parametrize('num, pools', [(0, None), (1, (1, )), (14, (1, 2, 3))])
def test_number_of_text_prompts(num, pools):
    head = _head(num_layers=1, num_text_prompts=num)
    prompts = head.text_prompts(_feats())
    if num == 0:
        assert prompts is None and head.conditional_prompt is None
        assert not any('conditional_prompt' in n for n, _ in head.named_parameters())
    else:
        assert prompts.shape == (2, num, TEXT_CHANNELS)
        assert head.conditional_prompt.pool_sizes == pools


def test_deformable_attention_runs_in_fp32_under_autocast():
    head = _head(num_layers=1)
    layer = head.layers[0]
    dtypes = {}

    def record_deform(module, args, kwargs, output):
        dtypes['deform_in'] = {k: kwargs[k].dtype for k in ('query', 'value', 'query_pos')}
        dtypes['deform_out'] = output.dtype

    layer.vis_self_attn.register_forward_hook(record_deform, with_kwargs=True)
    for name in ('value_proj', 'sampling_offsets', 'attention_weights', 'output_proj'):
        getattr(layer.vis_self_attn, name).register_forward_hook(
            lambda m, a, out, name=name: dtypes.update({name: out.dtype}))
    layer.l2v_attn.q_proj.register_forward_hook(
        lambda m, a, out: dtypes.update(linear_out=out.dtype))
    text, mask = _text()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = head(_feats(), text, mask)
    assert dtypes['linear_out'] == torch.bfloat16  # autocast is on around the op ...
    assert set(dtypes['deform_in'].values()) == {torch.float32}  # ... but not inside it
    assert dtypes['deform_out'] == torch.float32
    for name in ('value_proj', 'sampling_offsets', 'attention_weights', 'output_proj'):
        assert dtypes[name] == torch.float32, name  # autocast is off inside the op
    assert logits.shape == (2, 2, 16, 16) and torch.isfinite(logits).all()
    with torch.no_grad():
        reference = head(_feats(), text, mask)
    # bf16 keeps ~3 significant digits; the result must still be close to fp32
    assert (logits.float() - reference).abs().max() < 0.1 * reference.abs().max() + 0.05


def test_predict_returns_logits_at_the_input_size():
    head = _head().eval()
    text, mask = _text()
    feats = _feats()
    metas = [dict(img_shape=(IMG, IMG), pad_shape=(IMG, IMG))] * 2
    with torch.no_grad():
        out = head.predict(feats, text, mask, metas, test_cfg={})
        expected = F.interpolate(head(feats, text, mask), size=(IMG, IMG), mode='bilinear',
                                 align_corners=True)
    assert out.shape == (2, 2, IMG, IMG)
    torch.testing.assert_close(out, expected)


def test_vl_multihead_attention_matches_torch_attention():
    torch.manual_seed(0)
    attn = VLMultiheadAttention(16, 16, embed_dims=16, num_heads=2, clamp_value=None)
    ref = nn.MultiheadAttention(16, 2, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(
            torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([attn.q_proj.bias, attn.k_proj.bias,
                                          attn.v_proj.bias]))
        ref.out_proj.weight.copy_(attn.out_proj.weight)
        ref.out_proj.bias.copy_(attn.out_proj.bias)
    query, key, value = torch.randn(2, 3, 16), torch.randn(2, 5, 16), torch.randn(2, 5, 16)
    padding = torch.tensor([[False] * 5, [False, False, True, True, True]])
    expected, _ = ref(query, key, value, key_padding_mask=padding)
    torch.testing.assert_close(attn(query, key, value, key_padding_mask=padding), expected)
    # different widths: queries 12, keys 20, inner 32
    cross = VLMultiheadAttention(12, 20, embed_dims=32, num_heads=4)
    assert cross(torch.randn(2, 3, 12), torch.randn(2, 5, 20), torch.randn(2, 5, 20)).shape \
        == (2, 3, 12)


def test_vl_multihead_attention_clamps_fp16_overflow():
    attn = VLMultiheadAttention(8, 8, embed_dims=8, num_heads=1)
    with torch.no_grad():
        attn.q_proj.weight.fill_(30.0)
        attn.k_proj.weight.fill_(30.0)
    x = torch.full((1, 4, 8), 10.0)
    out = attn.half()(x.half(), x.half(), x.half())  # raw logits overflow fp16 (~4e8)
    assert torch.isfinite(out).all()
    with pytest.raises(ValueError, match='divisible'):
        VLMultiheadAttention(8, 8, embed_dims=10, num_heads=4)


def test_layers_initialise_themselves_as_caris():
    torch.manual_seed(0)
    layer = VLDeformLayer(embed_dims=64, num_heads=4, attn_embed_dims=256, ffn_channels=256)
    std = layer.v2l_attn.q_proj.weight.std().item()
    assert 0.015 < std < 0.025 and layer.v2l_attn.q_proj.bias.abs().sum() == 0
    assert 0.015 < layer.vis_ffn[0].weight.std().item() < 0.025
    # mmcv's own scheme for the deformable attention (zero offset weights, grid bias)
    assert layer.vis_self_attn.sampling_offsets.weight.abs().sum() == 0
    assert layer.vis_self_attn.sampling_offsets.bias.abs().sum() > 0
    assert torch.equal(layer.gamma_v2l, torch.ones(64))
    prompt = ConditionalPrompt(64, 32)
    assert 0.015 < prompt.in_linears[0].weight.std().item() < 0.025


@pytest.mark.parametrize('kwargs, message', [
    (dict(out_channels=1, threshold=0.5), 'out_channels=2'),
    (dict(num_classes=3, out_channels=3), 'num_classes=2'),
    (dict(num_vis_prompts=0), 'num_vis_prompts'),
    (dict(num_text_prompts=3), 'num_text_prompts'),
    (dict(dropout_ratio=0.1), 'dropout_ratio'),
    (dict(num_deform_levels=5), 'num_deform_levels'),
    (dict(channels=48), 'num_groups'),
    (dict(input_transform='resize_concat'), 'multiple_select'),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _head(**kwargs)


def test_bad_inputs_raise_clear_errors():
    head = _head(num_layers=1)
    text, mask = _text()
    feats = _feats()
    with pytest.raises(ValueError, match='in_channels'):
        head([feats[0], feats[1], torch.randn(2, 5, 4, 4), feats[3]], text, mask)
    with pytest.raises(ValueError, match='fine to coarse'):
        head([torch.randn(2, c, 2 * 2**i, 2 * 2**i) for i, c in enumerate(IN_CHANNELS)],
             text, mask)
    with pytest.raises(ValueError, match='text_channels'):
        head(feats, torch.randn(2, 7, 5), mask)
    with pytest.raises(ValueError, match='does not match'):
        head(feats, text, mask[:, :3])


def test_tiny_forward_time_on_cpu():
    head = _head(num_layers=1).eval()
    text, mask = _text()
    feats = _feats()
    with torch.no_grad():
        head(feats, text, mask)
        start = time.perf_counter()
        head(feats, text, mask)
    # generous bound for a loaded 2-core CI machine; the measured time is in the report
    assert time.perf_counter() - start < 5.0


def test_trains_inside_the_segmentor_with_conditional_prompts():
    from mmamlris.testing.ris_inputs import demo_ris_inputs, tiny_segmentor_cfg
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(tiny_segmentor_cfg(head='CARISHead')))
    model.init_weights()
    data = model.data_preprocessor(demo_ris_inputs(), True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['decode.loss_ce'])
    losses['decode.loss_ce'].backward()
    head_params = dict(model.decode_head.named_parameters())
    assert any(n.startswith('conditional_prompt') for n in head_params)
    missing = [n for n, p in head_params.items() if p.grad is None or not p.grad.abs().sum()]
    assert not missing, f'decode-head parameters without gradient: {missing}'
