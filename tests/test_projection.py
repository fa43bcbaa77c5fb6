import math

import pytest
import torch

from idim_core.projection import KINDS, ProjectionError, _factors, fwht, make_projection

SIZES = [(1, 1), (3, 5), (7, 100), (50, 1000), (300, 1000), (64, 64), (100, 5000), (33, 3001)]


def _hadamard(n):
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


@pytest.mark.parametrize("L", [1 << k for k in range(14)])  # every factor order up to 3 factors
def test_fwht_matches_explicit_hadamard(L):
    x = torch.randn(3, L, dtype=torch.float64)
    assert torch.allclose(fwht(x), x @ _hadamard(L), atol=1e-9)
    # unnormalised: applying twice multiplies by L (no hidden 1/sqrt(L) anywhere)
    assert torch.allclose(fwht(fwht(x)), L * x, atol=1e-7 * L)


def test_fwht_in_any_order_of_factors_is_the_same_transform():
    x = torch.randn(3, 2048, dtype=torch.float64)
    for order in ([32, 32, 2], [2, 32, 32], [8, 16, 16], [2048]):
        assert torch.allclose(fwht(x, order), x @ _hadamard(2048), atol=1e-9)
    with pytest.raises(ValueError, match="do not multiply"):
        fwht(x, [32, 32])


def test_bench_hadamard_factors_runs():
    """bench/hadamard_factors.py, the figures behind the factor order, on a small L and D."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for extra in (["--Ls", "64,2048", "--repeats", "2"], ["--Ls", "64", "--repeats", "1", "--search"],
                  ["--passes", "--D", "5000", "--dims", "100", "--repeats", "2"]):
        out = subprocess.run([sys.executable, str(root / "bench" / "hadamard_factors.py"), *extra], cwd=root,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert "largest first" in out.stdout and "the code's" in out.stdout


def test_hadamard_factors_put_the_remainder_first():
    """H_L is applied as products of factors; a factor of 32 with few elements after it runs several times
    slower than with many, so the small remainder comes first and the 32s last (bench/RESULTS.md)."""
    assert _factors(1) == [] and _factors(64) == [64] and _factors(2048) == [2, 32, 32]
    for k in range(1, 21):
        f = _factors(1 << k)
        assert math.prod(f) == 1 << k and all(m & (m - 1) == 0 for m in f)
        assert f == sorted(f) and all(m == 32 for m in f[1:]), f


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d,D", SIZES)
def test_columns_have_unit_norm_over_whole_D(kind, d, D):
    M = make_projection(kind, d, D, seed=3).matrix()
    assert M.shape == (D, d)
    assert torch.allclose(M.norm(dim=0), torch.ones(d), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d,D", SIZES)
def test_forward_and_backward_agree_with_explicit_matrix(kind, d, D):
    P = make_projection(kind, d, D, seed=1)
    M = P.matrix().double()
    z = torch.randn(d, requires_grad=True)
    g = torch.randn(D)
    y = P(z)
    assert y.shape == (D,)
    assert torch.allclose(y.double(), M @ z.detach().double(), atol=1e-5)
    (y * g).sum().backward()
    assert torch.allclose(z.grad.double(), M.t() @ g.double(), atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_exact_adjoint_inner_products(kind):
    d, D = 200, 12345  # D not a power of two
    P = make_projection(kind, d, D, seed=7)
    for _ in range(3):
        z, g = torch.randn(d, dtype=torch.float32), torch.randn(D)
        lhs = torch.dot(P(z).double(), g.double())
        rhs = torch.dot(z.double(), P.adjoint(g).double())
        assert math.isclose(float(lhs), float(rhs), rel_tol=1e-4, abs_tol=1e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_autograd_through_explicit_matrix(kind):
    d, D = 40, 777
    P = make_projection(kind, d, D, seed=0)
    M = P.matrix()
    z1 = torch.randn(d, requires_grad=True)
    z2 = z1.detach().clone().requires_grad_(True)
    w = torch.randn(D)
    (torch.tanh(P(z1)) * w).sum().backward()
    (torch.tanh(M @ z2) * w).sum().backward()
    assert torch.allclose(z1.grad, z2.grad, atol=1e-5)


def test_fastfood_backward_keeps_no_butterfly_levels():
    """The autograd graph holds one custom node, not one per transform level."""
    P = make_projection("fastfood", 1000, 100_000, seed=0)
    z = torch.zeros(1000, requires_grad=True)
    y = P(z)
    assert type(y.grad_fn).__name__ == "_ApplyBackward"
    assert y.grad_fn.next_functions[0][0].variable is z


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_determinism(kind):
    z = torch.randn(30)
    a = make_projection(kind, 30, 4000, seed=5)(z)
    b = make_projection(kind, 30, 4000, seed=5)(z)
    c = make_projection(kind, 30, 4000, seed=6)(z)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_fastfood_d_larger_than_small_tensors_is_not_truncated():
    """Public per-tensor wrappers cut z when a tensor has fewer than d entries.
    Here z is projected onto the whole flat vector: every coordinate of z matters."""
    d, D = 500, 3000  # imagine tensors of 10, 90, 2900 entries
    P = make_projection("fastfood", d, D, seed=0)
    M = P.matrix()
    assert torch.linalg.matrix_rank(M) == d
    assert (M[:10].abs().sum(0) > 0).sum() > d // 2  # the 10-entry "tensor" sees most of z


def test_large_D_uses_linear_memory_and_scales_columns():
    D = 3_000_000
    P = make_projection("fastfood", 1000, D, seed=0)
    n_elems = sum(b.numel() for b in P.buffers())
    assert n_elems < 3 * D  # O(D), never D x d
    # column norms through the exact adjoint: ||P e_j||^2 = <P e_j, P e_j>
    for j in (0, 500, 999):
        e = torch.zeros(1000)
        e[j] = 1
        assert abs(float(P(e).norm()) - 1) < 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_moves_with_to(kind):
    P = make_projection(kind, 8, 100, seed=0).to(torch.float64)
    assert all(b.dtype in (torch.float64, torch.int64) for b in P.buffers())
    P = P.to("cpu")
    assert P(torch.zeros(8, dtype=torch.float64)).shape == (100,)


def test_dense_refuses_sizes_that_do_not_fit():
    with pytest.raises(ProjectionError, match=r"needs 819\.\d GiB.*use --projection fastfood"):
        make_projection("dense", 10_000, 22_000_000, seed=0)


def test_sparse_refuses_sizes_that_do_not_fit():
    # O(d * sqrt(D)): about 5.7 GB at d = 100,000 on MiniLM's 22.6M parameters
    from idim_core.names import projection_bytes

    need = projection_bytes("sparse", 100_000, 22_566_146)
    assert 5.0e9 < need < 6.0e9
    with pytest.raises(ProjectionError, match=r"a sparse projection at d=100,000 .* needs 5\.\d GiB"):
        make_projection("sparse", 100_000, 22_566_146, seed=0)


@pytest.mark.parametrize("bad", [(0, 10), (11, 10), (-1, 5), (5, 0)])
def test_bad_sizes(bad):
    with pytest.raises(ProjectionError):
        make_projection("fastfood", *bad, seed=0)


def test_unknown_kind():
    with pytest.raises(ProjectionError, match="fastfood"):
        make_projection("hadamard", 3, 10, seed=0)


@pytest.mark.parametrize("d", [30_000, 100_000])
def test_fastfood_columns_stay_unit_norm_when_the_cut_block_is_averaged(d):
    D = 199_210  # the classic MLP: a large share of D sits in the cut last block
    P = make_projection("fastfood", d, D, seed=3)
    for j in (0, 1, d // 2, d - 1):
        e = torch.zeros(d)
        e[j] = 1
        assert abs(float(P(e).norm()) - 1) < P.NORM_TOL
