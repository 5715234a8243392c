"""Read (and, for tests and conversions, write) PyTorch `torch.save` state dicts without torch.

Both on-disk formats are supported:
  * the zip format (torch >= 1.6): `<prefix>/data.pkl` plus one raw little-endian file per
    storage, `<prefix>/data/<key>`;
  * the legacy format (torch < 1.6, e.g. pytorch-fid's pt_inception-2015-12-05-6726825d.pth):
    a magic-number pickle, the protocol version, system info, the object pickle, the list of
    storage keys, then each storage as an int64 element count followed by its raw bytes.

Only what a state dict of tensors needs is understood (OrderedDict, tensors and parameters of
float/int storages); any other pickled global is refused, so a weight file cannot run code.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import pickle
import struct
import sys
import types
import zipfile
from typing import BinaryIO

import numpy as np

_STORAGE_DTYPES = {
    'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
    'LongStorage': np.int64, 'IntStorage': np.int32, 'ShortStorage': np.int16,
    'CharStorage': np.int8, 'ByteStorage': np.uint8, 'BoolStorage': np.bool_,
}
_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL = 1001


class WeightFileError(ValueError):
  """A weight file that is missing, truncated or not a PyTorch state dict."""


class _StorageType:
  def __init__(self, name: str):
    self.name, self.dtype = name, np.dtype(_STORAGE_DTYPES[name])


class _LazyTensor:
  """A tensor whose storage bytes may arrive after the pickle (legacy format)."""

  def __init__(self, storage, offset, size, stride):
    self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

  def materialize(self, storages: dict) -> np.ndarray:
    key, dtype = self.storage
    flat = storages[key]
    if not self.size:
      return flat[self.offset].copy()
    view = np.lib.stride_tricks.as_strided(
        flat[self.offset:], shape=self.size, strides=[s * dtype.itemsize for s in self.stride])
    return np.array(view, copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
  del requires_grad, backward_hooks, metadata
  return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
  del requires_grad, backward_hooks
  return data


class _Unpickler(pickle.Unpickler):
  def find_class(self, module, name):
    if module == 'collections' and name == 'OrderedDict':
      return collections.OrderedDict
    if module == 'torch._utils' and name == '_rebuild_tensor_v2':
      return _rebuild_tensor_v2
    if module == 'torch._utils' and name == '_rebuild_parameter':
      return _rebuild_parameter
    if module == 'torch' and name in _STORAGE_DTYPES:
      return _StorageType(name)
    raise WeightFileError(f'unsupported object {module}.{name} in the weight file: only state '
                          'dicts of tensors can be read without torch')

  def persistent_load(self, pid):
    if not isinstance(pid, tuple) or pid[0] != 'storage':
      raise WeightFileError(f'unexpected persistent id {pid!r} in the weight file')
    storage_type, key = pid[1], str(pid[2])
    if isinstance(storage_type, _StorageType):
      dtype = storage_type.dtype
    else:                                  # torch >= 2: a dtype object in place of the type
      raise WeightFileError(f'unsupported storage type {storage_type!r}')
    return (key, dtype)


def _materialize(obj, storages):
  if isinstance(obj, _LazyTensor):
    return obj.materialize(storages)
  if isinstance(obj, dict):
    return collections.OrderedDict((k, _materialize(v, storages)) for k, v in obj.items())
  return obj


def _storage_dtypes(obj, found: dict) -> dict:
  if isinstance(obj, _LazyTensor):
    found[obj.storage[0]] = obj.storage[1]
  elif isinstance(obj, dict):
    for value in obj.values():
      _storage_dtypes(value, found)
  return found


def _read_zip(path: str) -> dict:
  with zipfile.ZipFile(path) as archive:
    pickles = [n for n in archive.namelist() if n.endswith('data.pkl')]
    if len(pickles) != 1:
      raise WeightFileError(f'{path}: a torch zip file holds one data.pkl, found {pickles}')
    prefix = pickles[0][:-len('data.pkl')]
    obj = _Unpickler(io.BytesIO(archive.read(pickles[0]))).load()
    storages = {key: np.frombuffer(archive.read(f'{prefix}data/{key}'), dtype.newbyteorder('<'))
                for key, dtype in _storage_dtypes(obj, {}).items()}
  return _materialize(obj, storages)


def _read_legacy(f: BinaryIO, path: str) -> dict:
  magic = pickle.load(f)
  if magic != _LEGACY_MAGIC:
    raise WeightFileError(f'{path} is neither a torch zip file nor a legacy torch file')
  if pickle.load(f) != _LEGACY_PROTOCOL:
    raise WeightFileError(f'{path}: unsupported legacy torch protocol')
  pickle.load(f)                                     # system info (byte order, type sizes)
  obj = _Unpickler(f).load()
  keys = pickle.load(f)
  dtypes = _storage_dtypes(obj, {})
  storages = {}
  for key in keys:
    (count,) = struct.unpack('<q', f.read(8))
    dtype = dtypes.get(key, np.dtype(np.float32))
    raw = f.read(count * dtype.itemsize)
    if len(raw) != count * dtype.itemsize:
      raise WeightFileError(f'{path} is truncated (storage {key} incomplete): download it again')
    storages[key] = np.frombuffer(raw, dtype.newbyteorder('<'))
  return _materialize(obj, storages)


def load_state_dict(path: str) -> dict[str, np.ndarray]:
  """A `torch.save`d state dict (either format) as an ordered {name: numpy array}."""
  if not os.path.isfile(path):
    raise WeightFileError(f'weight file {path} does not exist')
  try:
    if zipfile.is_zipfile(path):
      state = _read_zip(path)
    else:
      with open(path, 'rb') as f:
        state = _read_legacy(f, path)
  except (pickle.UnpicklingError, EOFError, struct.error, KeyError, zipfile.BadZipFile) as e:
    raise WeightFileError(f'{path} is not a readable PyTorch state dict ({e}); it may be '
                          'truncated: download it again') from e
  if isinstance(state, dict) and 'state_dict' in state and isinstance(state['state_dict'], dict):
    state = state['state_dict']
  if not isinstance(state, dict):
    raise WeightFileError(f'{path} holds a {type(state).__name__}, not a state dict')
  return state


# ---------------------------------------------------------------------------------- writing


@contextlib.contextmanager
def _torch_names():
  """Stand-in `torch` modules so that pickle can name torch's globals (writing only)."""
  saved = {k: sys.modules.get(k) for k in ('torch', 'torch._utils')}
  torch_mod, utils_mod = types.ModuleType('torch'), types.ModuleType('torch._utils')
  torch_mod._utils = utils_mod
  for name in _STORAGE_DTYPES:
    setattr(torch_mod, name, type(name, (), {'__module__': 'torch'}))
  def _rebuild(*args):   # pragma: no cover - only referenced by name
    return args
  _rebuild.__module__, _rebuild.__qualname__, _rebuild.__name__ = ('torch._utils',) + (
      '_rebuild_tensor_v2',) * 2
  utils_mod._rebuild_tensor_v2 = _rebuild
  sys.modules.update({'torch': torch_mod, 'torch._utils': utils_mod})
  try:
    yield torch_mod, utils_mod
  finally:
    for key, module in saved.items():
      if module is None:
        sys.modules.pop(key, None)
      else:
        sys.modules[key] = module


_DTYPE_STORAGE = {np.dtype(v): k for k, v in _STORAGE_DTYPES.items()}


class _StorageRef:
  def __init__(self, key: str, array: np.ndarray):
    self.key, self.array = key, np.ascontiguousarray(array).astype(array.dtype.newbyteorder('<'))


class _TensorRef:
  def __init__(self, storage: _StorageRef, shape):
    self.storage, self.shape = storage, tuple(shape)


def _pickle_state(state: dict, legacy: bool, torch_mod, utils_mod) -> tuple[bytes, list]:
  refs = []

  class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
      if isinstance(obj, _StorageRef):
        storage_type = getattr(torch_mod, _DTYPE_STORAGE[obj.array.dtype.newbyteorder('=')])
        if legacy:
          return ('storage', storage_type, obj.key, 'cpu', obj.array.size, None)
        return ('storage', storage_type, obj.key, 'cpu', obj.array.size)
      return None

    def reducer_override(self, obj):
      if isinstance(obj, _TensorRef):
        strides = [int(np.prod(obj.shape[i + 1:])) for i in range(len(obj.shape))]
        return (utils_mod._rebuild_tensor_v2,
                (obj.storage, 0, obj.shape, tuple(strides), False, collections.OrderedDict()))
      return NotImplemented

  wrapped = collections.OrderedDict()
  for index, (name, array) in enumerate(state.items()):
    array = np.asarray(array)
    storage = _StorageRef(str(index), array.reshape(-1))
    refs.append(storage)
    wrapped[name] = _TensorRef(storage, array.shape)
  buffer = io.BytesIO()
  _Pickler(buffer, protocol=2).dump(wrapped)
  return buffer.getvalue(), refs


def save_state_dict(path: str, state: dict[str, np.ndarray], legacy: bool = False) -> None:
  """Writes {name: array} as `torch.save(state_dict)` would: the zip format, or the legacy one
  (`legacy=True`, torch < 1.6's `_use_new_zipfile_serialization=False`)."""
  with _torch_names() as (torch_mod, utils_mod):
    data, storages = _pickle_state(state, legacy, torch_mod, utils_mod)
  tmp = path + '.tmp'
  if legacy:
    with open(tmp, 'wb') as f:
      for header in (_LEGACY_MAGIC, _LEGACY_PROTOCOL,
                     {'protocol_version': _LEGACY_PROTOCOL, 'little_endian': True,
                      'type_sizes': {'short': 2, 'int': 4, 'long': 4}}):
        pickle.dump(header, f, protocol=2)
      f.write(data)
      pickle.dump([s.key for s in storages], f, protocol=2)
      for storage in storages:
        f.write(struct.pack('<q', storage.array.size))
        f.write(storage.array.tobytes())
  else:
    prefix = os.path.splitext(os.path.basename(path))[0] or 'archive'
    with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_STORED) as archive:
      archive.writestr(f'{prefix}/data.pkl', data)
      archive.writestr(f'{prefix}/byteorder', 'little')
      for storage in storages:
        archive.writestr(f'{prefix}/data/{storage.key}', storage.array.tobytes())
      archive.writestr(f'{prefix}/version', '3\n')
  os.replace(tmp, path)
