# The released AMLRIS code's training step, for comparison only (RIS_REFERENCE.md §1.4-1.6):
# an untrained text->visual Linear instead of random projections, no l2 normalisation, softmax
# over all 20 token slots with [PAD] included, K//4 of the weak (patch, pixel) pairs and the
# indexing slip that also hides block min(pixel_offset, N-1); a full forward with gradient on
# the clean image weighted 0.5, and a masked pass weighted 0.5 whose text features come from a
# third backbone run on the clean image. It roughly triples the step's backbone cost.
_base_ = ['../caris/caris_swin-b_bert-base_2xb8-50e_refcoco-448x448.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        vis_channels=1024,
        text_channels=768,
        tau=0.4,
        block_size=32,
        compat_official=True),
    stage1_loss_weight=0.5,
    stage2_loss_weight=0.5)
