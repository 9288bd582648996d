# LAVT (CVPR'22) as its official code builds it (docs/en/lavt.md): Swin-B with window 12
# (ImageNet-22k 384 weights, drop path 0.3), one pixel-word attention module and language gate
# after each of the four stages (one head each, no dropout), BERT-base (20 tokens), and LAVT's
# top-down decoder (two 3x3 conv-BN-ReLU per level, 512 channels) trained with CE weights
# [0.9, 1.1] on logits upsampled with align_corners=True.
#
# Pretrained weights come from local paths (no model hub is contacted):
#   data/pretrained/swin_base_patch4_window12_384_22k.pth   (converted to mmseg keys with
#       mmseg's tools/model_converters/swin2mmseg.py; see docs/en/user_guide.md)
#   data/pretrained/bert-base-uncased/                      (a save_pretrained() directory)
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
        type='LAVTSwinTransformer',
        swin=dict(
            type='SwinTransformer',
            pretrain_img_size=384,
            embed_dims=128,
            patch_size=4,
            window_size=12,
            mlp_ratio=4,
            depths=[2, 2, 18, 2],
            num_heads=[4, 8, 16, 32],
            strides=(4, 2, 2, 2),
            out_indices=(0, 1, 2, 3),
            qkv_bias=True,
            qk_scale=None,
            patch_norm=True,
            drop_rate=0.0,
            attn_drop_rate=0.0,
            drop_path_rate=0.3,
            use_abs_pos_embed=False,
            act_cfg=dict(type='GELU'),
            norm_cfg=dict(type='LN', requires_grad=True),
            init_cfg=dict(
                type='Pretrained',
                checkpoint='data/pretrained/swin_base_patch4_window12_384_22k.pth')),
        text_channels=768,
        fusion_heads=(1, 1, 1, 1),
        fusion_dropout=0.0),
    text_encoder=dict(type='HFTextEncoder', pretrained='data/pretrained/bert-base-uncased'),
    decode_head=dict(
        type='LAVTHead',
        in_channels=[128, 256, 512, 1024],
        in_index=[0, 1, 2, 3],
        channels=512,
        dropout_ratio=0.0,
        num_classes=2,
        out_channels=2,
        align_corners=True,
        # BN as LAVT (it becomes SyncBN under DDP through `sync_bn` in the configs).
        norm_cfg=dict(type='BN', requires_grad=True),
        loss_decode=dict(type='RISCrossEntropyLoss', class_weight=[0.9, 1.1], loss_weight=1.0)),
    # No `aml` here (AMLSegmentor's default None = the plain baseline); configs/amlris/ add one.
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
