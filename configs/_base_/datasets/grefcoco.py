# gRefCOCO (ReLA / GRES, CVPR 2023): expressions with one target, several, or none; UNC
# splits train / val / testA / testB. The pipelines and protocol of refcoco.py (448x448
# resized, 20 tokens); evaluated with GRESMetric (gIoU, cIoU, N-acc, T-acc, prec@0.7-0.9).
# Layout (ReLA's): data/coco/train2014/*.jpg, data/grefcoco/{grefs(unc).json, instances.json}.
_base_ = ['./refcoco.py']
train_dataloader = dict(dataset=dict(type='GRefCOCODataset', ann_file='grefcoco/instances.json',
                                     split_file='grefcoco/grefs(unc).json'))
val_dataloader = dict(dataset=dict(type='GRefCOCODataset', ann_file='grefcoco/instances.json',
                                   split_file='grefcoco/grefs(unc).json'))
test_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type='GRefCOCODataset',
            data_root='data/',
            ann_file='grefcoco/instances.json',
            split_file='grefcoco/grefs(unc).json',
            data_prefix=dict(img_path='coco/train2014/'),
            split=split,
            test_mode=True,
            pipeline={{_base_.test_pipeline}}) for split in ('val', 'testA', 'testB')
    ]))
val_evaluator = dict(type='GRESMetric', eval_resolution='resized')
test_evaluator = val_evaluator
