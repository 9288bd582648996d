# AML (paper defaults) on the light early-fusion SynRef model: identical to
# configs/lite/lavt-lite_mbv2_minilm_synref-160x160.py except for `aml`. Stage 1 runs the
# fused backbone on the clean image, so PatchMax scores the stride-32 level after the
# expression was fused into it.
_base_ = ['../lite/lavt-lite_mbv2_minilm_synref-160x160.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        scorer=dict(
            type='PatchMaxScorer',
            vis_channels=320,  # stride-32 level (fused layer 7)
            text_channels=384),  # MiniLM-L6
        filter=dict(type='AlignmentAwareFilter', tau=0.4, rho=0.25, block_size=32)))
