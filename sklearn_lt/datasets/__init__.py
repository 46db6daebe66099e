"""Long-tailed datasets: construction, bundled data, loaders of local files.

Nothing here downloads: the loaders read files you already have.
"""

from ._cifar import load_cifar_lt
from ._digits import load_digits_lt
from ._image_files import (
    load_image_list_study_data,
    load_opencv_digits,
    save_image_folder,
    save_split_list,
)
from ._image_list import (
    ImageListDataset,
    load_imagenet_lt,
    load_split_list,
    pil_loader,
)
from ._inaturalist import load_inaturalist
from ._long_tailed import log_thirds_thresholds, long_tailed_counts, make_long_tailed

__all__ = [
    "ImageListDataset",
    "load_cifar_lt",
    "load_digits_lt",
    "load_image_list_study_data",
    "load_imagenet_lt",
    "load_inaturalist",
    "load_opencv_digits",
    "load_split_list",
    "log_thirds_thresholds",
    "long_tailed_counts",
    "make_long_tailed",
    "pil_loader",
    "save_image_folder",
    "save_split_list",
]
