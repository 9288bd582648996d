# A light early-fusion RIS model for the CPU, built like LAVT: the ImageNet MobileNetV2 of
# lite_mbv2_minilm.py (weights converted by tools/setup_env.sh) with LAVT's pixel-word
# fusion and language gate after each of its four output layers (strides 4, 8, 16, 32: 24, 32,
# 96 and 320 channels), the pretrained MiniLM-L6 text encoder (hidden 384), and LAVT's
# top-down decoder. The expression enters the backbone, so the text is encoded first
# (docs/en/aml.md#early-fusion-backbones).
# Loss: CE with weights [0.9, 1.1] plus an object Dice term, as the other SynRef models (with
# CE alone a light model sits on "all background" for hundreds of iterations on SynRef).
# AML is off here (the baseline); configs/amlris/ turn it on with model.aml.
data_preprocessor = dict(
    type='RISDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32)
model = dict(
    type='AMLSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='LAVTMobileNetV2',
        mobilenet=dict(
            type='MobileNetV2',
            widen_factor=1.0,
            strides=(1, 2, 2, 2, 1, 2, 1),
            dilations=(1, 1, 1, 1, 1, 1, 1),
            out_indices=(1, 2, 4, 6),
            norm_cfg=dict(type='BN', requires_grad=True),
            act_cfg=dict(type='ReLU6'),
            init_cfg=dict(
                type='Pretrained', checkpoint='data/pretrained/mobilenetv2_deepsort_mmseg.pth')),
        text_channels=384,
        fusion_heads=(1, 1, 1, 1)),
    text_encoder=dict(type='HFTextEncoder', pretrained='all-MiniLM-L6-v2'),
    decode_head=dict(
        type='LAVTHead',
        in_channels=[24, 32, 96, 320],
        in_index=[0, 1, 2, 3],
        channels=96,
        dropout_ratio=0.0,
        num_classes=2,
        out_channels=2,
        align_corners=True,
        loss_decode=[
            dict(type='RISCrossEntropyLoss', class_weight=[0.9, 1.1], loss_weight=1.0),
            dict(type='RISDiceLoss', loss_weight=1.0)
        ]),
    # No `aml` here (AMLSegmentor's default None = the plain baseline).
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
