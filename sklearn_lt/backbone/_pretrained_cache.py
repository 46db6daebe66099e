"""Features on disk: ``.npy`` files keyed by network + weights + preprocessing + image files.

A store is one folder per fingerprint of (network, weights, preprocessing,
precision) under the cache folder. Each extraction run that had images to
compute writes one *shard* into it: ``<id>.npy``, the float32 features
``(n, d)`` written batch by batch (never held whole in memory), and
``<id>.keys.npy``, one uint64 key per row (:func:`file_keys`: path,
modification time and size of the image). A shard counts once its keys file
exists; both are written under a temporary name and renamed, so a run that
stops half-way leaves no shard, and two processes writing the same shard
write the same bytes.

A request for any list of images looks its keys up in every shard: a second
run over the same list, a subset (a cross-validation fold), or a list that
mixes known and new images reads what is known and computes only the rest.
Results come back memory-mapped (copy-on-write) when one shard holds them in
order, so reading a cached set costs no memory until the rows are used.
"""

import hashlib
import json
import os
import uuid
from pathlib import Path

import numpy as np

__all__ = ["FeatureStore", "NpyWriter"]

_KEYS_SUFFIX = ".keys.npy"


def _temporary(path):
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


class NpyWriter:
    """Write a float32 ``(n, d)`` ``.npy`` file row block by row block, renamed when complete.

    Only the block being written is in memory: the file is written with
    ordinary writes, not through a memory map, so its pages stay in the
    page cache and out of the process's resident memory.
    """

    def __init__(self, path, n_rows, n_cols):
        self.path = Path(path)
        self.shape = (int(n_rows), int(n_cols))
        self._tmp = _temporary(self.path)
        self._file = open(self._tmp, "wb")
        header = {"descr": "<f4", "fortran_order": False, "shape": self.shape}
        np.lib.format.write_array_header_1_0(self._file, header)
        self.rows = 0

    def write(self, block):
        block = np.ascontiguousarray(block, dtype="<f4")
        if block.ndim != 2 or block.shape[1] != self.shape[1]:
            raise ValueError(f"expected rows of {self.shape[1]} features, got {block.shape}.")
        if self.rows + len(block) > self.shape[0]:
            raise ValueError(f"more than the {self.shape[0]} rows announced.")
        self._file.write(block.data)
        self.rows += len(block)

    def close(self):
        """Finish the file; raise if fewer rows than announced were written."""
        self._file.close()
        if self.rows != self.shape[0]:
            os.unlink(self._tmp)
            raise RuntimeError(f"wrote {self.rows} rows of {self.shape[0]}.")
        os.replace(self._tmp, self.path)

    def abort(self):
        self._file.close()
        if self._tmp.exists():
            os.unlink(self._tmp)


class FeatureStore:
    """The shards of one fingerprint: look up rows by file key, add new shards.

    Parameters
    ----------
    folder : str or Path
        ``<cache_dir>/<fingerprint>``; created if needed.
    description : dict
        Written once to ``meta.json`` (what the fingerprint stands for), for
        people browsing the cache.
    """

    def __init__(self, folder, description=None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "meta.json"
        if description is not None and not meta.exists():
            tmp = _temporary(meta)
            tmp.write_text(json.dumps(description, indent=1, default=str) + "\n")
            os.replace(tmp, meta)

    def shards(self):
        """Complete shards, as paths of their feature files (sorted)."""
        return sorted(
            p.with_name(p.name[: -len(_KEYS_SUFFIX)] + ".npy")
            for p in self.folder.glob("*" + _KEYS_SUFFIX)
        )

    def lookup(self, keys):
        """Where each key's features are: ``(shard paths, shard index, row)``, -1 when absent."""
        shards = self.shards()
        where_shard = np.full(len(keys), -1, dtype=np.int64)
        where_row = np.full(len(keys), -1, dtype=np.int64)
        for s, shard in enumerate(shards):
            known = np.load(_keys_path(shard))
            order = np.argsort(known, kind="stable")
            pos = np.searchsorted(known, keys, sorter=order)
            pos = np.minimum(pos, len(known) - 1)
            found = (known[order[pos]] == keys) & (where_shard < 0)
            where_shard[found] = s
            where_row[found] = order[pos[found]]
        return shards, where_shard, where_row

    def new_shard(self, keys, n_features):
        """A writer for the features of ``keys`` (in that order); call ``commit`` after."""
        name = hashlib.blake2b(keys.tobytes(), digest_size=16).hexdigest()
        return _Shard(self.folder / f"{name}.npy", keys, n_features)

    def read(self, keys):
        """The features of ``keys`` if all are stored, else None (see :meth:`gather`)."""
        shards, shard, row = self.lookup(keys)
        if len(keys) and (shard < 0).any():
            return None
        return gather(shards, shard, row)


class _Shard:
    def __init__(self, path, keys, n_features):
        self.path = path
        self.keys = keys
        self.writer = NpyWriter(path, len(keys), n_features)

    def write(self, block):
        self.writer.write(block)

    def commit(self):
        self.writer.close()
        tmp = _temporary(_keys_path(self.path))
        with open(tmp, "wb") as f:
            np.save(f, self.keys)
        os.replace(tmp, _keys_path(self.path))

    def abort(self):
        self.writer.abort()


def _keys_path(shard):
    return shard.with_name(shard.name[: -len(".npy")] + _KEYS_SUFFIX)


def gather(shards, shard, row):
    """The rows ``row`` of the shards ``shard``, memory-mapped when one shard has them in order."""
    if len(shard) and (shard == shard[0]).all():
        features = np.load(shards[shard[0]], mmap_mode="c")
        start = row[0]
        if (row == np.arange(start, start + len(row))).all():
            return features[start : start + len(row)]
        return np.asarray(features[row])
    n_features = np.load(shards[0], mmap_mode="r").shape[1] if shards else 0
    out = np.empty((len(row), n_features), dtype=np.float32)
    for s in np.unique(shard):
        mask = shard == s
        out[mask] = np.load(shards[s], mmap_mode="r")[row[mask]]
    return out
