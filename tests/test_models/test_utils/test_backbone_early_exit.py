# Copyright (c) mmamlris contributors. All rights reserved.
"""BackboneEarlyExit: the levels asked for, exactly, and nothing above them."""
import pytest
import torch
from mmseg.models.backbones import (MixVisionTransformer, MobileNetV2, ResNetV1c,
                                    SwinTransformer, VisionTransformer)
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mmamlris.models.utils import BackboneEarlyExit

# Drop path off: the comparison is made in training mode (BatchNorm on batch statistics).
BACKBONES = {
    'resnet': lambda: ResNetV1c(depth=18, base_channels=8, stem_channels=8,
                                out_indices=(0, 1, 2, 3)),
    'mobilenetv2': lambda: MobileNetV2(widen_factor=0.5, strides=(1, 2, 2, 2, 1, 2, 1),
                                       dilations=(1, ) * 7, out_indices=(1, 2, 4, 6)),
    'swin': lambda: SwinTransformer(embed_dims=16, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4),
                                    window_size=4, out_indices=(0, 1, 2, 3),
                                    drop_path_rate=0.0),
    'mit': lambda: MixVisionTransformer(embed_dims=8, num_layers=(1, 1, 1, 1),
                                        num_heads=(1, 2, 2, 4), out_indices=(0, 1, 2, 3),
                                        drop_path_rate=0.0),
    'vit': lambda: VisionTransformer(img_size=(64, 64), embed_dims=16, num_layers=4,
                                     num_heads=2, out_indices=(1, 3), final_norm=False),
}


def flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@pytest.mark.parametrize('name', list(BACKBONES))
@pytest.mark.parametrize('level', [0, -2])
def test_cut_pass_gives_the_full_pass_levels_for_less(name, level):
    torch.manual_seed(0)
    backbone = BACKBONES[name]()
    backbone.train()  # mmseg's ResNet.train returns None
    stages_before, out_before = getattr(backbone, 'stages', None), backbone.out_indices
    x = torch.randn(2, 3, 64, 64)
    runner = BackboneEarlyExit(backbone)
    with torch.no_grad():
        full = list(backbone(x))
        cut = runner(x, [level])
        full_flops = flops(lambda: backbone(x))
        cut_flops = flops(lambda: runner(x, [level]))
    assert runner.can_exit_early is True
    wanted = level % len(full)
    for i, feat in enumerate(cut):
        if i == wanted:
            torch.testing.assert_close(feat, full[i], rtol=0, atol=0)
        else:
            assert feat is None
    assert cut_flops < full_flops
    # the backbone is as it was
    assert backbone.out_indices == out_before
    assert getattr(backbone, 'stages', None) is stages_before
    assert backbone.training and all(m.training for m in backbone.modules())


def test_gradient_reaches_the_stages_it_ran():
    torch.manual_seed(0)
    backbone = BACKBONES['resnet']()
    backbone.train()
    runner = BackboneEarlyExit(backbone)
    feats = runner(torch.randn(2, 3, 64, 64), [1])
    feats[1].sum().backward()
    assert backbone.layer2[0].conv1.weight.grad is not None
    assert backbone.layer3[0].conv1.weight.grad is None


def test_a_cut_that_changes_the_features_falls_back_to_the_full_pass():
    # final_norm applies to whichever layer comes last: cutting would change the level
    torch.manual_seed(0)
    backbone = VisionTransformer(img_size=(64, 64), embed_dims=16, num_layers=4, num_heads=2,
                                 out_indices=(1, 3), final_norm=True)
    backbone.eval()
    runner = BackboneEarlyExit(backbone)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out = runner(x, [0])
        full = list(backbone(x))
    assert runner.can_exit_early is False
    assert len(out) == 2 and all(torch.equal(a, b) for a, b in zip(out, full))


def test_asking_for_the_last_stage_or_every_level_runs_the_plain_forward():
    backbone = BACKBONES['resnet']()
    calls = []
    backbone.register_forward_hook(lambda m, i, o: calls.append(len(o)))
    runner = BackboneEarlyExit(backbone)
    x = torch.randn(1, 3, 64, 64)
    runner(x, [-1])
    runner(x, None)
    assert calls == [4, 4]  # one pass each, no verification pass
    assert runner.can_exit_early is None  # never needed a cut


class _NoContainer(nn.Module):
    out_indices = (0, 1)

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, 2, 1)
        self.b = nn.Conv2d(4, 4, 3, 2, 1)

    def forward(self, x):
        x = self.a(x)
        return x, self.b(x)


def test_a_backbone_without_a_stage_container_runs_in_full():
    runner = BackboneEarlyExit(_NoContainer())
    out = runner(torch.randn(1, 3, 16, 16), [0])
    assert runner.can_exit_early is False
    assert [tuple(o.shape) for o in out] == [(1, 4, 8, 8), (1, 4, 4, 4)]


def test_the_stages_are_restored_when_the_forward_fails():
    backbone = BACKBONES['swin']()
    runner = BackboneEarlyExit(backbone)
    runner(torch.randn(1, 3, 64, 64), [0])  # verified
    stages = backbone.stages
    with pytest.raises(RuntimeError):
        runner(torch.randn(1, 5, 64, 64), [0])  # wrong channel count
    assert backbone.stages is stages and len(backbone.stages) == 4
    assert backbone.out_indices == (0, 1, 2, 3)
