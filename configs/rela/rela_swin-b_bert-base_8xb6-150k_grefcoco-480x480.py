# ReLA (Swin-B + BERT-base) trained with the official ReLA recipe on gRefCOCO (UNC).
# Model and recipe: docs/en/rela.md (8 GPUs x 6, 150k iterations, AdamW 1e-5, wd 0.05, clip
# 0.01, fp16). Data as ReLA reads it: the annotator's `raw` sentence, 20 tokens, image and the
# merged GT resized to 480x480 (the GT with nearest) for training *and* evaluation (ReLA's
# evaluator scores at 480x480: the resized protocol of docs/en/evaluation.md).
_base_ = [
    '../_base_/models/rela_swin-b_bert-base.py', '../_base_/datasets/grefcoco.py',
    '../_base_/schedules/schedule_rela_150k.py', '../_base_/default_runtime.py'
]
img_scale = (480, 480)
train_pipeline = [
    dict(type='LoadRISImageFromFile'),
    dict(type='LoadReferringMask'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='SampleExpression'),
    dict(type='TokenizeExpression', tokenizer='all-MiniLM-L6-v2', max_tokens=20),
    dict(type='PackRISInputs'),
]
test_pipeline = [
    dict(type='LoadRISImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='LoadReferringMask'),
    dict(type='SampleExpression'),
    dict(type='TokenizeExpression', tokenizer='all-MiniLM-L6-v2', max_tokens=20),
    dict(type='PackRISInputs'),
]
# iteration-based: an infinite sampler (detectron2's TrainingSampler draws the same way)
train_dataloader = dict(
    batch_size=6,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(text_field='raw', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(text_field='raw', pipeline=test_pipeline))
test_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type='GRefCOCODataset',
            data_root='data/',
            ann_file='grefcoco/instances.json',
            split_file='grefcoco/grefs(unc).json',
            data_prefix=dict(img_path='coco/train2014/'),
            split=split,
            text_field='raw',
            test_mode=True,
            pipeline=test_pipeline) for split in ('val', 'testA', 'testB')
    ]))
