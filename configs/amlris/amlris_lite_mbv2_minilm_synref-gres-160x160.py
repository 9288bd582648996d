# AML (paper defaults) on SynRef-GRES: identical to
# configs/lite/lite_mbv2_minilm_synref-gres-160x160.py except for `aml`. On an expression
# without target the GT is empty: the alignment statistics skip that image's AUC and
# object-masked fraction (no NaN).
_base_ = ['../lite/lite_mbv2_minilm_synref-gres-160x160.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        scorer=dict(type='PatchMaxScorer', vis_channels=320, text_channels=384),
        filter=dict(type='AlignmentAwareFilter', tau=0.4, rho=0.25, block_size=32)))
