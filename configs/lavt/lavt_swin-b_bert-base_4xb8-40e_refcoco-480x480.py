# LAVT (Swin-B + BERT-base) trained with the official LAVT recipe on RefCOCO (UNC).
# Model and recipe: docs/en/lavt.md (4 GPUs x 8, 40 epochs, AdamW 5e-5, wd 0.01, poly 0.9 per
# iteration, no warm-up, fp32). Data as LAVT reads it: the annotator's `raw` sentence
# (lower-cased by the uncased tokenizer), 20 tokens, image and GT resized to 480x480 (the GT
# with nearest) for training *and* evaluation (LAVT's test.py scores at 480x480: the resized
# protocol of docs/en/evaluation.md).
_base_ = [
    '../_base_/models/lavt_swin-b_bert-base.py', '../_base_/datasets/refcoco.py',
    '../_base_/schedules/schedule_lavt_40e.py', '../_base_/default_runtime.py'
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
train_dataloader = dict(dataset=dict(text_field='raw', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(text_field='raw', pipeline=test_pipeline))
test_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type='RefCOCODataset',
            data_root='data/',
            ann_file='refcoco/instances.json',
            split_file='refcoco/refs(unc).p',
            data_prefix=dict(img_path='coco/train2014/'),
            split=split,
            text_field='raw',
            test_mode=True,
            pipeline=test_pipeline) for split in ('val', 'testA', 'testB')
    ]))
