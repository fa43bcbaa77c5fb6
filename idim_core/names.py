"""Names and sizes shared by the engine and the UI (importing this pulls in nothing heavy)."""
import math
import os

PROJECTIONS = ("fastfood", "sparse", "dense")
# The methods are not listed here: idim_core.methods.REGISTRY (each method's own module) is the list.
LORA_TARGETS = ("query-value", "all-linear")
LR_SCALINGS = ("sqrt", "none")
SAID_GROUPS = ("block", "tensor")
# lr(d) = lr_subspace * sqrt(LR_D_REF / d): with Adam each coordinate of z moves by about
# lr per step, so |delta theta| ~ lr * sqrt(d); this keeps that step size the same at every d.
LR_D_REF = 1000

# A dense or sparse projection holds its matrix in memory; beyond this it is refused.
PROJECTION_MAX_BYTES = int(os.environ.get("IDIM_DENSE_MAX_BYTES", str(1 << 30)))


def z_lr(lr_ref: float, d: int, scaling: str = "sqrt") -> float:
    """The Adam learning rate of z at dimension d."""
    return lr_ref * math.sqrt(LR_D_REF / d) if scaling == "sqrt" else lr_ref


def projection_bytes(kind: str, d: int, D: int) -> int:
    """Memory a projection's own storage needs: dense D*d floats; sparse d*sqrt(D) (index + value)."""
    if kind == "dense":
        return 4 * D * d
    if kind == "sparse":
        k = max(1, min(D, round(math.sqrt(D))))
        return 12 * d * k  # int64 row index + float32 value per non-zero
    return 3 * 4 * D  # fastfood: a few D-sized vectors (B, G, permutation), about O(D)


def projection_too_big(kind: str, d: int, D: int, limit: int | None = None) -> str | None:
    """A one-line refusal when a dense or sparse projection would not fit, else None."""
    if kind not in ("dense", "sparse"):
        return None
    limit = PROJECTION_MAX_BYTES if limit is None else limit
    need = projection_bytes(kind, d, D)
    if need <= limit:
        return None
    return (f"a {kind} projection at d={d:,} on D={D:,} parameters needs {need / 2**30:.1f} GiB "
            f"(limit {limit / 2**30:.1f} GiB, IDIM_DENSE_MAX_BYTES); use --projection fastfood or a smaller d")


# Training accuracy (for the generalisation gap) is read on a fixed subset of this many training examples; a run
# that asks for every fact the claims use (--claims-facts) quantises z at 4 and 8 bits on this many (runconfig's
# comment says more).  Here, not in runconfig: train.py reads them without importing runconfig (no import circle).
TRAIN_ACCURACY_N = 512
QUANTISED_TRAIN_N = 512
