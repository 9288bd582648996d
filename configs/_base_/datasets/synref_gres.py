# SynRef-GRES: SynRef with the gRefCOCO layout of `tools/dataset_converters/synref.py --gres`
# (grefs(unc).json next to the REFER files): expressions with one target, several targets
# ("all the red shapes") or none ("the green star", an absent combination). The same images,
# splits and protocol as synref.py; evaluated with GRESMetric (gIoU, cIoU, N-acc, T-acc).
#   python tools/dataset_converters/synref.py --out data/synref --num-images 2000 \
#       --img-size 160 --seed 0 --gres
dataset_type = 'GRefCOCODataset'
data_root = 'data/synref'
img_scale = (160, 160)

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
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='instances.json',
        split_file='grefs(unc).json',
        data_prefix=dict(img_path='images/'),
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='instances.json',
        split_file='grefs(unc).json',
        data_prefix=dict(img_path='images/'),
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
# Every standard evaluation split at once; GRESMetric reports each one (from the `split` meta).
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='instances.json',
                split_file='grefs(unc).json',
                data_prefix=dict(img_path='images/'),
                split=split,
                test_mode=True,
                pipeline=test_pipeline) for split in ('val', 'testA', 'testB')
        ]))

val_evaluator = dict(type='GRESMetric', eval_resolution='resized')
test_evaluator = val_evaluator
