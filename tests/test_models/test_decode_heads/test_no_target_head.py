# Copyright (c) mmamlris contributors. All rights reserved.
"""The optional no-target head: its own loss, an empty mask when it fires, off by default."""
import pytest
import torch

from mmamlris.registry import MODELS
from mmamlris.testing.ris_inputs import demo_ris_inputs, tiny_segmentor_cfg


def build(no_target_head=None, head='LiteRISHead'):
    cfg = tiny_segmentor_cfg(head=head)
    if no_target_head is not None:
        cfg['decode_head']['no_target_head'] = no_target_head
    torch.manual_seed(0)
    return MODELS.build(cfg)


def with_flags(raw, flags):
    for sample, flag in zip(raw['data_samples'], flags):
        sample.set_metainfo(dict(no_target=flag))
    return raw


def test_off_by_default_the_model_is_unchanged():
    plain, with_head = build(), build(dict(hidden_channels=8))
    extra = set(with_head.state_dict()) - set(plain.state_dict())
    assert extra and all(k.startswith('decode_head.no_target_head.') for k in extra)
    assert not hasattr(plain.decode_head, 'no_target_head')


@pytest.mark.parametrize('head', ['LiteRISHead', 'CARISHead'])
def test_own_loss_trains_only_the_no_target_head(head):
    model = build(dict(hidden_channels=8), head=head)
    model.train()
    data = model.data_preprocessor(with_flags(demo_ris_inputs(batch_size=2), [True, False]),
                                   True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['decode.loss_no_target'])
    losses['decode.loss_no_target'].backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads and all(n.startswith('decode_head.no_target_head.') for n in grads)


def test_missing_flag_is_a_clear_error():
    model = build(dict(hidden_channels=8))
    data = model.data_preprocessor(demo_ris_inputs(batch_size=2), True)
    with pytest.raises(ValueError, match='no_target metainfo'):
        model(**data, mode='loss')


def test_a_firing_head_empties_the_mask():
    model = build(dict(hidden_channels=8)).eval()
    raw = demo_ris_inputs(batch_size=2, image_shapes=((64, 64), ))
    with torch.no_grad():
        model.decode_head.no_target_head.mlp[-1].bias.fill_(-50.0)  # never fires
        kept = model.test_step(raw)
        model.decode_head.no_target_head.mlp[-1].bias.fill_(50.0)  # always fires
        emptied = model.test_step(demo_ris_inputs(batch_size=2, image_shapes=((64, 64), )))
    plain = build().eval()
    plain.load_state_dict(model.state_dict(), strict=False)
    with torch.no_grad():
        reference = plain.test_step(demo_ris_inputs(batch_size=2, image_shapes=((64, 64), )))
    for a, b in zip(kept, reference):
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
    assert any(r.pred_sem_seg.data.any() for r in reference)
    for sample in emptied:
        assert not sample.pred_sem_seg.data.any()
        assert not sample.pred_sem_seg_resized.data.any()
