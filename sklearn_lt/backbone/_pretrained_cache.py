"""Features on disk: ``.npy`` files keyed by network + weights + preprocessing + image files.

A store is one folder per fingerprint of (network, weights, preprocessing,
precision) under the cache folder. Each extraction run that had images to
compute writes one *shard* into it: ``<id>.npy``, the float32 features
``(n, d)`` written batch by batch (never held whole in memory), and
``<id>.keys.npy``, one uint64 key per row (:func:`file_keys`: path, size,
modification and status-change times of the image). A shard counts once its
keys file exists; both are written under a temporary name and renamed, so
readers never see half a shard, and two processes writing the same shard
write the same bytes. A run that stops early (an unreadable image, an
interrupt) still commits the rows it computed: a shard holds exactly the
rows written, in the order written.

A request for any list of images looks its keys up in every shard: a second
run over the same list, a subset (a cross-validation fold), or a list that
mixes known and new images reads what is known and computes only the rest.
Results come back memory-mapped (copy-on-write) when one shard holds them in
order, so reading a cached set costs no memory until the rows are used.
"""

import hashlib
import json
import os
import struct
import uuid
from pathlib import Path

import numpy as np

__all__ = ["FeatureStore", "NpyWriter"]

_KEYS_SUFFIX = ".keys.npy"
# The .npy header (format 1.0, NEP 1) is given a fixed size so that it can be
# rewritten once the number of rows is known; 128 bytes keep the data 64-byte aligned.
_HEADER_BYTES = 128


def _temporary(path):
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def _npy_header(shape):
    fields = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple(shape)}, }}"
    text = fields.ljust(_HEADER_BYTES - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


class NpyWriter:
    """Write a float32 ``(n, d)`` ``.npy`` file row block by row block, renamed when closed.

    Only the block being written is in memory: the file is written with
    ordinary writes, not through a memory map, so its pages stay in the
    page cache and out of the process's resident memory. The number of rows
    is whatever was written when :meth:`close` is called.
    """

    def __init__(self, path, n_cols):
        self.path = Path(path)
        self.n_cols = int(n_cols)
        self._tmp = _temporary(self.path)
        self._file = open(self._tmp, "wb")
        self._file.write(_npy_header((0, self.n_cols)))
        self.rows = 0

    def write(self, block):
        block = np.ascontiguousarray(block, dtype="<f4")
        if block.ndim != 2 or block.shape[1] != self.n_cols:
            raise ValueError(f"expected rows of {self.n_cols} features, got {block.shape}.")
        self._file.write(block.data)
        self.rows += len(block)

    def close(self, path=None):
        """Finish the file (as ``path`` if given) with the rows written so far."""
        # An interrupted write may have left part of a block: cut the file at the last whole row.
        self._file.truncate(_HEADER_BYTES + 4 * self.rows * self.n_cols)
        self._file.seek(0)
        self._file.write(_npy_header((self.rows, self.n_cols)))
        self._file.close()
        os.replace(self._tmp, self.path if path is None else path)

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
            if not len(known):
                continue
            order = np.argsort(known, kind="stable")
            pos = np.searchsorted(known, keys, sorter=order)
            pos = np.minimum(pos, len(known) - 1)
            found = (known[order[pos]] == keys) & (where_shard < 0)
            where_shard[found] = s
            where_row[found] = order[pos[found]]
        return shards, where_shard, where_row

    def new_shard(self, n_features):
        """A writer of rows and their keys; ``commit`` keeps what was written."""
        return _Shard(self.folder, n_features)

    def read(self, keys):
        """The features of ``keys`` if all are stored, else None (see :meth:`gather`)."""
        shards, shard, row = self.lookup(keys)
        if len(keys) and (shard < 0).any():
            return None
        return gather(shards, shard, row)


class _Shard:
    def __init__(self, folder, n_features):
        self.folder = folder
        self.keys = []
        self.writer = NpyWriter(folder / "shard.npy", n_features)

    def write(self, keys, block):
        """Rows ``block`` for the files of ``keys`` (uint64, one per row)."""
        if len(keys) != len(block):
            raise ValueError(f"{len(keys)} keys for {len(block)} rows.")
        self.writer.write(block)
        self.keys.append(np.asarray(keys, dtype="<u8"))

    def commit(self):
        """Publish the rows written so far (none: no shard), named after their keys."""
        keys = np.concatenate(self.keys) if self.keys else np.empty(0, dtype="<u8")
        keys = keys[: self.writer.rows]
        if not len(keys):
            self.writer.abort()
            return
        name = hashlib.blake2b(keys.tobytes(), digest_size=16).hexdigest()
        path = self.folder / f"{name}.npy"
        self.writer.close(path)
        tmp = _temporary(_keys_path(path))
        with open(tmp, "wb") as f:
            np.save(f, keys)
        os.replace(tmp, _keys_path(path))

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
