# Copyright (c) mmamlris contributors. All rights reserved.
__all__ = []
