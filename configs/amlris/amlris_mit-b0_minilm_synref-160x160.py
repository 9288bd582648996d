# Worked example of docs/en/tutorials/new_backbone.md: AML on SynRef with mmseg's MiT-b0
# (SegFormer's encoder, random init) instead of the half-width ResNet-18. Only the backbone,
# the head's in_channels and the AML scorer's width (its stride-32 level) change.
_base_ = ['./amlris_lite_minilm_synref-160x160.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='MixVisionTransformer',
        in_channels=3,
        embed_dims=32,
        num_stages=4,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1),
    decode_head=dict(in_channels=[32, 64, 160, 256]),
    aml=dict(scorer=dict(vis_channels=256)))
