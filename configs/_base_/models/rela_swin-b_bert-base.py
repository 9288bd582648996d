# ReLA / GRES (CVPR'23) as its official code builds it (docs/en/rela.md): the language-aware
# Swin-B and BERT-base of lavt_swin-b_bert-base.py (ReLA's copy of LAVT's backbone computes the
# same levels), with ReLA's head instead of LAVT's decoder: Mask2Former's deformable pixel
# decoder (mmdet's MSDeformAttnPixelDecoder: 256 channels, GN, 6 encoder layers, 8 heads, FFN
# 1024, levels at strides 8-32) and ReLA's region-language query decoder (100 queries = a
# 10x10 minimap, 9 rounds, 8 heads, FFN 2048) with its three losses (x5).
# AML is off here (the baseline); configs/amlris/ turn it on with model.aml.
_base_ = ['./lavt_swin-b_bert-base.py']
model = dict(
    decode_head=dict(
        _delete_=True,
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
        loss_weight=5.0))
