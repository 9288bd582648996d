# RefCOCO+ (UNC splits: train / val / testA / testB; no absolute location words), CARIS/AMLRIS
# protocol.
# Protocol (docs/en/evaluation.md): input resized to 448x448 ignoring the aspect
# ratio (Pillow bilinear, which antialiases like PIL in CARIS; GT with nearest), no
# augmentation, the cleaned `sent` text tokenized with the bert-base-uncased vocabulary and cut
# to 20 tokens after [CLS]/[SEP]; one random sentence per ref per visit for training, every
# sentence of every ref for evaluation; 2 GPUs x 8 = CARIS's batch of 16.
# Layout (docs/en/datasets.md): data/coco/train2014/*.jpg,
# data/refcoco+/{instances.json, refs(unc).p}.
# Images stay BGR as loaded by cv2; the data preprocessor converts them (bgr_to_rgb=True).
dataset_type = 'RefCOCODataset'
data_root = 'data/'
img_scale = (448, 448)

train_pipeline = [
    dict(type='LoadRISImageFromFile'),
    dict(type='LoadReferringMask'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='SampleExpression'),
    # all-MiniLM-L6-v2 ships the bert-base-uncased vocabulary: the same ids serve BERT-base.
    dict(type='TokenizeExpression', tokenizer='all-MiniLM-L6-v2', max_tokens=20),
    dict(type='PackRISInputs'),
]
test_pipeline = [
    dict(type='LoadRISImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    # After Resize: the GT stays at the original image size.
    dict(type='LoadReferringMask'),
    dict(type='SampleExpression'),
    dict(type='TokenizeExpression', tokenizer='all-MiniLM-L6-v2', max_tokens=20),
    dict(type='PackRISInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    # Workers restart every epoch and are seeded from torch's per-iterator seed: a new sentence
    # draw every epoch, and `--resume` at an epoch boundary draws exactly what the uninterrupted
    # run would have (RandomStateHook restores the generator that seed comes from).
    persistent_workers=False,
    worker_init_fn=dict(type='worker_init_from_torch_seed'),
    sampler=dict(type='DefaultSampler', shuffle=True),  # epoch-based CARIS recipe
    # CARIS and LAVT drop the last incomplete batch of an epoch.
    drop_last=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='refcoco+/instances.json',
        split_file='refcoco+/refs(unc).p',
        data_prefix=dict(img_path='coco/train2014/'),
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='refcoco+/instances.json',
        split_file='refcoco+/refs(unc).p',
        data_prefix=dict(img_path='coco/train2014/'),
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
# Every standard evaluation split at once; RISMetric reports each one (from the `split` meta).
test_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='refcoco+/instances.json',
                split_file='refcoco+/refs(unc).p',
                data_prefix=dict(img_path='coco/train2014/'),
                split=split,
                test_mode=True,
                pipeline=test_pipeline) for split in ('val', 'testA', 'testB')
        ]))

val_evaluator = dict(type='RISMetric', eval_resolution='resized')
test_evaluator = val_evaluator
