# SynRef-GRES: SynRef with the gRefCOCO layout of `tools/dataset_converters/synref.py --gres`
# (grefs(unc).json next to the REFER files): expressions with one target, several targets
# ("all the red shapes") or none ("the green star", an absent combination). The same images,
# splits, pipelines and protocol as synref.py; evaluated with GRESMetric (gIoU, cIoU, N-acc,
# T-acc), per split.
#   python tools/dataset_converters/synref.py --out data/synref --num-images 2000 \
#       --img-size 160 --seed 0 --gres
_base_ = ['./synref.py']
train_dataloader = dict(dataset=dict(type='GRefCOCODataset', split_file='grefs(unc).json'))
val_dataloader = dict(dataset=dict(type='GRefCOCODataset', split_file='grefs(unc).json'))
test_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type='GRefCOCODataset',
            data_root='data/synref',
            ann_file='instances.json',
            split_file='grefs(unc).json',
            data_prefix=dict(img_path='images/'),
            split=split,
            test_mode=True,
            pipeline={{_base_.test_pipeline}}) for split in ('val', 'testA', 'testB')
    ]))
val_evaluator = dict(type='GRESMetric', eval_resolution='resized')
test_evaluator = val_evaluator
