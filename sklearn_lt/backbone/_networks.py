"""Backbones of stage one, selectable by name, and the joint backbone + linear classifier.

* ``"convnet"``: a small VGG-style ConvNet for small images (8x8 digits, 28x28
  MNIST-like, 32x32).
* ``"resnet20"``, ``"resnet32"``, ``"resnet44"``, ``"resnet56"``, ``"resnet110"``:
  the CIFAR ResNets of He et al. (2016), section 4.2, as used by the CIFAR-LT
  literature (LDAM-DRW, decoupling, LTWB, LOS): three stages of ``(depth - 2) / 6``
  basic blocks with 16/32/64 channels and parameter-free "option A" shortcuts
  (strided identity, zero-padded channels). ResNet-32 has 5 blocks per stage.
* any torchvision classification model with a final ``fc`` layer (``"resnet50"``,
  ``"resnext50_32x4d"``, ``"wide_resnet50_2"``...) when torchvision is installed.

Every backbone maps images ``(N, C, H, W)`` to features ``(N, d)`` and carries its
``feature_dim`` ``d``.
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ConvNet",
    "CifarResNet",
    "JointNet",
    "available_networks",
    "build_network",
    "feature_dim_of",
    "joint_network",
]


class ConvNet(nn.Module):
    """Small ConvNet for small images: ``n_stages`` stages of two 3x3 conv-BN-ReLU.

    Stage ``s`` has ``width * 2**s`` channels; a 2x2 max-pool sits between stages
    (skipped once the maps are down to one pixel) and global average pooling
    ends the network, so any image size from 1x1 up works. With the defaults,
    8x8 digits become 64 features and one epoch over a thousand of them takes a
    fraction of a second on a CPU.

    Parameters
    ----------
    in_channels : int, default=1
    width : int, default=32
        Channels of the first stage.
    n_stages : int, default=2

    Attributes
    ----------
    feature_dim : int
        ``width * 2**(n_stages - 1)``.
    """

    def __init__(self, in_channels=1, width=32, n_stages=2):
        super().__init__()
        layers, channels = [], in_channels
        for stage in range(n_stages):
            out = width * 2**stage
            if stage > 0:
                layers.append(_MaxPoolIfLarge())
            layers += [
                nn.Conv2d(channels, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
                nn.Conv2d(out, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            channels = out
        self.layers = nn.Sequential(*layers)
        self.feature_dim = channels

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.layers(x), 1), 1)


class _MaxPoolIfLarge(nn.Module):
    """2x2 max-pool, or identity on maps already smaller than 2x2."""

    def forward(self, x):
        if x.shape[-1] < 2 or x.shape[-2] < 2:
            return x
        return F.max_pool2d(x, 2)


class _PadShortcut(nn.Module):
    """Option-A shortcut (He et al. 2016): strided identity, zero-padded channels."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.stride = stride
        self.pad_low = (planes - in_planes) // 2
        self.pad_high = planes - in_planes - self.pad_low

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_low, self.pad_high))


class _BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = _PadShortcut(in_planes, planes, stride)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """CIFAR ResNet (He et al. 2016, section 4.2) with option-A shortcuts.

    A 3x3 convolution with 16 channels, then three stages of ``(depth - 2) / 6``
    basic blocks with 16, 32 and 64 channels (the second and third stages start
    with stride 2), global average pooling: 64 features. ``depth=32`` is the
    ResNet-32 of the CIFAR-10/100-LT literature (0.46M parameters). Convolutions
    get Kaiming-normal initialisation, as in the LDAM-DRW code.

    Parameters
    ----------
    depth : int, default=32
        ``6n + 2``: 20, 32, 44, 56, 110...
    in_channels : int, default=3
    widths : tuple of 3 int, default=(16, 32, 64)

    Attributes
    ----------
    feature_dim : int
        ``widths[-1]``.
    """

    def __init__(self, depth=32, in_channels=3, widths=(16, 32, 64)):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 with n >= 1 (20, 32, 44...), got {depth}.")
        n_blocks = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        blocks, in_planes = [], widths[0]
        for stage, planes in enumerate(widths):
            for i in range(n_blocks):
                stride = 2 if (stage > 0 and i == 0) else 1
                blocks.append(_BasicBlock(in_planes, planes, stride))
                in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = in_planes
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.blocks(out)
        return torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)


_CIFAR_RESNETS = {f"resnet{d}": d for d in (20, 32, 44, 56, 110)}


def _torchvision_network(name, in_channels, **kwargs):
    try:
        import torchvision
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    try:
        builder = torchvision.models.get_model_builder(name)
    except ValueError:
        return None
    net = builder(**kwargs)
    fc = getattr(net, "fc", None)
    if not isinstance(fc, nn.Linear):
        raise ValueError(
            f"torchvision's {name!r} has no final 'fc' Linear layer to replace; pass "
            "a torch.nn.Module that returns features instead."
        )
    net.fc = nn.Identity()
    net.feature_dim = fc.in_features
    if in_channels != 3:
        conv1 = net.conv1
        net.conv1 = nn.Conv2d(
            in_channels,
            conv1.out_channels,
            kernel_size=conv1.kernel_size,
            stride=conv1.stride,
            padding=conv1.padding,
            bias=conv1.bias is not None,
        )
    return net


def available_networks():
    """Names accepted by :func:`build_network` (torchvision's only when it is installed).

    Returns
    -------
    names : list of str
    """
    names = ["convnet", *_CIFAR_RESNETS]
    try:
        import torchvision
    except ImportError:  # pragma: no cover - depends on the environment
        return names
    for name in torchvision.models.list_models(module=torchvision.models):
        if name.startswith(("resnet", "resnext", "wide_resnet")):
            names.append(name)
    return names


def build_network(name, in_channels, **kwargs):
    """Build the backbone called ``name`` for images with ``in_channels`` channels.

    Parameters
    ----------
    name : str
        ``"convnet"``, ``"resnet20"``/``"resnet32"``/``"resnet44"``/``"resnet56"``/
        ``"resnet110"`` (CIFAR ResNets), or a torchvision model name with an
        ``fc`` layer (``"resnet50"``, ``"resnext50_32x4d"``...) when
        torchvision is installed. The CIFAR names take precedence over
        torchvision's.
    in_channels : int
    **kwargs
        Passed to the network's constructor (``width=``, ``n_stages=`` for the
        ConvNet; ``widths=`` for CIFAR ResNets; torchvision's arguments, e.g.
        ``weights=``).

    Returns
    -------
    backbone : torch.nn.Module
        Maps ``(N, in_channels, H, W)`` to ``(N, backbone.feature_dim)``.
    """
    key = name.lower()
    if key == "convnet":
        return ConvNet(in_channels=in_channels, **kwargs)
    if key in _CIFAR_RESNETS:
        return CifarResNet(depth=_CIFAR_RESNETS[key], in_channels=in_channels, **kwargs)
    net = _torchvision_network(key, in_channels, **kwargs)
    if net is None:
        raise ValueError(
            f"Unknown network {name!r}. Built-in names: 'convnet', "
            f"{', '.join(repr(n) for n in _CIFAR_RESNETS)}; torchvision's ResNet/ResNeXt "
            "names (e.g. 'resnet50', 'resnext50_32x4d') when torchvision is installed; "
            "or pass a torch.nn.Module that returns features."
        )
    return net


def _first_parameter_device(module):
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def feature_dim_of(backbone, input_shape):
    """Dimension of ``backbone``'s features on images of ``input_shape`` (C, H, W).

    Read from a ``feature_dim`` or ``out_features`` attribute, else found by a
    dry forward pass of two zero images in eval mode (no gradient, no change
    to batch-norm statistics, no random numbers drawn).
    """
    for attr in ("feature_dim", "out_features"):
        value = getattr(backbone, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            x = torch.zeros((2, *input_shape), device=_first_parameter_device(backbone))
            out = backbone(x)
    except Exception as exc:
        raise ValueError(
            f"A dry forward pass of the module on images of shape {tuple(input_shape)} "
            f"failed ({type(exc).__name__}: {exc}). Check input_shape, or give the "
            "module a feature_dim attribute."
        ) from exc
    finally:
        backbone.train(was_training)
    if isinstance(out, (tuple, list)):
        raise ValueError(
            "The module returned a tuple; a backbone must return one features tensor."
        )
    if out.ndim < 2 or out.shape[0] != 2:
        raise ValueError(
            f"The module must return features of shape (n_samples, n_features); on "
            f"2 images it returned shape {tuple(out.shape)}."
        )
    return int(out[0].numel())


class JointNet(nn.Module):
    """Backbone plus linear classifier, trained jointly in stage one.

    ``forward`` returns the logits ``fc(backbone(x))``, or the penultimate
    features ``backbone(x)`` (flattened to 2-D) while ``return_features`` is
    True. ``class_counts`` (a buffer, so it is saved with the parameters)
    records the training samples per class.

    Parameters
    ----------
    backbone : torch.nn.Module
    feature_dim : int
    n_classes : int
    """

    def __init__(self, backbone, feature_dim, n_classes):
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(feature_dim, n_classes)
        self.register_buffer("class_counts", torch.zeros(n_classes, dtype=torch.int64))
        self.return_features = False

    def features(self, x):
        """The penultimate features of images ``x``, flattened to 2-D.

        Parameters
        ----------
        x : torch.Tensor of shape (N, C, H, W)
            Images.

        Returns
        -------
        features : torch.Tensor of shape (N, feature_dim)
        """
        z = self.backbone(x)
        return torch.flatten(z, 1) if z.ndim > 2 else z

    def forward(self, x):
        z = self.features(x)
        return z if self.return_features else self.fc(z)


def joint_network(module, image_shape, n_classes, **kwargs):
    """``JointNet`` of the backbone ``module`` for images of ``image_shape`` (C, H, W).

    ``module`` is a name for :func:`build_network`, a ``torch.nn.Module``
    instance (copied, so that it is never trained in place; rebuilt from its
    class when ``kwargs`` are given) or a class/callable returning one, built
    with ``kwargs``. The feature dimension comes from :func:`feature_dim_of`.
    """
    if isinstance(module, str):
        backbone = build_network(module, image_shape[0], **kwargs)
    elif isinstance(module, nn.Module):
        backbone = type(module)(**kwargs) if kwargs else copy.deepcopy(module)
    else:
        backbone = module(**kwargs) if callable(module) else None
    if not isinstance(backbone, nn.Module):
        raise TypeError(
            f"module must be a network name, a torch.nn.Module or a class/callable "
            f"returning one; got {module!r}."
        )
    return JointNet(backbone, feature_dim_of(backbone, image_shape), n_classes)
