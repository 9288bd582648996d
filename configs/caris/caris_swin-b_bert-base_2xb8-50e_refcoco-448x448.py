# CARIS baseline (Swin-B + BERT-base), trained with the CARIS recipe, on refcoco.
# Model and recipe: docs/en/caris.md (CARIS scripts: 448x448, 2 GPUs x 8, 50 epochs, AdamW
# 1e-4 with encoders x0.1, wd 0.01, warm-up 1500 iterations, poly 0.9, fp16, clip 1.0);
# evaluation: docs/en/evaluation.md (448x448 resized protocol).
_base_ = [
    '../_base_/models/caris_swin-b_bert-base.py', '../_base_/datasets/refcoco.py',
    '../_base_/schedules/schedule_50e.py', '../_base_/default_runtime.py'
]
