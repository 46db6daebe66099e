"""skorch callbacks of stage one (cosine schedule, per-epoch class sampling) and its seeds."""

import contextlib

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch.callbacks import Callback, LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR

from ..sampling import EpochIndexSampler
from ..utils import to_numpy
from ._data import dataset_labels

__all__ = [
    "PROBABILITIES_KEY",
    "ClassSampling",
    "CosineAnnealing",
    "encoded_accuracy",
    "run_seed",
    "torch_seeded",
]

# History key of the per-epoch class sampling probabilities.
PROBABILITIES_KEY = "class_probabilities"


def run_seed(random_state):
    """The seed of one training run, drawn from ``random_state`` (an int always gives the same)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def torch_seeded(net):
    """torch's generators seeded from ``net.random_state`` for a run, restored after it.

    ``None`` leaves them alone. The CUDA generator of ``net.device`` is
    seeded and restored too.
    """
    if net.random_state is None:
        yield
        return
    devices = []
    device = torch.device(net.device) if net.device is not None else None
    if torch.cuda.is_available() and (device is None or device.type == "cuda"):
        index = device.index if device is not None else None
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(run_seed(net.random_state))
        yield


def encoded_accuracy(net, X, y):
    """Validation accuracy (``EpochScoring``) against the encoded labels the datasets hold."""
    proba = net.predict_proba(X)
    return float(np.mean(to_numpy(proba).argmax(axis=1) == to_numpy(y)))


class CosineAnnealing(LRScheduler):
    """Cosine learning-rate annealing over the run, stepped once per epoch.

    torch's ``CosineAnnealingLR`` with ``T_max`` defaulting to the network's
    ``max_epochs`` at the start of training, so that changing ``max_epochs``
    (e.g. in a grid search) keeps the schedule ending at ``eta_min``. Kang et
    al. (2020, section 5.1) train stage one with this schedule. The learning
    rate of each epoch is recorded in the history as ``event_lr``.

    Parameters
    ----------
    T_max : int, default=None
        Epochs of one half cosine; ``None`` means the network's ``max_epochs``.
    eta_min : float, default=0.0
        Final learning rate.
    event_name : str or None, default="event_lr"
    """

    def __init__(self, T_max=None, eta_min=0.0, event_name="event_lr"):
        super().__init__(
            policy=CosineAnnealingLR, event_name=event_name, step_every="epoch"
        )
        self.T_max = T_max
        self.eta_min = eta_min

    @property
    def kwargs(self):
        return {"T_max": self.T_max_, "eta_min": self.eta_min}

    def initialize(self):
        super().initialize()
        self.T_max_ = self.T_max
        return self

    def on_train_begin(self, net, **kwargs):
        self.T_max_ = self.T_max if self.T_max is not None else max(int(net.max_epochs), 1)
        super().on_train_begin(net, **kwargs)


class ClassSampling(Callback):
    """Draws each epoch's training images with the network's ``sampler_``.

    Kang et al. (2020) sample class ``j`` with probability
    ``p_j = n_j^q / sum_i n_i^q`` (eq. 1), or move from instance- to
    class-balanced sampling over the epochs (progressively balanced, eq. 2).
    :class:`BackboneEmbedder`'s training iterator takes its sampler from
    :meth:`training_sampler`, built from the labels of the training split
    that skorch's ``train_split`` made: validation rows are never drawn nor
    counted. At the start of each epoch the sampler moves to that epoch of
    its schedule (the network's epoch, counted over ``fit`` and
    ``partial_fit`` calls) and the classes' sampling probabilities are
    recorded in the history under ``key`` (0 for a class absent from the
    training split).

    Parameters
    ----------
    key : str, default="class_probabilities"
        History key of the probabilities.

    Attributes
    ----------
    index_sampler_ : EpochIndexSampler or None
        The sampler of the training run in progress; ``None`` outside
        training, or when ``iterator_train__sampler`` replaces it.
    sampled_classes_ : ndarray or None
        The (encoded) classes present in that run's training split.
    """

    def __init__(self, key=PROBABILITIES_KEY):
        self.key = key

    def initialize(self):
        self.index_sampler_ = None
        self.sampled_classes_ = None
        return self

    def seed(self, net):
        """Seed of the run's draws: the sampler's own ``random_state``, else the network's."""
        own = net.sampler_.random_state
        return own if own is not None else run_seed(net.random_state)

    def training_sampler(self, net, dataset):
        """The ``DataLoader`` sampler of the training split ``dataset``."""
        labels = dataset_labels(dataset)
        if labels is None:
            raise ValueError(
                "Cannot read the labels of the training split, which the sampler needs; "
                "train on images (arrays, tensors) or a torch Dataset passed to fit."
            )
        self.index_sampler_ = EpochIndexSampler(
            net.sampler_, labels, n_epochs=net.max_epochs, random_state=self.seed(net)
        )
        self.sampled_classes_ = np.unique(labels)
        return self.index_sampler_

    def on_train_begin(self, net, **kwargs):
        self.initialize()

    def on_epoch_begin(self, net, **kwargs):
        if self.index_sampler_ is None:
            return
        self.index_sampler_.set_epoch(len(net.history) - 1)
        probabilities = np.zeros(len(net.classes_))
        probabilities[self.sampled_classes_] = self.index_sampler_.class_probabilities()
        net.history.record(self.key, probabilities.tolist())

    def on_train_end(self, net, **kwargs):
        # The run is over: its labels are neither kept nor pickled with the network.
        self.initialize()
