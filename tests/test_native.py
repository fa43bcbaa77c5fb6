"""Fastfood's passes in C (idim_core/native.py, fastfood_native.c) against idim's torch code and the matrix."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from idim_core import native
from idim_core.projection import FastfoodProjection, fwht

ROOT = Path(__file__).resolve().parent.parent
HAVE_CC = shutil.which(os.environ.get("CC") or "cc") is not None
needs_cc = pytest.mark.skipif(not HAVE_CC, reason="no C compiler here: idim runs its torch code (tested elsewhere)")


def _hadamard(n):
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


@needs_cc
def test_the_library_builds_here_and_says_so():
    st = native.status()
    assert st["native"] is True, st
    assert st["why"].startswith("C passes built with") and "/" not in st["why"]  # no server path in a run's log
    assert Path(st["library"]).is_file()


@needs_cc
@pytest.mark.parametrize("L", [1 << k for k in range(15)])
def test_c_transform_matches_the_hadamard_matrix(L):
    x = torch.randn(5, L)
    assert native.usable(x)
    y = fwht(x)  # float32 on the CPU: the C butterflies
    ref = (x.double() @ _hadamard(L)).float()
    assert torch.allclose(y, ref, rtol=1e-5, atol=1e-5 * L ** 0.5)
    with native.off():
        assert torch.allclose(fwht(x), y, rtol=1e-5, atol=1e-5 * L ** 0.5)
    assert torch.equal(x, x.clone())  # the input is left alone


@needs_cc
def test_c_transform_keeps_shapes_and_leaves_autograd_and_float64_to_torch():
    x = torch.randn(2, 3, 64)
    assert fwht(x).shape == (2, 3, 64)
    assert torch.allclose(fwht(x[:, 1]), fwht(x)[:, 1], atol=1e-5)  # a non-contiguous view
    assert not native.usable(torch.randn(4, dtype=torch.float64))
    xr = torch.randn(8, requires_grad=True)
    assert not native.usable(xr)
    fwht(xr).sum().backward()  # the torch path, differentiable
    assert xr.grad is not None


def _both(p, z, theta0, g, pieces, scales, dots=True):
    out = {}
    for name in ("C", "torch"):
        ctx = native.off() if name == "torch" else _Null()
        with ctx:
            th = p.fused_theta(z, theta0, pieces, scales)
            gz, dd = p.fused_grad(g, z, pieces, scales, want_dots=dots)
        out[name] = (th, gz, dd)
    return out


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


@needs_cc
@pytest.mark.parametrize("d,D", [(1, 1), (3, 5), (4, 37), (2, 300_001), (8, 70_000), (100, 5000), (1000, 300_001),
                                 (2049, 100_000), (5000, 40_000),
                                 (300, 2 * FastfoodProjection.CHUNK + 17)])
def test_c_passes_agree_with_the_torch_code(d, D):
    p = FastfoodProjection(d, D, seed=7)
    z, theta0, g = torch.randn(d), torch.randn(D), torch.randn(D)
    # segments that start and end inside Fastfood blocks, as SAID's per-layer segments do
    cuts = sorted({0, D, D // 3, D // 3 + 1, D // 2, max(0, D - 7)})
    segs = [(a, b, k % 3) for k, (a, b) in enumerate(zip(cuts, cuts[1:])) if b > a]
    scales = [0.5, -1.25, 2.0]
    pieces = p.pieces(segs)
    # theta0 = 0 first: y = scale_k * (P z) itself, with no rounding against theta0's larger entries
    out = _both(p, z, torch.zeros(D), g, pieces, scales)
    (yc, gc, dc), (yt, gt, dt) = out["C"], out["torch"]
    assert float((yc - yt).abs().max() / yt.abs().max().clamp_min(1e-12)) < 1e-5
    assert float((gc - gt).abs().max() / gt.abs().max().clamp_min(1e-12)) < 1e-5
    assert dc.dtype == dt.dtype and dc.shape == dt.shape
    assert torch.allclose(dc, dt, rtol=1e-4, atol=1e-4 * float(dt.abs().max()) + 1e-9)
    # with theta0: theta0 + y, rounded once (a fused multiply-add may round differently: within 2 ulps)
    tc = p.fused_theta(z, theta0, pieces, scales)
    want = theta0 + yc
    assert bool(((tc - want).abs() <= 2.4e-7 * (theta0.abs() + yc.abs()) + 1e-12).all())
    # and the adjoint is the adjoint: <P z, g> over the scaled segments = <z, P^T (s g)>
    lhs = float((yc.double() * g.double()).sum())
    rhs = float((z.double() * gc.double()).sum())
    assert lhs == pytest.approx(rhs, rel=1e-4, abs=1e-6 * (abs(lhs) + 1))


@needs_cc
def test_c_adjoint_without_dots():
    p = FastfoodProjection(50, 4000, seed=1)
    z, g = torch.randn(50), torch.randn(4000)
    gz, dots = p.fused_grad(g, z, p.pieces([(0, 4000, 0)]), [1.0], want_dots=False)
    assert dots is None
    with native.off():
        gt, _ = p.fused_grad(g, z, p.pieces([(0, 4000, 0)]), [1.0], want_dots=False)
    assert torch.allclose(gz, gt, rtol=1e-5, atol=1e-5 * float(gt.abs().max()))


@needs_cc
def test_c_results_do_not_depend_on_the_number_of_threads():
    p = FastfoodProjection(1000, 3 * FastfoodProjection.CHUNK + 1234, seed=3)
    D = p.D
    z, theta0, g = torch.randn(1000), torch.randn(D), torch.randn(D)
    pieces = p.pieces([(0, D // 2, 0), (D // 2, D, 1)])
    before = torch.get_num_threads()
    got = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            th = p.fused_theta(z, theta0, pieces, [1.0, 0.5])
            gz, dots = p.fused_grad(g, z, pieces, [1.0, 0.5], want_dots=True)
            got.append((th, gz, dots))
    finally:
        torch.set_num_threads(before)
    for th, gz, dots in got[1:]:
        assert torch.equal(th, got[0][0]) and torch.equal(gz, got[0][1]) and torch.equal(dots, got[0][2])


def _status_in(env_extra: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), **env_extra}
    for k, v in env_extra.items():
        if v is None:
            env.pop(k)
    code = "import json; from idim_core import native; print(json.dumps(native.status()))"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@needs_cc
def test_a_fresh_cache_builds_once_and_reuses_it(tmp_path):
    r = _status_in({"IDIM_NATIVE": None}, tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["native"] is True
    built = sorted((tmp_path / "cache" / "idim" / "native").iterdir())
    assert len(built) == 1 and built[0].suffix == ".so", built  # no temporary file left behind
    mtime = built[0].stat().st_mtime_ns
    r = _status_in({"IDIM_NATIVE": None}, tmp_path)
    assert json.loads(r.stdout)["native"] is True
    assert sorted((tmp_path / "cache" / "idim" / "native").iterdir()) == built
    assert built[0].stat().st_mtime_ns == mtime


def test_without_a_compiler_or_when_switched_off_the_torch_code_runs(tmp_path):
    r = _status_in({"IDIM_NATIVE": "0"}, tmp_path)
    assert json.loads(r.stdout) == {"native": False, "why": "IDIM_NATIVE=0: idim's torch code runs", "library": None}
    r = _status_in({"IDIM_NATIVE": None, "CC": "no-such-compiler-here"}, tmp_path)
    st = json.loads(r.stdout)
    assert st["native"] is False and st["why"].startswith("no C compiler"), st
    failing = tmp_path / "bad-cc"
    failing.write_text("#!/bin/sh\necho 'cc: error: this compiler always fails' >&2\nexit 1\n")
    failing.chmod(0o755)
    r = _status_in({"IDIM_NATIVE": None, "CC": str(failing)}, tmp_path)
    st = json.loads(r.stdout)
    assert st["native"] is False and "could not build" in st["why"] and "always fails" in st["why"], st
    assert not any((tmp_path / "cache" / "idim" / "native").iterdir())  # its failed outputs are removed


def test_idim_native_1_makes_a_missing_compiler_an_error(tmp_path):
    r = _status_in({"IDIM_NATIVE": "1", "CC": "no-such-compiler-here"}, tmp_path)
    assert r.returncode != 0
    assert "RuntimeError" in r.stderr and "IDIM_NATIVE=1" in r.stderr, r.stderr[-2000:]  # the setting named


def test_training_falls_back_to_the_torch_code_and_still_runs(tmp_path):
    """A classic run with the C code switched off trains and records its trials like any other."""
    env = {**os.environ, "IDIM_NATIVE": "0", "IDIM_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "idim_core.cli", "run", "--model", "mlp", "--task", "digits",
                        "--dims", "10,100", "--seeds", "1", "--json"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["status"] == "done"
    from idim_core.store import Store

    said = [e["message"] for e in Store(tmp_path / "home").events(out["run_id"]) if "Fastfood" in e["message"]]
    assert said == ["Fastfood's passes: IDIM_NATIVE=0: idim's torch code runs"]  # the run's log says which code ran


@needs_cc
def test_bench_native_passes_runs():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "native_passes.py"), "--D", "50000", "--dims", "100,3000",
                        "--repeats", "3"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("forward") == 2 and "torch" in r.stdout and "apart by" in r.stdout


@needs_cc
def test_the_adjoint_reads_per_parameter_gradients_in_place_with_the_same_result():
    """Backward hands the model's per-parameter gradients to the C code as they are (no flat copy first):
    the same bits as the flat gradient, and the torch code's figure up to rounding (its copy made lazily)."""
    sizes = [5, 1000, 1, 70_000, 33, 2 * FastfoodProjection.CHUNK, 999]
    D = sum(sizes)
    p = FastfoodProjection(300, D, seed=5)
    z = torch.randn(300)
    parts = [torch.randn(n) for n in sizes]
    parts[2] = None  # a parameter with no gradient: zeros
    flat = torch.cat([q if q is not None else torch.zeros(n) for q, n in zip(parts, sizes)])
    segs = [(0, 1006, 0), (1006, D - 999, 1), (D - 999, D, 2)]
    pieces, scales = p.pieces(segs), [1.5, 0.25, -1.0]
    made = []

    def buf():
        made.append(1)
        return torch.empty(D)

    gz, dots = p.fused_grad_parts(parts, sizes, z, pieces, scales, True, buf=buf)
    assert not made  # the C code needed no D-sized copy
    gz_flat, dots_flat = p.fused_grad(flat, z, pieces, scales, True)
    assert torch.equal(gz, gz_flat) and torch.equal(dots, dots_flat)
    with native.off():
        gt, dt = p.fused_grad_parts(parts, sizes, z, pieces, scales, True, buf=buf)
    assert made == [1]
    assert torch.allclose(gz, gt, rtol=1e-5, atol=1e-5 * float(gt.abs().max()))
    assert torch.allclose(dots, dt, rtol=1e-4, atol=1e-4 * float(dt.abs().max()))
    with pytest.raises(ValueError, match="stated sizes"):
        native.ff_grad_parts(p.G, parts, [n + 1 for n in sizes], None, pieces, scales, 3)


def test_the_estimate_counts_the_faster_c_passes_only_where_they_run(monkeypatch):
    from idim_core.runconfig import RunConfig
    from idim_core.ui import estimates

    classic, lm = RunConfig.from_stored({"model": "mlp"}), RunConfig.from_stored({"model": "minilm-l6"})
    monkeypatch.setitem(native._STATE, "lib", object())  # the C library loaded
    assert estimates.step_ratio(classic, "cpu") == estimates.CLASSIC_SUBSPACE_STEP_RATIO_C == 1.4
    assert estimates.step_ratio(lm, "cpu") == estimates.SUBSPACE_STEP_RATIO_C
    assert estimates.step_ratio(lm, "cuda") == estimates.SUBSPACE_STEP_RATIO  # a GPU runs the torch code
    assert estimates.step_ratio(classic.but(projection="sparse"), "cpu") == estimates.CLASSIC_SUBSPACE_STEP_RATIO
    monkeypatch.setitem(native._STATE, "lib", None)  # no compiler, or IDIM_NATIVE=0
    assert estimates.step_ratio(classic, "cpu") == estimates.CLASSIC_SUBSPACE_STEP_RATIO == 2.0
    assert estimates.step_ratio(lm, "cpu") == estimates.SUBSPACE_STEP_RATIO
    monkeypatch.delitem(native._STATE, "lib")  # not loaded yet: guessed from the setting and the compiler
    monkeypatch.setenv("IDIM_NATIVE", "0")
    assert native.expected() is False
    monkeypatch.delenv("IDIM_NATIVE")
    monkeypatch.setenv("CC", "no-such-compiler-here")
    assert native.expected() is False
    monkeypatch.delenv("CC")
    assert native.expected() is HAVE_CC


@needs_cc
def test_an_unwritable_cache_falls_back_to_a_temporary_directory_or_the_torch_code(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should go")
    r = _status_in({"IDIM_NATIVE": None, "XDG_CACHE_HOME": str(blocker)}, tmp_path)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["native"] is True and "idim-native-" in st["library"], st  # built in the temporary directory
    code = ("import json, tempfile; from idim_core import native; tempfile.tempdir = '/proc/no-such-dir'; "
            "print(json.dumps(native.status()))")
    env = {**os.environ, "XDG_CACHE_HOME": str(blocker), "HOME": str(blocker)}
    env.pop("IDIM_NATIVE", None)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["native"] is False and st["why"].startswith("the C passes could not be built"), st
