# DETRIS (AAAI'25) as its official code builds it (docs/en/detris.md): a frozen DINOv2-B/14
# with 4 registers (transformers' Dinov2WithRegistersModel) with dense aligners in blocks
# 1, 3, 5, 7, 9, 11 (bottleneck 128, cross-attention to CLIP's words, x0.2), the frozen text
# tower of CLIP ViT-B/16 (transformers' CLIPTextModel, 17 tokens, no padding mask) with text
# adapters (bottleneck 64) in the same layers, and CRIS's head: sentence-gated neck over blocks
# 4 and 8 (before the final norm) and the normed last block, a 3-layer vision-language decoder
# and the dynamic-conv projector; BCE against the GT downsampled to the 4x logits; 0.35 test
# threshold. Inputs: 448x448 letterboxes normalised with CLIP's mean and std.
#
# Start weights (the public files DETRIS loads, converted once; docs/en/detris.md):
#   python tools/model_converters/detris2mmamlris.py --clip ViT-B-16.pt \
#       --dinov2 dinov2_vitb14_reg4_pretrain.pth data/pretrained/detris_init_dinov2-b_clip-b.pth
# which the DETRIS configs name as load_from (the adapters and the head start from their
# initialisation and are reported as missing keys). AML is off here; configs/amlris/ add it.
data_preprocessor = dict(
    type='RISDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],  # CLIP's, x255, RGB
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(448, 448))
model = dict(
    type='AMLSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='DETRISDinov2',
        dinov2=dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                    patch_size=14, image_size=518, num_register_tokens=4,
                    layerscale_value=1.0, mlp_ratio=4, layer_norm_eps=1e-6),
        adapter_layers=(1, 3, 5, 7, 9, 11),
        adapter_channels=128,
        text_channels=512,
        out_layers=(4, 8)),
    text_encoder=dict(
        type='DETRISCLIPText',
        clip=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048,
                  num_hidden_layers=12, num_attention_heads=8, max_position_embeddings=77,
                  projection_dim=512, hidden_act='quick_gelu', layer_norm_eps=1e-5),
        adapter_layers=(1, 3, 5, 7, 9, 11),
        adapter_channels=64),
    decode_head=dict(
        type='DETRISHead',
        in_channels=[768, 768, 768],
        in_index=[0, 1, 2],
        channels=512,
        text_channels=512,
        sentence_channels=512,
        num_heads=8,
        num_layers=3,
        ffn_channels=512,
        dropout=0.1,
        threshold=0.35),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
