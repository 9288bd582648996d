# A light ReLA for the CPU (SynRef-GRES): the early-fusion MobileNetV2 of
# lavt-lite_mbv2_minilm.py (ImageNet weights, LAVT's fusion after its four output layers), the
# pretrained MiniLM-L6 text encoder, and ReLA's head at small width: mmdet's deformable pixel
# decoder (64 channels, 2 encoder layers) and the region-language query decoder with a 4x4
# minimap (16 queries, 3 rounds), ReLA's three losses and no-target branch.
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
        type='ReLAHead',
        in_channels=[24, 32, 96, 320],
        in_index=[0, 1, 2, 3],
        channels=64,
        text_channels=384,
        align_corners=False,
        pixel_decoder=dict(
            strides=[4, 8, 16, 32],
            num_outs=3,
            norm_cfg=dict(type='GN', num_groups=32),
            encoder=dict(
                num_layers=2,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=64, num_heads=4, num_levels=3, num_points=4,
                                       dropout=0.0, batch_first=True),
                    ffn_cfg=dict(embed_dims=64, feedforward_channels=128, num_fcs=2,
                                 ffn_drop=0.0, act_cfg=dict(type='ReLU', inplace=True)))),
            positional_encoding=dict(num_feats=32, normalize=True)),
        decoder=dict(num_queries=16, num_heads=4, ffn_channels=128, num_layers=3),
        minimap_size=4,
        loss_weight=5.0),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
