"""``BackboneEmbedder`` with skorch's ``AccelerateMixin``: multi-GPU stage one.

Everything accelerate needs beyond skorch's mixin is here: the sampling
callback shares process 0's seed and hides the epoch from accelerate's data
loaders, the epoch table honours ``verbose``, criteria without parameters are
not wrapped, and the trained network pickles.
"""

import warnings

import torch
from skorch.callbacks import LRScheduler, PrintLog
from skorch.exceptions import DeviceWarning
from skorch.hf import AccelerateMixin

from ._callbacks import ClassSampling
from ._embedder import BackboneEmbedder

__all__ = ["AcceleratedBackboneEmbedder"]


def _n_processes(accelerator):
    return getattr(getattr(accelerator, "state", None), "num_processes", 1)


class _LoaderSampler(torch.utils.data.Sampler):
    """The epoch sampler as accelerate's data loaders see it: without ``set_epoch``.

    They would set it to their own count of passes over the loader, which
    restarts at 0 with every ``fit`` call; the progressive schedule follows
    skorch's epochs instead (``ClassSampling.on_epoch_begin``).
    """

    def __init__(self, index_sampler):
        self.index_sampler = index_sampler

    def __iter__(self):
        return iter(self.index_sampler)

    def __len__(self):
        return len(self.index_sampler)


class _SharedClassSampling(ClassSampling):
    """``ClassSampling`` for several processes: each draws the same epoch order.

    accelerate's loaders then give each process its share of one epoch. With
    ``random_state=None`` every process would draw a seed of its own: process
    0's is broadcast.
    """

    def seed(self, net):
        seed = super().seed(net)
        if net.sampler_.random_state is None and _n_processes(net.accelerator) > 1:
            from accelerate.utils import broadcast_object_list

            seed = int(broadcast_object_list([seed], from_process=0)[0])
        return seed

    def training_sampler(self, net, dataset):
        return _LoaderSampler(super().training_sampler(net, dataset))


class _AcceleratorPrintLog(PrintLog):
    """skorch's ``PrintLog``, silent with ``verbose=0`` when it prints through accelerate.

    skorch prints to any sink other than ``print`` whatever ``verbose`` says;
    ``AccelerateMixin`` makes ``accelerator.print`` the sink, which would turn
    ``verbose=0`` into a no-op. A sink the user chose still always gets the table.
    """

    def on_epoch_end(self, net, **kwargs):
        if not net.verbose and self.sink == getattr(net.accelerator, "print", None):
            return
        super().on_epoch_end(net, **kwargs)


class AcceleratedBackboneEmbedder(AccelerateMixin, BackboneEmbedder):
    """:class:`BackboneEmbedder` trained through Hugging Face ``accelerate``.

    skorch's :class:`~skorch.hf.AccelerateMixin` composed with
    :class:`BackboneEmbedder`: the module, optimizer and data loaders are
    prepared by the ``accelerator``, so the same script trains on one CPU, one
    GPU, or several GPUs (data parallel) when started with
    ``accelerate launch``, with mixed precision if the accelerator asks for
    it. See ``docs/accelerate.md``.

    Leave ``device=None`` (the default here): the accelerator places the
    model and the batches. Every process draws the same epoch order, so that
    accelerate's split of the batches across processes makes up exactly one
    epoch: with ``random_state=None`` the seed of process 0 is broadcast to
    the others. The table of epochs is printed by process 0 only, with
    ``verbose=1``. Criteria without trainable parameters (the default
    ``CrossEntropyLoss``) are moved to the device rather than prepared, so that
    several CPU processes work too (accelerate would wrap them in
    ``DistributedDataParallel``, which refuses them).

    Parameters
    ----------
    *args
        Positional arguments of :class:`BackboneEmbedder` (``module``).
    accelerator : accelerate.Accelerator
    device : None, default=None
    unwrap_after_train : bool, default=True
        Unwrap the module after training (needed to pickle the network).
    callbacks__print_log__sink : callable or "auto", default="auto"
        Where the table of epochs is printed; ``"auto"`` prints on the main
        process only (skorch's ``AccelerateMixin``).
    **kwargs
        Every argument of :class:`BackboneEmbedder`.

    Examples
    --------
    >>> from accelerate import Accelerator  # doctest: +SKIP
    >>> embedder = AcceleratedBackboneEmbedder(  # doctest: +SKIP
    ...     module="resnet32", accelerator=Accelerator(), random_state=0
    ... )
    """

    @property
    def _default_callbacks(self):
        callbacks = dict(super()._default_callbacks)
        callbacks["sampling"] = _SharedClassSampling()
        callbacks["print_log"] = _AcceleratorPrintLog(
            keys_ignored=callbacks["print_log"].keys_ignored
        )
        return list(callbacks.items())

    def _initialize_accelerator(self):
        # skorch's version with one change: criteria without trainable
        # parameters (CrossEntropyLoss) are moved to the device, not prepared.
        # accelerate wraps every prepared module in DistributedDataParallel on
        # several CPU processes, and DDP refuses modules without parameters.
        if self._wrapped_with_accelerator:
            return self

        with self._current_init_context("criterion"):
            for name in self._criteria:
                criterion = getattr(self, name + "_")
                if isinstance(criterion, torch.nn.Module):
                    if any(p.requires_grad for p in criterion.parameters()):
                        criterion = self.accelerator.prepare(criterion)
                    else:
                        criterion = criterion.to(self.accelerator.device)
                    setattr(self, name + "_", criterion)

        with self._current_init_context("module"):
            for name in self._modules:
                module = getattr(self, name + "_")
                if isinstance(module, torch.nn.Module):
                    setattr(self, name + "_", self.accelerator.prepare(module))

        with self._current_init_context("optimizer"):
            for name in self._optimizers:
                optimizer = getattr(self, name + "_")
                if isinstance(optimizer, torch.optim.Optimizer):
                    setattr(self, name + "_", self.accelerator.prepare(optimizer))

        for _, callback in self.callbacks_:
            if isinstance(callback, LRScheduler):
                callback.policy_ = self.accelerator.prepare(callback.policy_)

        self._wrapped_with_accelerator = True
        return self

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        # torch's LR scheduler patches a ``step`` function onto the optimizer
        # instance it schedules, and accelerate's optimizer wrapper pickles its
        # whole __dict__: that function would make the embedder unpicklable.
        # Training is over; the next run's scheduler patches it again.
        optimizers = [getattr(self, name + "_", None) for name in self._optimizers]
        optimizers += list(getattr(self.accelerator, "_optimizers", []))
        for optimizer in optimizers:
            if isinstance(getattr(optimizer, "optimizer", None), torch.optim.Optimizer):
                vars(optimizer).pop("step", None)
        return self

    def __setstate__(self, state):
        # skorch replaces device=None by the device the parameters load on (with
        # a DeviceWarning); here the accelerator places them, and fit refuses a
        # device: keep None.
        device = state.get("device")
        with warnings.catch_warnings():
            if device is None:
                warnings.simplefilter("ignore", DeviceWarning)
            super().__setstate__(state)
        self.device = device
