"""Fastfood's Walsh-Hadamard passes in C on the CPU (``fastfood_native.c``), built on first use.

The C file is compiled once per machine with the system's C compiler (``$CC``, else ``cc``) into a
shared library cached under ``$XDG_CACHE_HOME/idim/native`` (``~/.cache/idim/native``), named by a hash
of the source, the compiler and this CPU.  A machine without a compiler keeps idim's torch code, which
computes the same transform up to rounding (the C code sums in another order); so does
``IDIM_NATIVE=0``.  ``IDIM_NATIVE=1`` makes a failed build an error instead.  ``status()`` says which
code runs and why; ``idim bench step --json`` reports it.

The C passes run on torch's own OpenMP thread pool with torch's thread count.  Their results do not
depend on that count: the adjoint adds its per-piece partial sums in piece order.
"""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where the passes run: the app's estimate asks expected() without it
    import torch

SOURCE = Path(__file__).with_name("fastfood_native.c")
_LOCK = threading.Lock()
_STATE: dict = {}
# tried in order: the first that compiles is kept (no OpenMP: one thread; no -march=native: portable code)
FLAG_SETS = (["-O3", "-march=native", "-fopenmp"], ["-O3", "-fopenmp"], ["-O3", "-march=native"], ["-O3"])
# the adjoint's partial sums (one row of L floats per piece) take at most this many bytes at a time
PARTIAL_BYTES = 1 << 26


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "idim" / "native"


def _cpu_key() -> str:
    """What the compiled code depends on besides its source: the machine and its instruction set."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = line
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()} {flags}"


def _compiler() -> str | None:
    cc = os.environ.get("CC") or "cc"
    return shutil.which(cc)


def _build() -> tuple[ctypes.CDLL | None, str]:
    try:
        return _build_with_cc()
    except OSError as e:  # no writable cache directory, a full disk ...: training goes on in torch
        return None, f"the C passes could not be built ({e.strerror or e}): idim's torch code runs instead"


def _build_with_cc() -> tuple[ctypes.CDLL | None, str]:
    cc = _compiler()
    if cc is None:
        return None, "no C compiler (cc) on this machine: idim's torch code runs instead"
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"the C compiler {cc} did not answer ({e}): idim's torch code runs instead"
    src = SOURCE.read_bytes()
    key = hashlib.sha256(src + version.encode() + _cpu_key().encode()).hexdigest()[:16]
    out_dir = _cache_dir()
    out = out_dir / f"fastfood-{key}.so"
    if not out.exists():
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            out_dir = Path(tempfile.gettempdir()) / f"idim-native-{os.getuid() if hasattr(os, 'getuid') else 0}"
            out_dir.mkdir(parents=True, exist_ok=True)
            out = out_dir / out.name
    if not out.exists():
        errors = []
        for flags in FLAG_SETS:
            # a private name, then an atomic rename: two processes that build at once do not clash
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=out_dir)
            os.close(fd)
            try:  # the compiler's own failures are said below; a directory that fails is _build's
                r = subprocess.run([cc, *flags, "-shared", "-fPIC", str(SOURCE), "-o", tmp],
                                   capture_output=True, text=True, timeout=300)
            except (OSError, subprocess.SubprocessError) as e:
                r = None
                errors.append(str(e))
            if r is not None and r.returncode == 0:
                os.replace(tmp, out)
                break
            if r is not None:
                lines = (r.stderr or r.stdout).strip().splitlines()
                errors.append(lines[-1] if lines else f"exit status {r.returncode}")
            os.unlink(tmp)
        else:
            return None, f"{cc} could not build {SOURCE.name} ({errors[0]}): idim's torch code runs instead"
    try:
        lib = ctypes.CDLL(str(out))
    except OSError as e:
        return None, f"the built library {out} did not load ({e}): idim's torch code runs instead"
    i64, f32p, i64p = ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p
    lib.idim_fwht_rows.argtypes = [f32p, i64, i64, ctypes.c_int]
    lib.idim_fwht_rows.restype = None
    lib.idim_ff_theta.argtypes = [f32p, f32p, f32p, f32p, i64, i64, i64p, i64p, f32p, ctypes.c_int]
    lib.idim_ff_theta.restype = ctypes.c_int
    lib.idim_ff_grad.argtypes = [f32p, i64, i64p, ctypes.c_void_p, f32p, i64, i64, i64p, i64p, f32p, f32p, f32p,
                                 f32p, i64, ctypes.c_int]
    lib.idim_ff_grad.restype = ctypes.c_int
    _STATE["path"] = str(out)
    return lib, f"C passes built with {Path(cc).name}"


def library() -> ctypes.CDLL | None:
    """The loaded C library, built on first use; None where it cannot be (see status())."""
    if "lib" not in _STATE:
        with _LOCK:
            if "lib" not in _STATE:
                want = os.environ.get("IDIM_NATIVE", "").strip().lower()
                if want in ("0", "false", "no", "off"):
                    lib, why = None, "IDIM_NATIVE=0: idim's torch code runs"
                else:
                    lib, why = _build()
                    if lib is None and want in ("1", "true", "yes", "on"):
                        raise RuntimeError(f"IDIM_NATIVE=1 but {why.split(':')[0]}")
                _STATE["why"] = why
                _STATE["lib"] = lib
    return _STATE["lib"]


def expected() -> bool:
    """Whether the C passes will run on the CPU, without building them or importing torch (for estimates):
    already loaded, or not switched off and a C compiler is there."""
    if "lib" in _STATE:
        return _STATE["lib"] is not None
    if os.environ.get("IDIM_NATIVE", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return _compiler() is not None


def status() -> dict:
    """{"native": whether the C passes run, "why": one line, "library": the built file or None} (builds the
    library when not yet tried)."""
    lib = library()
    return {"native": lib is not None, "why": _STATE["why"], "library": _STATE.get("path") if lib else None}


@contextlib.contextmanager
def off():
    """idim's torch code inside this block, C library or not (benchmarks and tests compare the two)."""
    _STATE["off"] = _STATE.get("off", 0) + 1
    try:
        yield
    finally:
        _STATE["off"] -= 1


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the C code can take these tensors: float32 on the CPU, no autograd through them."""
    import torch

    if _STATE.get("off"):
        return False
    if any(t.device.type != "cpu" or t.dtype != torch.float32 for t in tensors):
        return False
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return False
    return library() is not None


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


def fwht_rows(x: torch.Tensor) -> torch.Tensor:
    """A new (n, L) tensor: the Walsh-Hadamard transform of each row of x (float32, CPU)."""
    import torch

    n, L = x.shape
    y = x.contiguous().clone() if x.is_contiguous() else x.contiguous()
    library().idim_fwht_rows(_ptr(y), n, L, torch.get_num_threads())
    return y


def _pieces(pieces, scales):
    import torch

    a = torch.tensor([p[0] for p in pieces], dtype=torch.int64)
    b = torch.tensor([p[1] for p in pieces], dtype=torch.int64)
    s = torch.tensor([scales[p[2]] for p in pieces], dtype=torch.float32)
    return a, b, s


def ff_theta(G: torch.Tensor, u: torch.Tensor, theta0: torch.Tensor, theta: torch.Tensor, pieces, scales) -> None:
    """theta[a:b] = theta0[a:b] + scales[k] * (H (G_blk * u)) over each piece (a, b, k), written into theta."""
    import torch

    L = G.shape[1]
    a, b, s = _pieces(pieces, scales)
    u = u.contiguous()
    rc = library().idim_ff_theta(_ptr(G), _ptr(u), _ptr(theta0), _ptr(theta), L, len(pieces), _ptr(a), _ptr(b),
                                 _ptr(s), torch.get_num_threads())
    if rc:
        raise MemoryError("out of memory for Fastfood's scratch rows")


def ff_grad(G: torch.Tensor, g: torch.Tensor, u: torch.Tensor | None, pieces, scales, nscales: int):
    """(sum over pieces of scales[k] * sum_blk G_blk * H g_blk as an L-vector, per-scale dots with u or None)
    for the flat gradient g (D floats)."""
    return _ff_grad(G, [g], [g.numel()], u, pieces, scales, nscales, G.shape[1])


def ff_grad_parts(G: torch.Tensor, parts: list, sizes: list[int], u, pieces, scales, nscales: int):
    """ff_grad with g given as consecutive parts of the given sizes (contiguous float32 CPU tensors, or None
    for zeros), read where they are."""
    return _ff_grad(G, parts, sizes, u, pieces, scales, nscales, G.shape[1])


def _ff_grad(G, parts, sizes, u, pieces, scales, nscales, L):
    import torch

    for p, n in zip(parts, sizes):
        if p is not None and (p.numel() != n or not p.is_contiguous() or p.dtype != torch.float32
                              or p.device.type != "cpu"):
            raise ValueError("ff_grad needs contiguous float32 CPU parts of the stated sizes")
    start = torch.zeros(len(parts) + 1, dtype=torch.int64)
    start[1:] = torch.tensor(sizes, dtype=torch.int64).cumsum(0)
    ptrs = (ctypes.c_void_p * len(parts))(*[p.data_ptr() if p is not None else None for p in parts])
    a, b, s = _pieces(pieces, scales)
    acc = torch.zeros(L, dtype=torch.float32)
    pdots = torch.zeros(len(pieces), dtype=torch.float64)
    group = max(1, min(len(pieces), PARTIAL_BYTES // (4 * L)))
    partial = torch.empty(group, L, dtype=torch.float32)
    uc = u.contiguous() if u is not None else None
    rc = library().idim_ff_grad(_ptr(G), len(parts), _ptr(start), ptrs, _ptr(uc) if uc is not None else None, L,
                                len(pieces), _ptr(a), _ptr(b), _ptr(s), _ptr(acc), _ptr(pdots), _ptr(partial), group,
                                torch.get_num_threads())
    if rc:
        raise MemoryError("out of memory for Fastfood's scratch rows")
    if u is None:
        return acc, None
    dots = torch.zeros(nscales, dtype=torch.float64)
    dots.index_add_(0, torch.tensor([p[2] for p in pieces], dtype=torch.int64), pdots)
    return acc, dots
