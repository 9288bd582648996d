# AMLRIS on the toy DETRIS (configs/lite/detris-toy_synref-112x112.py; CPU, no accuracy
# claim): PatchMax on the final normed 48-wide DINOv2 map (14-px cells) against the 64-wide
# CLIP words, AFM with tau 0.4, rho 0.25 and patch-aligned 28x28 blocks (2x2 whole patches;
# 16 blocks on the 112x112 letterbox).
_base_ = ['../lite/detris-toy_synref-112x112.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        scorer=dict(type='PatchMaxScorer', in_index=-1, vis_channels=48, text_channels=64),
        filter=dict(type='AlignmentAwareFilter', tau=0.4, rho=0.25, block_size=28)))
