# A light ReLA for the CPU (SynRef-GRES): the early-fusion MobileNetV2 and MiniLM-L6 of
# lavt-lite_mbv2_minilm.py (ImageNet weights, LAVT's fusion after its four output layers), with
# ReLA's head at small width instead of LAVT's decoder: mmdet's deformable pixel decoder (64
# channels, 2 encoder layers) and the region-language query decoder with a 4x4 minimap (16
# queries, 3 rounds), ReLA's three losses and no-target branch.
# AML is off here (the baseline); configs/amlris/ turn it on with model.aml.
_base_ = ['./lavt-lite_mbv2_minilm.py']
model = dict(
    decode_head=dict(
        _delete_=True,
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
        loss_weight=5.0))
