# AML (paper defaults) on ReLA, gRefCOCO: identical to
# configs/rela/rela_swin-b_bert-base_8xb6-150k_grefcoco-480x480.py except for `aml`. Stage 1
# runs the language-aware Swin on the clean image, so PatchMax scores the stride-32 level after
# the expression was fused into it; on an expression without target the target AUC and the
# object-masked share are undefined and that image is skipped in those statistics.
_base_ = ['../rela/rela_swin-b_bert-base_8xb6-150k_grefcoco-480x480.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        scorer=dict(
            type='PatchMaxScorer',
            vis_channels=1024,  # stride-32 level of Swin-B (fused stage 4)
            text_channels=768),  # BERT-base
        filter=dict(type='AlignmentAwareFilter', tau=0.4, rho=0.25, block_size=32)))
