# AML (paper defaults) on LAVT, RefCOCO (UNC): identical to
# configs/lavt/lavt_swin-b_bert-base_4xb8-40e_refcoco-480x480.py except for `aml`. Stage 1
# runs LAVT's language-aware Swin on the clean image, so PatchMax scores the stride-32 level
# after the expression was fused into it (docs/en/aml.md#early-fusion-backbones).
_base_ = ['../lavt/lavt_swin-b_bert-base_4xb8-40e_refcoco-480x480.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        scorer=dict(
            type='PatchMaxScorer',
            vis_channels=1024,  # stride-32 level of Swin-B (fused stage 4)
            text_channels=768),  # BERT-base
        filter=dict(type='AlignmentAwareFilter', tau=0.4, rho=0.25, block_size=32)))
