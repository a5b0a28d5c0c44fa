# Safetensors.py: PyGObject override for safetensors-glib
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Adds to the introspected API:
#  - Safetensors.File.open(path, mode="r"|"r+"|"w+"|"x+", keep_free=, use_mmap=)
#    next to the plain constructor, and File as a context manager;
#  - File.as_numpy(): a MutableMapping of tensor name -> numpy.ndarray whose
#    values are zero-copy views of the file's mapping;
#  - File.metadata: a MutableMapping of the `__metadata__` entries;
#  - safe_open, save_file, load_file, save, load: the functions of the
#    reference implementation's NumPy API, so that code can switch in one line.
#
# NumPy is imported on first use: the rest of the API works without it.

import collections.abc
import functools
import os
import sys
import tempfile
import weakref

from gi.repository import GLib, Gio

from ..module import get_introspection_module
from ..overrides import override

Safetensors = get_introspection_module('Safetensors')

__all__ = []

# The constructor, as introspected, before File.open is overridden.
_gi_file_open = Safetensors.File.open

# Tensor data is copied in pieces of this size when it does not go through a
# mapping, so that memory use does not depend on tensor sizes.
_CHUNK = 16 << 20
# Below this size, new tensor data is handed over in one GBytes.
_SMALL = 64 << 20

_DT = Safetensors.DType


def _numpy():
    import numpy
    return numpy


# ---- dtypes -------------------------------------------------------------------

# The NumPy type of each dtype NumPy has; the others are read as bit patterns.
_NUMPY_TYPES = {
    _DT.BOOL: '|b1',
    _DT.U8: '|u1',
    _DT.I8: '|i1',
    _DT.I16: '<i2',
    _DT.U16: '<u2',
    _DT.F16: '<f2',
    _DT.I32: '<i4',
    _DT.U32: '<u4',
    _DT.F32: '<f4',
    _DT.C64: '<c8',
    _DT.F64: '<f8',
    _DT.I64: '<i8',
    _DT.U64: '<u8',
}

_BITS_TYPES = {
    _DT.BF16: '<u2',
    _DT.F8_E5M2: '|u1',
    _DT.F8_E4M3: '|u1',
    _DT.F8_E8M0: '|u1',
    _DT.F8_E4M3FNUZ: '|u1',
    _DT.F8_E5M2FNUZ: '|u1',
    # Sub-byte types: packed bytes.
    _DT.F4: '|u1',
    _DT.F6_E2M3: '|u1',
    _DT.F6_E3M2: '|u1',
}

# ml_dtypes' names for the dtypes it has with the same storage layout.
_ML_DTYPES = {
    _DT.BF16: 'bfloat16',
    _DT.F8_E5M2: 'float8_e5m2',
    _DT.F8_E4M3: 'float8_e4m3fn',
    _DT.F8_E8M0: 'float8_e8m0fnu',
    _DT.F8_E4M3FNUZ: 'float8_e4m3fnuz',
    _DT.F8_E5M2FNUZ: 'float8_e5m2fnuz',
}

_SUB_BYTE = (_DT.F4, _DT.F6_E2M3, _DT.F6_E3M2)

_DTYPE_MODES = ('bits', 'float32', 'ml_dtypes')


def _dtype_arg(dtype):
    """A Safetensors.DType from a DType or its name ('F32', 'BF16', ...)."""
    if isinstance(dtype, Safetensors.DType):
        return dtype
    if isinstance(dtype, str):
        ok, value = Safetensors.dtype_from_string(dtype)
        if ok:
            return value
        raise ValueError('unknown safetensors dtype %r' % dtype)
    raise TypeError('dtype must be a Safetensors.DType or its name, not %r' % (dtype,))


def _ml_dtypes():
    try:
        import ml_dtypes
    except ImportError as e:
        raise ImportError('dtypes="ml_dtypes" needs the ml_dtypes package') from e
    return ml_dtypes


def _dtype_of_numpy(np_dtype):
    """The Safetensors.DType that stores arrays of np_dtype, or TypeError."""
    kind, size = np_dtype.kind, np_dtype.itemsize
    if kind == 'b':
        return _DT.BOOL
    if kind in 'ui' and size in (1, 2, 4, 8):
        return getattr(_DT, '%s%d' % ('U' if kind == 'u' else 'I', size * 8))
    if kind == 'f' and size in (2, 4, 8):
        return getattr(_DT, 'F%d' % (size * 8))
    if kind == 'c' and size == 8:
        return _DT.C64
    for dtype, name in _ML_DTYPES.items():
        if np_dtype.name == name:
            return dtype
    raise TypeError('NumPy dtype %s has no safetensors equivalent%s' % (
        np_dtype, ' (use complex64)' if kind == 'c' else ''))


@functools.lru_cache(maxsize=None)
def _f8_table(dtype):
    """The float32 value of each of the 256 bit patterns of an F8 dtype."""
    numpy = _numpy()
    b = numpy.arange(256, dtype=numpy.int64)
    if dtype == _DT.F8_E8M0:
        values = numpy.ldexp(1.0, b - 127)
        values[255] = numpy.nan
        return values.astype(numpy.float32)

    exp_bits, bias = {
        _DT.F8_E4M3: (4, 7),
        _DT.F8_E5M2: (5, 15),
        _DT.F8_E4M3FNUZ: (4, 8),
        _DT.F8_E5M2FNUZ: (5, 16),
    }[dtype]
    man_bits = 7 - exp_bits
    sign = numpy.where(b & 0x80, -1.0, 1.0)
    e = (b >> man_bits) & ((1 << exp_bits) - 1)
    m = b & ((1 << man_bits) - 1)
    values = numpy.where(e == 0,
                         numpy.ldexp(m / (1 << man_bits), 1 - bias),
                         numpy.ldexp(1 + m / (1 << man_bits), e - bias)) * sign
    if dtype == _DT.F8_E4M3:
        values[(b & 0x7f) == 0x7f] = numpy.nan
    elif dtype == _DT.F8_E5M2:
        top = (b & 0x7f) >= 0x7c
        values[top] = numpy.where(m[top] == 0, sign[top] * numpy.inf, numpy.nan)
    else:
        # FNUZ: no infinities, no negative zero, one NaN where -0 would be.
        values[0x80] = numpy.nan
    return values.astype(numpy.float32)


def _decode_float32(bits, dtype):
    """Decodes a BF16 or F8 bit-pattern array into a new float32 array."""
    if dtype == _DT.BF16:
        result = (bits.astype('<u4') << 16).view('<f4')
    else:
        result = _f8_table(dtype)[bits]
    result.flags.writeable = False
    return result


def _bf16_bits(values):
    """float -> BF16 bit patterns, rounding to nearest even."""
    numpy = _numpy()
    f = numpy.asarray(values, dtype='<f4')
    u = f.view('<u4').astype(numpy.uint64)
    rounded = ((u + 0x7fff + ((u >> 16) & 1)) >> 16).astype('<u2')
    nan = numpy.isnan(f)
    if nan.any():
        rounded[nan] = ((u[nan] >> 16) | 0x40).astype('<u2')
    return rounded


def _bits_shape(dtype, shape, n_bytes):
    """The shape of the uint8 array that shows a sub-byte tensor's bytes."""
    bits = Safetensors.dtype_get_bits(dtype)
    if shape and (shape[-1] * bits) % 8 == 0:
        return tuple(shape[:-1]) + (shape[-1] * bits // 8,)
    return (n_bytes,)


def _shape_of(tensor):
    shape = tensor.get_shape()
    return () if shape is None else tuple(shape)


# ---- arrays over GBytes -------------------------------------------------------

class _BytesView:
    """The base of a zero-copy ndarray: it exposes a GBytes' memory through
    the array interface and, being the array's `base`, keeps the GBytes (and
    with it the mapping it slices) alive as long as any array uses it."""

    __slots__ = ('bytes', '__array_interface__', 'file_offset', '__weakref__')

    def __init__(self, data, typestr, shape, readonly):
        self.bytes = data
        self.file_offset = None
        self.__array_interface__ = {
            'version': 3,
            'shape': shape,
            'typestr': typestr,
            'data': (Safetensors.bytes_get_address(data), readonly),
        }


def _array_over(data, typestr, shape, readonly, reader_key=None, file_offset=0):
    numpy = _numpy()
    if data.get_size() == 0:
        # Empty bytes have no address; an empty array needs none.
        array = numpy.empty(shape, dtype=typestr)
        array.flags.writeable = not readonly
        return array
    holder = _BytesView(data, typestr, shape, readonly)
    if reader_key is not None:
        holder.file_offset = file_offset
        _reader_views.setdefault(reader_key, weakref.WeakSet()).add(holder)
    return numpy.asarray(holder)


# A file open for reading is mapped whole. Should a writer then shrink the
# file, touching a page of that mapping past the new end would kill the
# process with SIGBUS: the library swaps such pages for anonymous memory
# only in the writer's own mappings. So the views of read-only mappings are
# remembered per file, and after every commit of a writer of the same file
# in this process their pages past the new end are swapped too (they then
# read as zeros). Writers in other processes cannot be covered this way.
_reader_views = {}   # (st_dev, st_ino) -> WeakSet of _BytesView


def _file_key(gfile):
    path = gfile.get_path()
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


_libc_mmap = None


def _anonymous_pages(address, length):
    global _libc_mmap
    import ctypes
    import mmap
    if _libc_mmap is None:
        libc = ctypes.CDLL(None, use_errno=True)
        _libc_mmap = libc.mmap
        _libc_mmap.restype = ctypes.c_void_p
        _libc_mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                               ctypes.c_int, ctypes.c_int, ctypes.c_long]
    map_fixed = 0x10   # Linux, every architecture
    result = _libc_mmap(address, length, mmap.PROT_READ,
                        mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | map_fixed, -1, 0)
    if result != address:
        raise OSError(ctypes.get_errno(), 'cannot detach a stale view')


def _detach_reader_views(key, size):
    """Swaps the pages past size of read-only views of file key."""
    holders = _reader_views.get(key)
    if not holders:
        _reader_views.pop(key, None)
        return
    if not sys.platform.startswith('linux'):
        return
    import mmap
    page = mmap.PAGESIZE
    cut = -(-size // page) * page
    for holder in list(holders):
        address = holder.__array_interface__['data'][0]
        begin = holder.file_offset
        end = begin + holder.bytes.get_size()
        if end <= cut:
            continue
        # The mapping starts at file offset 0, so pages line up with the
        # file's: the page holding max(begin, cut) lies wholly past cut.
        first = (address + max(begin, cut) - begin) // page * page
        last = -(-(address + end - begin) // page) * page
        _anonymous_pages(first, last - first)
        holders.discard(holder)


def _prepare(value, dtype=None, shape=None):
    """Turns a value into (dtype, shape, little-endian C-contiguous array)."""
    numpy = _numpy()
    array = numpy.asarray(value)

    if dtype is None:
        dtype = _dtype_of_numpy(array.dtype)
    else:
        dtype = _dtype_arg(dtype)
        if dtype in _NUMPY_TYPES:
            if array.dtype != numpy.dtype(_NUMPY_TYPES[dtype]):
                array = array.astype(_NUMPY_TYPES[dtype])
        elif array.dtype.name == _ML_DTYPES.get(dtype):
            pass
        elif array.dtype.kind in 'ui' and array.dtype.itemsize * 8 == \
                max(8, Safetensors.dtype_get_bits(dtype)):
            pass   # bit patterns (packed bytes for sub-byte types)
        elif dtype == _DT.BF16 and array.dtype.kind in 'fiub':
            array = _bf16_bits(array)
        elif dtype in _ML_DTYPES and array.dtype.kind in 'fiub':
            try:
                ml_dtypes = _ml_dtypes()
            except ImportError:
                raise TypeError('converting to %s needs the ml_dtypes package; or give '
                                'bit patterns as uint8' % Safetensors.dtype_to_string(dtype)) from None
            array = array.astype(getattr(ml_dtypes, _ML_DTYPES[dtype]))
        else:
            raise TypeError('cannot store %s as %s: give its bit patterns as an unsigned '
                            'integer array' % (array.dtype, Safetensors.dtype_to_string(dtype)))

    if array.dtype.byteorder == '>':
        array = array.astype(array.dtype.newbyteorder('<'))
    if not array.flags.c_contiguous:
        array = array.copy(order='C')

    if shape is None:
        if dtype in _SUB_BYTE:
            raise TypeError('%s tensors need an explicit shape'
                            % Safetensors.dtype_to_string(dtype))
        shape = array.shape
    shape = [int(d) for d in shape]
    return dtype, shape, array


def _check_name(name, what='tensor names'):
    if not isinstance(name, str):
        raise TypeError('%s are str, not %r' % (what, name))
    if '\0' in name:
        raise ValueError('embedded null character in %r' % (name,))
    return name


def _raw(array):
    """The bytes of a C-contiguous array as a flat uint8 array (no copy)."""
    return array.reshape(-1).view('|u1')


def _gbytes(raw):
    return GLib.Bytes.new(raw.tobytes())


# ---- per-file bookkeeping -----------------------------------------------------

class _Views:
    """What a File knows of the arrays it handed out.

    Writable views (mode "r+") are tracked weakly: after a commit, those of
    tensors that moved or went away become read-only, and after close all
    of them, so that stale writes cannot land in the wrong place. Arrays
    derived from them (slices, `.T`, ...) cannot be tracked: take fresh ones
    after a commit.

    Without a mapping, the array of a tensor of a writable file is a copy
    that lives here until it is written back by commit() or close() (only
    the pieces that changed) or dropped by rollback().
    """

    def __init__(self):
        self.tracked = {}   # id(weakref) -> (weakref, tensor, file offset)
        self.copies = {}    # tensor -> (array, raw uint8 view of it)
        self.closed = False
        self.key = None     # (st_dev, st_ino) of the file, once needed

    def track(self, array, tensor):
        tracked = self.tracked

        def forget(ref, key=None):
            tracked.pop(id(ref), None)

        ref = weakref.ref(array, forget)
        tracked[id(ref)] = (ref, tensor, tensor.get_file_offset())

    def revalidate(self, sf, closing=False):
        for key, (ref, tensor, offset) in list(self.tracked.items()):
            array = ref()
            if array is None:
                continue
            if closing or not _is_current(sf, tensor) or tensor.get_file_offset() != offset:
                array.flags.writeable = False
                del self.tracked[key]
        for tensor in list(self.copies):
            if closing or not _is_current(sf, tensor):
                array, _ = self.copies.pop(tensor)
                array.flags.writeable = False

    def flush(self, sf, cancellable=None):
        for tensor, (array, raw) in list(self.copies.items()):
            if not _is_current(sf, tensor):
                del self.copies[tensor]
                continue
            n_bytes = tensor.get_n_bytes()
            for offset in range(0, n_bytes, _CHUNK):
                length = min(_CHUNK, n_bytes - offset)
                mine = raw[offset:offset + length].tobytes()
                if tensor.read_range(offset, length, cancellable).get_data() != mine:
                    tensor.write(offset, mine, cancellable)

    def drop_copies(self):
        for array, _ in self.copies.values():
            array.flags.writeable = False
        self.copies.clear()


def _is_current(sf, tensor):
    """Whether tensor is still in sf's current transaction."""
    name = tensor.get_name()
    return sf.contains(name) and sf.lookup(name) is tensor


def _as_gfile(file):
    if isinstance(file, Gio.File):
        return file
    if isinstance(file, (str, bytes, os.PathLike)):
        return Gio.File.new_for_path(os.fsdecode(os.fspath(file)))
    raise TypeError('expected a path or a Gio.File, not %r' % (file,))


_OPEN_MODES = {
    'r': Safetensors.OpenFlags.NONE,
    'r+': Safetensors.OpenFlags.READ_WRITE,
    'w+': Safetensors.OpenFlags.READ_WRITE | Safetensors.OpenFlags.CREATE,
    'x+': Safetensors.OpenFlags.READ_WRITE | Safetensors.OpenFlags.CREATE,
}

# Errors that mean "this is not a (valid) safetensors file": "w+" truncates
# such files instead of failing, as open() would.
_NOT_SAFETENSORS = frozenset(range(int(Safetensors.Error.DUPLICATE_NAME) + 1))


# ---- Safetensors.File ---------------------------------------------------------

class File(Safetensors.File):
    """A .safetensors file; see the C documentation for the methods.

    The override adds :meth:`open` with Python file modes, the context
    manager protocol, :meth:`as_numpy` and :attr:`metadata`.
    """

    @classmethod
    def open(cls, file, mode='r', keep_free=False, use_mmap=True, cancellable=None):
        """Opens a .safetensors file.

        ``file`` is a path (str, bytes or os.PathLike) or a Gio.File.
        ``mode`` is one of

        - ``"r"``: read only;
        - ``"r+"``: read and edit in place (READ_WRITE), the file must exist;
        - ``"w+"``: create the file, or empty an existing one, and edit it;
        - ``"x+"``: create the file and edit it; fails with
          ``Gio.IOErrorEnum.EXISTS`` if it exists.

        ``keep_free=True`` commits with the keep-free policy (KEEP_FREE),
        ``use_mmap=False`` never maps the file (NO_MMAP).

        The introspected form ``open(Gio.File, Safetensors.OpenFlags,
        cancellable)`` is still accepted. Errors are ``GLib.Error``.
        """
        if not isinstance(mode, str):
            # open(file, flags, cancellable): the constructor as introspected.
            if keep_free is None or isinstance(keep_free, Gio.Cancellable):
                cancellable = keep_free
            return _gi_file_open(_as_gfile(file), Safetensors.OpenFlags(int(mode)), cancellable)

        try:
            flags = _OPEN_MODES[mode]
        except KeyError:
            raise ValueError('invalid mode %r: expected "r", "r+", "w+" or "x+"' % (mode,)) from None
        if keep_free:
            if mode == 'r':
                raise ValueError('keep_free needs a writable mode')
            flags |= Safetensors.OpenFlags.KEEP_FREE
        if not use_mmap:
            flags |= Safetensors.OpenFlags.NO_MMAP
        gfile = _as_gfile(file)

        if mode == 'x+':
            gfile.create(Gio.FileCreateFlags.NONE, cancellable).close(cancellable)
            try:
                return _gi_file_open(gfile, flags, cancellable)
            except GLib.Error:
                gfile.delete(None)
                raise

        if mode != 'w+':
            return _gi_file_open(gfile, flags, cancellable)

        try:
            sf = _gi_file_open(gfile, flags, cancellable)
        except GLib.Error as e:
            if not (e.matches(Safetensors.error_quark(), e.code) and e.code in _NOT_SAFETENSORS):
                raise
            # Not a safetensors file: start from scratch, like open(..., "w").
            path = gfile.get_path()
            if path is None:
                raise
            os.truncate(path, 0)
            return _gi_file_open(gfile, flags, cancellable)
        # Emptied through a transaction, so that a crash leaves the old
        # content and a writer holding the file is not overrun.
        if sf.get_n_tensors() > 0 or sf.get_metadata_keys():
            for name in sf.get_tensor_names():
                sf.remove_tensor(name)
            for key in sf.get_metadata_keys():
                sf.set_metadata_value(key, None)
            Safetensors.File.compact(sf, cancellable)
        return sf

    # -- bookkeeping --

    def _views(self):
        try:
            return self.__views
        except AttributeError:
            self.__views = _Views()
            return self.__views

    def _writable(self):
        return bool(self.get_flags() & Safetensors.OpenFlags.READ_WRITE)

    # -- transactions: keep views in step --

    def commit(self, cancellable=None):
        self._views().flush(self, cancellable)
        try:
            return super().commit(cancellable)
        finally:
            self._after_commit()

    def commit_async(self, io_priority=GLib.PRIORITY_DEFAULT, cancellable=None,
                     callback=None, *user_data):
        self._views().flush(self, cancellable)
        return super().commit_async(io_priority, cancellable, callback, *user_data)

    def commit_finish(self, result):
        try:
            return super().commit_finish(result)
        finally:
            self._after_commit()

    def compact(self, cancellable=None):
        self._views().flush(self, cancellable)
        try:
            return super().compact(cancellable)
        finally:
            self._after_commit()

    def rollback(self):
        super().rollback()
        self._views().drop_copies()
        self._after_commit()

    def close(self, cancellable=None):
        views = self._views()
        if self._writable() and not views.closed:
            views.flush(self, cancellable)
        result = super().close(cancellable)
        views.closed = True
        self._after_commit(closing=True)
        return result

    # -- context manager --

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        # Clean exit: close() writes back, commits and unlocks. Otherwise,
        # or if that fails, the transaction is dropped and the lock released.
        if exc_type is None:
            try:
                self.close(None)
                return False
            except BaseException:
                self.rollback()
                self.close(None)
                raise
        self.rollback()
        self.close(None)
        return False

    # -- mappings --

    def as_numpy(self, dtypes='bits'):
        """A MutableMapping of tensor name -> numpy.ndarray.

        Values are zero-copy views of the file: read-only for a file open
        for reading, writable for one open with "r+" (writes land in the
        file; without a mapping they are copies written back by commit()).
        Assigning adds or replaces a tensor, ``del`` removes one; both are
        staged until commit(). Iteration follows the file's order.

        NumPy has no BF16 and F8 types: with ``dtypes="bits"`` (default)
        they come back as uint16 / uint8 bit patterns; ``"float32"`` decodes
        them into read-only float32 copies; ``"ml_dtypes"`` gives views with
        the ml_dtypes package's types. F4 and F6 are always packed bytes.
        """
        if dtypes not in _DTYPE_MODES:
            raise ValueError('dtypes must be one of %s' % ', '.join(map(repr, _DTYPE_MODES)))
        if dtypes == 'ml_dtypes':
            _ml_dtypes()
        return TensorMapping(self, dtypes)

    @property
    def metadata(self):
        """The `__metadata__` entries as a MutableMapping of str -> str."""
        return MetadataMapping(self)

    # Raw access for the mappings.

    def _array(self, name, dtypes):
        try:
            tensor = self.lookup(name)
        except GLib.Error as e:
            if e.matches(Safetensors.error_quark(), Safetensors.Error.TENSOR_NOT_FOUND):
                raise KeyError(name) from None
            raise
        dtype = tensor.get_dtype()
        shape = _shape_of(tensor)
        views = self._views()
        writable = self._writable() and not views.closed

        if writable and not self.is_mapped():
            cached = views.copies.get(tensor)
            if cached is None:
                base = self._bits_array(tensor, dtype, shape, readonly=False)
                views.copies[tensor] = cached = (base, _raw(base))
            base = cached[0]
        else:
            base = self._bits_array(tensor, dtype, shape, readonly=not writable)

        array = _typed(base, dtype, dtypes)
        if writable and self.is_mapped() and array.flags.writeable:
            views.track(array, tensor)
        return array

    def _bits_array(self, tensor, dtype, shape, readonly):
        typestr = _NUMPY_TYPES.get(dtype) or _BITS_TYPES[dtype]
        if dtype in _SUB_BYTE:
            shape = _bits_shape(dtype, shape, tensor.get_n_bytes())
        key = None
        if readonly and self.is_mapped():
            key = self._key()
        return _array_over(tensor.get_bytes(None), typestr, shape, readonly,
                           key, tensor.get_file_offset())

    def _key(self):
        views = self._views()
        if views.key is None:
            views.key = _file_key(self.get_file())
        return views.key

    def _after_commit(self, closing=False):
        self._views().revalidate(self, closing)
        if self._writable():
            key = self._key()
            if key is not None:
                _detach_reader_views(key, self.get_size())

    def _store(self, items):
        """Adds or replaces tensors from prepared (name, dtype, shape, array)."""
        for name, dtype, shape, array in items:
            raw = _raw(array)
            small = raw.nbytes <= _SMALL
            data = _gbytes(raw) if small else None
            if self.contains(name):
                self.replace_tensor(name, dtype, shape, data)
            else:
                self.add_tensor(name, dtype, shape, data)
            if not small:
                tensor = self.lookup(name)
                for offset in range(0, raw.nbytes, _CHUNK):
                    tensor.write(offset, raw[offset:offset + _CHUNK].tobytes(), None)


File = override(File)
__all__.append('File')


def _typed(base, dtype, dtypes):
    if dtypes == 'bits' or dtype not in _ML_DTYPES:
        return base
    if dtypes == 'float32':
        return _decode_float32(base, dtype)
    return base.view(getattr(_ml_dtypes(), _ML_DTYPES[dtype]))


class TensorMapping(collections.abc.MutableMapping):
    """The tensors of a :class:`File` as NumPy arrays; see File.as_numpy()."""

    def __init__(self, sf, dtypes='bits'):
        self.file = sf
        self.dtypes = dtypes

    def __getitem__(self, name):
        if not isinstance(name, str):
            raise KeyError(name)
        return self.file._array(name, self.dtypes)

    def __setitem__(self, name, value):
        self.set(name, value)

    def set(self, name, value, dtype=None, shape=None):
        """Adds or replaces a tensor, with an explicit dtype if given.

        ``dtype`` is a Safetensors.DType or its name. Values are converted as
        NumPy's astype() would; for BF16 a float array is rounded to nearest
        even, an unsigned 16-bit array is taken as bit patterns. F4 and F6
        take packed bytes (uint8) and need ``shape``.
        """
        self.file._store([(_check_name(name),) + _prepare(value, dtype, shape)])

    def update(self, other=(), /, **kwargs):
        """Adds or replaces several tensors in one go: every value is
        converted first, so that a bad one leaves the file unchanged."""
        items = dict(other, **kwargs)
        prepared = [(_check_name(name),) + _prepare(value) for name, value in items.items()]
        self.file._store(prepared)

    def __delitem__(self, name):
        if not isinstance(name, str) or not self.file.contains(name):
            raise KeyError(name)
        self.file.remove_tensor(name)

    def rename(self, old_name, new_name):
        """Renames a tensor (only the header changes)."""
        self.file.rename_tensor(old_name, _check_name(new_name))

    def __iter__(self):
        return iter(self.file.get_tensor_names())

    def __len__(self):
        return self.file.get_n_tensors()

    def __contains__(self, name):
        return isinstance(name, str) and self.file.contains(name)

    def tensor(self, name):
        """The Safetensors.Tensor of that name (dtype, shape, offsets)."""
        return self.file.lookup(name)

    def __repr__(self):
        return '<%s of %s: %s>' % (type(self).__name__,
                                   self.file.get_file().get_parse_name(),
                                   ', '.join(self))


__all__.append('TensorMapping')


class MetadataMapping(collections.abc.MutableMapping):
    """The `__metadata__` of a :class:`File` as a mapping of str -> str;
    changes are staged until commit()."""

    def __init__(self, sf):
        self.file = sf

    def __getitem__(self, key):
        value = self.file.get_metadata_value(key) if isinstance(key, str) else None
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value):
        if not isinstance(value, str):
            raise TypeError('metadata values are str, not %r' % (value,))
        _check_name(key, 'metadata keys')
        _check_name(value, 'metadata values')
        self.file.set_metadata_value(key, value)

    def __delitem__(self, key):
        self[key]
        self.file.set_metadata_value(key, None)

    def __iter__(self):
        return iter(self.file.get_metadata_keys())

    def __len__(self):
        return len(self.file.get_metadata_keys())

    def __repr__(self):
        return repr(dict(self))


__all__.append('MetadataMapping')


# ---- the reference implementation's NumPy API ---------------------------------

def _check_framework(framework):
    if framework not in ('np', 'numpy'):
        raise ValueError('framework %r is not supported: safetensors-glib gives NumPy '
                         'arrays (framework="np")' % (framework,))


def _index_slice(key):
    """A Safetensors.Slice for a NumPy basic index, or None for others."""
    numpy = _numpy()
    if not isinstance(key, tuple):
        key = (key,)
    result = Safetensors.Slice.new()
    none = Safetensors.SLICE_NONE
    for item in key:
        if item is Ellipsis:
            result.add_ellipsis()
        elif isinstance(item, slice):
            bounds = [none if v is None else v for v in (item.start, item.stop)]
            step = 1 if item.step is None else item.step
            if not all(isinstance(v, (int, numpy.integer)) for v in bounds + [step]):
                return None
            result.add_range(int(bounds[0]), int(bounds[1]), int(step))
        elif isinstance(item, (int, numpy.integer)) and not isinstance(item, bool):
            result.add_index(int(item))
        else:
            return None
    return result


class SafeSlice:
    """A tensor that reads only what is indexed, as ``safe_open().get_slice()``."""

    def __init__(self, sf, tensor):
        self._file = sf
        self._tensor = tensor

    def get_shape(self):
        return list(_shape_of(self._tensor))

    def get_dtype(self):
        return Safetensors.dtype_to_string(self._tensor.get_dtype())

    def __len__(self):
        shape = _shape_of(self._tensor)
        if not shape:
            raise TypeError('len() of a 0-d tensor')
        return shape[0]

    def __getitem__(self, key):
        sf, tensor = self._file, self._tensor
        dtype = tensor.get_dtype()
        selection = _index_slice(key) if dtype not in _SUB_BYTE else None
        if selection is None:
            # Advanced indexing (or packed types): index the whole view.
            return sf._bits_array(tensor, dtype, _shape_of(tensor), True)[key]
        try:
            data, shape = tensor.read_slice(selection, None)
        except GLib.Error as e:
            if e.matches(Safetensors.error_quark(), Safetensors.Error.INVALID_SLICE):
                raise IndexError(e.message) from None
            raise
        # A contiguous selection of a mapped file is a slice of the mapping:
        # remember it like any view of a read-only mapping.
        key, offset = None, 0
        if sf.is_mapped() and data.get_size() > 0:
            delta = (Safetensors.bytes_get_address(data) -
                     Safetensors.bytes_get_address(tensor.get_bytes(None)))
            if 0 <= delta < tensor.get_n_bytes():
                key, offset = sf._key(), tensor.get_file_offset() + delta
        return _array_over(data, _NUMPY_TYPES.get(dtype) or _BITS_TYPES[dtype],
                           () if shape is None else tuple(shape), True, key, offset)


__all__.append('SafeSlice')


class safe_open:
    """Opens a file for reading like ``safetensors.safe_open(path, "np")``.

    Tensors come back as read-only zero-copy NumPy views of the mapping
    (``.copy()`` one to modify it); BF16 and F8 as bit patterns.
    """

    def __init__(self, filename, framework='np', device='cpu', use_mmap=True):
        _check_framework(framework)
        if device != 'cpu':
            raise ValueError('device %r is not supported: NumPy arrays live on the CPU'
                             % (device,))
        self._file = File.open(filename, 'r', use_mmap=use_mmap)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._file.close(None)
        return False

    def keys(self):
        """The tensor names, sorted."""
        return sorted(self._file.get_tensor_names())

    def offset_keys(self):
        """The tensor names in the order of their data in the file."""
        return self._file.get_tensor_names()

    def metadata(self):
        """The `__metadata__` dict, or None if the file has none."""
        return self._file.get_metadata() or None

    def get_tensor(self, name):
        return self._file._array(name, 'bits')

    def get_slice(self, name):
        return SafeSlice(self._file, self._file.lookup(name))


__all__.append('safe_open')


def _writer_for(tensors, metadata):
    if metadata is not None:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError('metadata must be a dict of str to str')
            _check_name(key)
            _check_name(value)
    writer = Safetensors.Writer.new(Safetensors.WriterFlags.NONE)
    prepared = []
    for name, value in tensors.items():
        _check_name(name)
        dtype, shape, array = _prepare(value)
        prepared.append((name, dtype, shape, _raw(array)))
    for key, value in (metadata or {}).items():
        writer.set_metadata_value(key, value)
    return writer, prepared


def save_file(tensors, filename, metadata=None):
    """Writes a dict of arrays to a new file (replaced atomically), with the
    bytes the reference writer produces."""
    writer, prepared = _writer_for(tensors, metadata)
    for name, dtype, shape, raw in prepared:
        writer.add_tensor(name, dtype, shape, None)
    writer.begin(_as_gfile(filename), None)
    try:
        for name, dtype, shape, raw in prepared:
            for offset in range(0, raw.nbytes, _CHUNK):
                writer.write_chunk(name, raw[offset:offset + _CHUNK].tobytes(), None)
        writer.finish(None)
    except BaseException:
        writer.abort()
        raise


def save(tensors, metadata=None):
    """The bytes of a .safetensors file holding tensors."""
    writer, prepared = _writer_for(tensors, metadata)
    for name, dtype, shape, raw in prepared:
        writer.add_tensor(name, dtype, shape, _gbytes(raw))
    stream = Gio.MemoryOutputStream.new_resizable()
    writer.begin_stream(stream, None)
    writer.finish(None)
    stream.close(None)
    return stream.steal_as_bytes().get_data()


def load_file(filename, device='cpu'):
    """A dict of read-only zero-copy arrays of every tensor of a file."""
    with safe_open(filename, 'np', device) as f:
        return {name: f.get_tensor(name) for name in f.offset_keys()}


def load(data):
    """A dict of the tensors of a .safetensors file given as bytes, validated
    by the strict reader. The arrays are read-only."""
    data = bytes(data)
    try:
        fd = os.memfd_create('safetensors', os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            _write_all(fd, data)
            return load_file('/proc/self/fd/%d' % fd)
        finally:
            os.close(fd)
    with tempfile.NamedTemporaryFile(suffix='.safetensors') as tmp:
        tmp.write(data)
        tmp.flush()
        return load_file(tmp.name)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


__all__ += ['save_file', 'save', 'load_file', 'load']
