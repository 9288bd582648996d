# Copyright (c) mmamlris contributors. All rights reserved.
