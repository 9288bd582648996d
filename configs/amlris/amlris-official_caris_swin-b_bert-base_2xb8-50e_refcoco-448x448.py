# The released AMLRIS code's training step, for comparison only (docs/en/aml.md): an untrained
# text->visual Linear instead of random projections, no l2 normalisation, a softmax over all
# 20 token slots with [PAD] included (ReleasedRelevanceScorer); K//4 of the weak (patch, pixel)
# pairs and the indexing slip that also hides block min(pixel_offset, N-1)
# (ReleasedBlockFilter); a full forward with gradient on the clean image weighted 0.5, and a
# masked pass weighted 0.5 whose text features come from a third backbone run on the clean
# image (stage2_text='clean'). It roughly triples the step's backbone cost.
_base_ = ['../caris/caris_swin-b_bert-base_2xb8-50e_refcoco-448x448.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        scorer=dict(type='ReleasedRelevanceScorer', vis_channels=1024, text_channels=768),
        filter=dict(type='ReleasedBlockFilter', tau=0.4, rho=0.25, block_size=32)),
    stage1_loss_weight=0.5,
    stage2_loss_weight=0.5,
    stage2_text='clean')
