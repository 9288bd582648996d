# Copyright (c) mmamlris contributors. All rights reserved.
from .ris_dice_loss import RISDiceLoss

__all__ = ['RISDiceLoss']
