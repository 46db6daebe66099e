"""Bounding the CPU threads of one call: torch's and the BLAS/OpenMP pools."""

import contextlib
from numbers import Integral

import torch
from threadpoolctl import threadpool_limits

__all__ = ["limit_threads"]


@contextlib.contextmanager
def limit_threads(n_threads):
    """Run the block on at most ``n_threads`` CPU threads, then restore the caller's setting.

    torch keeps its own intra-op pool (``torch.set_num_threads``), which
    ``threadpoolctl`` does not reach; this bounds both, so ``n_threads=1``
    means one core for the network and for numpy's BLAS alike. The setting is
    process-wide while the block runs.

    Parameters
    ----------
    n_threads : int >= 1 or None
        ``None`` leaves every setting as it is.

    Yields
    ------
    None
        A context manager: the ``with`` block runs under the limit.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.utils import limit_threads
    >>> before = torch.get_num_threads()
    >>> with limit_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if n_threads is None:
        yield
        return
    if not isinstance(n_threads, Integral) or isinstance(n_threads, bool) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive int or None, got {n_threads!r}.")
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        with threadpool_limits(limits=int(n_threads)):
            yield
    finally:
        torch.set_num_threads(previous)
