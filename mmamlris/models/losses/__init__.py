# Copyright (c) mmamlris contributors. All rights reserved.
from .ris_cross_entropy_loss import RISCrossEntropyLoss
from .ris_dice_loss import RISDiceLoss

__all__ = ['RISCrossEntropyLoss', 'RISDiceLoss']
