# AML (paper defaults) on the light ReLA, SynRef-GRES: identical to
# configs/lite/rela-lite_mbv2_minilm_synref-gres-160x160.py except for `aml`. Stage 1 runs the
# fused MobileNetV2 on the clean image (PatchMax scores its fused stride-32 level); images
# without target are skipped in the AUC and object-masked statistics.
_base_ = ['../lite/rela-lite_mbv2_minilm_synref-gres-160x160.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        scorer=dict(type='PatchMaxScorer', vis_channels=320, text_channels=384),
        filter=dict(type='AlignmentAwareFilter', tau=0.4, rho=0.25, block_size=32)))
