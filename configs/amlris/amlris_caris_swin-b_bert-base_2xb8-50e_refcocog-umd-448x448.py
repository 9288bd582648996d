# AMLRIS: CARIS (Swin-B + BERT-base) trained with Alignment-aware Masked Learning on refcocog-umd,
# with the paper's settings (docs/en/aml.md): PatchMax alignment on the stride-32 Swin stage
# (1024 channels, one cell = one 32x32 block at 448x448) against BERT's 768-d tokens, then
# AFM with tau 0.4, rho 0.25 and 32x32 blocks; stage 2 is the only one back-propagated.
# Everything else is the CARIS baseline config this file inherits.
_base_ = ['../caris/caris_swin-b_bert-base_2xb8-50e_refcocog-umd-448x448.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        # in_index -1: the stride-32 Swin stage (1024 channels); BERT-base tokens (768). To
        # score another level, set in_index and vis_channels together (e.g. -2 and 512).
        scorer=dict(type='PatchMaxScorer', in_index=-1, vis_channels=1024,
                    text_channels=768),
        filter=dict(type='AlignmentAwareFilter', tau=0.4, rho=0.25, block_size=32)))
