# Copyright (c) mmamlris contributors. All rights reserved.
"""CRIS / DETRIS projector: the sentence becomes the kernel of the mask convolution."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .sentence_gated_neck import conv_bn_relu

__all__ = ['DynamicConvProjector']


class DynamicConvProjector(nn.Module):
    """Upsample the map x4 (two bilinear x2, each followed by a 3x3 conv-BN-ReLU, then a
    1x1 conv) and convolve it with a per-sample ``k x k`` kernel and bias predicted from the
    sentence: one logit map per sample.

    Args:
        in_channels (int): Width of the map the decoder returns (DETRIS: 512); the
            upsampled map has half of it (``C``).
        text_channels (int): Sentence width (DETRIS: 512).
        kernel_size (int): Defaults to 3.
    """

    def __init__(self, in_channels: int, text_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        channels = in_channels // 2
        self.channels, self.kernel_size = channels, kernel_size
        self.vis = nn.Sequential(
            nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
            conv_bn_relu(in_channels, in_channels, 3, 1, 1),
            nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
            conv_bn_relu(in_channels, channels, 3, 1, 1),
            nn.Conv2d(channels, channels, 1))
        self.txt = nn.Linear(text_channels, channels * kernel_size * kernel_size + 1)

    def forward(self, x: Tensor, sentence: Tensor) -> Tensor:
        """Args: x ``[B, 2C, H, W]``; sentence ``[B, C_t]``. Returns ``[B, 1, 4H, 4W]``."""
        x = self.vis(x)
        batch, channels, height, width = x.shape
        params = self.txt(sentence)
        weight = params[:, :-1].reshape(batch, channels, self.kernel_size, self.kernel_size)
        out = F.conv2d(x.reshape(1, batch * channels, height, width), weight,
                       bias=params[:, -1], padding=self.kernel_size // 2, groups=batch)
        return out.transpose(0, 1)
