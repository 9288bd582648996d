# ReLA / GRES (CVPR'23) as its official code builds it (docs/en/rela.md): LAVT's language-aware
# Swin-B (window 12, ImageNet-22k 384 weights, drop path 0.3; ReLA's copy of the backbone
# computes the same levels), BERT-base (20 tokens), Mask2Former's deformable pixel decoder
# (mmdet's MSDeformAttnPixelDecoder: 256 channels, GN, 6 encoder layers, 8 heads, FFN 1024,
# levels at strides 8-32) and ReLA's region-language query decoder (100 queries = a 10x10
# minimap, 9 rounds, 8 heads, FFN 2048) with its three losses (x5).
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
        type='ReLAHead',
        in_channels=[128, 256, 512, 1024],
        in_index=[0, 1, 2, 3],
        channels=256,
        text_channels=768,
        align_corners=False,
        pixel_decoder=dict(
            strides=[4, 8, 16, 32],
            num_outs=3,
            norm_cfg=dict(type='GN', num_groups=32),
            act_cfg=dict(type='ReLU'),
            encoder=dict(
                num_layers=6,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=256, num_heads=8, num_levels=3, num_points=4,
                                       dropout=0.0, batch_first=True),
                    ffn_cfg=dict(embed_dims=256, feedforward_channels=1024, num_fcs=2,
                                 ffn_drop=0.0, act_cfg=dict(type='ReLU', inplace=True)))),
            positional_encoding=dict(num_feats=128, normalize=True)),
        decoder=dict(num_queries=100, num_heads=8, ffn_channels=2048, num_layers=9,
                     lang_weight=0.1),
        minimap_size=10,
        class_weight=(0.9, 1.1),
        minimap_weight=0.1,
        no_target_weight=0.1,
        loss_weight=5.0),
    # No `aml` here (AMLSegmentor's default None = the plain baseline); configs/amlris/ add one.
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
