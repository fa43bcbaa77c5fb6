import pytest
import torch

from idim_core.errors import UserError
from idim_core.models import load_model
from idim_core.subspace import FlatParams, SubspaceModel, layer_group


@pytest.fixture(scope="module")
def tiny():
    lm = load_model("minilm-l1", num_labels=2, init_seed=0)
    tok = lm.tokenizer
    batch = tok(["a fine film", "dull and far too long, with nothing in it"], padding=True, return_tensors="pt")
    flat = FlatParams(lm.module)
    lm.module.eval()
    return lm, flat, dict(batch)


def test_layer_groups():
    assert layer_group("encoder.encoder.layer.3.attention.self.query.weight") == "layer.3"
    assert layer_group("encoder.embeddings.word_embeddings.weight") == "embeddings"
    assert layer_group("classifier.weight") == "head"
    assert layer_group("transformer.h.11.mlp.c_fc.weight") == "layer.11"


def test_all_parameters_are_in_the_subspace_and_frozen(tiny):
    lm, flat, _ = tiny
    assert flat.D == sum(p.numel() for p in lm.module.parameters())
    assert any(n.startswith("classifier.") for n in flat.names)  # the new head is included
    assert all(not p.requires_grad for p in lm.module.parameters())
    # parameters are views of theta0: no second copy of the weights
    p = next(lm.module.parameters())
    assert p.data_ptr() == flat.theta0.data_ptr()


@pytest.mark.parametrize("method", ["did", "said"])
def test_z_zero_is_the_pretrained_model(tiny, method):
    lm, flat, batch = tiny
    sub = SubspaceModel(lm.module, flat, 100, method, "fastfood", seed=0).eval()
    with torch.no_grad():
        assert torch.allclose(sub(**batch), lm.module(**batch), atol=1e-5)


def test_said_counts_lambdas_in_d(tiny):
    lm, flat, _ = tiny
    m = flat.num_groups
    assert m == 3  # embeddings, layer.0, head
    sub = SubspaceModel(lm.module, flat, 100, "said", "fastfood", seed=0)
    assert sub.num_trainable == 100
    assert sub.z.numel() == 100 - m and sub.lam.numel() == m
    assert torch.equal(sub.lam.detach(), torch.ones(m))
    did = SubspaceModel(lm.module, flat, 100, "did", "fastfood", seed=0)
    assert did.num_trainable == 100 and did.lam is None
    with pytest.raises(UserError, match="SAID needs d > 3"):
        SubspaceModel(lm.module, flat, 3, "said", "fastfood", seed=0)


def test_attention_mask_reaches_the_model(tiny):
    """Padding must not change a sentence's logits: the mask is passed through."""
    lm, flat, batch = tiny
    sub = SubspaceModel(lm.module, flat, 50, "did", "fastfood", seed=0).eval()
    with torch.no_grad():
        sub.z.normal_()
        tok = lm.tokenizer
        alone = dict(tok(["a fine film"], return_tensors="pt"))
        padded = {k: v[:1] for k, v in batch.items()}
        assert padded["attention_mask"][0].sum() < padded["attention_mask"].shape[1]  # really padded
        assert torch.allclose(sub(**alone), sub(**padded), atol=1e-4)
        no_mask = {k: v for k, v in padded.items() if k != "attention_mask"}
        assert not torch.allclose(sub(**alone), sub(**no_mask), atol=1e-4)


@pytest.mark.parametrize("method", ["did", "said"])
def test_gradients_reach_z_and_lambda_only(tiny, method):
    lm, flat, batch = tiny
    theta0 = flat.theta0.clone()
    sub = SubspaceModel(lm.module, flat, 64, method, "sparse", seed=0).train()
    opt = torch.optim.Adam(sub.trainable(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(sub(**batch), torch.tensor([1, 0]))
    loss.backward()
    assert sub.z.grad is not None and sub.z.grad.abs().sum() > 0
    if method == "said":
        assert sub.lam.grad is not None
    opt.step()
    assert torch.equal(flat.theta0, theta0)  # theta0 never moves


def test_d_out_of_range(tiny):
    lm, flat, _ = tiny
    with pytest.raises(UserError, match="out of range"):
        SubspaceModel(lm.module, flat, flat.D + 1, "did", "fastfood", seed=0)
    with pytest.raises(UserError, match="unknown method"):
        SubspaceModel(lm.module, flat, 10, "lora", "fastfood", seed=0)


def test_bundled_parameter_counts_are_known_before_loading():
    from idim_core.models import CATALOGUE

    for name in ("minilm-l2", "minilm-l6-untrained"):
        spec = CATALOGUE[name]
        lm = load_model(name, num_labels=2)
        head = 384 * 2 + 2
        assert spec.params + head == lm.D
        assert spec.layers == lm.module.config.num_hidden_layers


def test_untrained_control_differs_from_pretrained():
    a = load_model("minilm-l2", 2).module
    b = load_model("minilm-l2-untrained", 2).module
    wa = a.encoder.encoder.layer[0].attention.self.query.weight
    wb = b.encoder.encoder.layer[0].attention.self.query.weight
    assert not torch.allclose(wa, wb)


class _Toy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embeddings = torch.nn.Linear(5, 7)
        self.layer = torch.nn.ModuleList([torch.nn.Linear(7, 7), torch.nn.Linear(7, 7)])
        self.classifier = torch.nn.Linear(7, 3)

    def forward(self, x):
        h = torch.tanh(self.embeddings(x))
        for lay in self.layer:
            h = torch.tanh(lay(h))
        return self.classifier(h)


@pytest.mark.parametrize("method", ["did", "said"])
@pytest.mark.parametrize("kind", ["fastfood", "sparse", "dense", "fastfood-small-chunks"])
def test_fused_theta_matches_plain_autograd(method, kind, monkeypatch):
    if kind == "fastfood-small-chunks":  # chunks of 2 blocks: pieces cut at chunk and block edges
        from idim_core.projection import FastfoodProjection

        monkeypatch.setattr(FastfoodProjection, "CHUNK", 64)
        kind = "fastfood"
    torch.manual_seed(0)
    toy = _Toy()
    flat = FlatParams(toy)
    assert flat.group_names == ["embeddings", "layer.0", "layer.1", "head"]
    sub = SubspaceModel(toy, flat, 30, method, kind, seed=2)
    with torch.no_grad():
        sub.z.normal_()
        if sub.lam is not None:
            sub.lam.copy_(torch.tensor([0.5, 1.5, -2.0, 3.0]))
    x, y = torch.randn(4, 5), torch.tensor([0, 1, 2, 1])
    torch.nn.functional.cross_entropy(sub(x=x), y).backward()
    # reference: the same map written with plain autograd ops
    z = sub.z.detach().clone().requires_grad_(True)
    lam = sub.lam.detach().clone().requires_grad_(True) if sub.lam is not None else None
    M = sub.P.matrix()
    delta = M @ z
    if lam is not None:
        delta = delta * torch.repeat_interleave(lam[flat.tensor_group], torch.tensor(flat.sizes))
    theta = flat.theta0 + delta
    from torch.func import functional_call

    pieces = dict(zip(flat.names, (t.view(s) for t, s in zip(torch.split(theta, flat.sizes), flat.shapes))))
    torch.nn.functional.cross_entropy(functional_call(toy, pieces, args=(), kwargs={"x": x}), y).backward()
    assert torch.allclose(sub.z.grad, z.grad, atol=1e-5)
    if lam is not None:
        assert torch.allclose(sub.lam.grad, lam.grad, atol=1e-5)


@pytest.mark.parametrize("method", ["did", "said"])
def test_evaluation_reuses_theta_only_while_z_is_unchanged(method):
    torch.manual_seed(0)
    toy = _Toy()
    sub = SubspaceModel(toy, FlatParams(toy), 30, method, "fastfood", seed=1)
    x = torch.randn(4, 5)
    with torch.inference_mode():
        a = sub(x=x)
        assert torch.equal(sub(x=x), a)  # second batch: the cached theta
    with torch.no_grad():
        sub.z.add_(0.5)  # an optimiser step or a restored best state changes z in place
    with torch.inference_mode():
        b = sub(x=x)
    assert not torch.allclose(a, b)
    sub.train()
    c = sub(x=x)  # with grad: theta is rebuilt and differentiable
    assert torch.allclose(b, c) and c.requires_grad


# ---------------------------------------------------------------------------
# the learning rate of z follows d; SAID's groups
# ---------------------------------------------------------------------------
def _step_size(lm, flat, batch, d, lr):
    """|theta - theta0| after one Adam step on z at rate lr."""
    from idim_core.train import make_optimizer

    sub = SubspaceModel(lm.module, flat, d, "did", "fastfood", seed=0)
    opt = make_optimizer([sub.z], lr)
    logits = sub(**batch)
    torch.nn.functional.cross_entropy(logits, torch.tensor([1, 0])).backward()
    opt.step()
    with torch.no_grad():
        return float((sub.theta() - flat.theta0).norm())


def test_with_one_rate_the_step_grows_like_sqrt_d(tiny):
    lm, flat, batch = tiny
    small, large = _step_size(lm, flat, batch, 100, 0.1), _step_size(lm, flat, batch, 10_000, 0.1)
    assert 7 < large / small < 13  # about sqrt(100) = 10: why one rate cannot fit every d


def test_the_default_rate_keeps_the_step_the_same_at_every_d(tiny):
    from idim_core.names import z_lr
    from idim_core.runconfig import DEFAULTS

    lm, flat, batch = tiny
    assert DEFAULTS["lr_scaling"] == "sqrt"
    steps = [_step_size(lm, flat, batch, d, z_lr(0.1, d, DEFAULTS["lr_scaling"])) for d in (100, 1_000, 10_000)]
    assert max(steps) / min(steps) < 1.3, steps  # the old constant rate gives a ratio of about 10
    assert z_lr(0.1, 1000) == pytest.approx(0.1) and z_lr(0.1, 10, "none") == 0.1


def test_trial_uses_the_scaled_rate_and_lambda_keeps_the_reference():
    from idim_core.prep import prepare
    from idim_core.runconfig import make_config
    from idim_core.train import run_trial

    cfg = make_config(model="mlp", task="digits", dims=[100])
    prep, _, _ = prepare(cfg, "cpu")
    tc = make_config(model="mlp", task="digits", epochs=1, max_steps=2, batch_size=64, lr_subspace=0.1)  # DID
    assert run_trial(prep, tc, d=10, seed=0).lr == pytest.approx(1.0)
    assert run_trial(prep, tc, d=100_000 // 10, seed=0).lr == pytest.approx(0.1 * (1000 / 10_000) ** 0.5)
    flat = tc.but(lr_scaling="none")
    assert run_trial(prep, flat, d=10, seed=0).lr == pytest.approx(0.1)
    res = run_trial(prep, tc, d=100, seed=0)
    assert res.correct is not None and len(res.correct) == len(prep.test)
    assert sum(res.correct) / len(res.correct) == pytest.approx(res.accuracy)


def test_said_tensor_groups_count_every_tensor(tiny):
    lm, flat, batch = tiny
    n_tensors = len(flat.names)
    sub = SubspaceModel(lm.module, flat, n_tensors + 10, "said", "fastfood", seed=0, said_groups="tensor")
    assert sub.lam.numel() == n_tensors and sub.z.numel() == 10 and sub.num_trainable == n_tensors + 10
    with pytest.raises(UserError, match=f"SAID needs d > {n_tensors}"):
        SubspaceModel(lm.module, flat, n_tensors, "said", "fastfood", seed=0, said_groups="tensor")
    # gradients reach every lambda
    logits = sub(**batch)
    logits.sum().backward()
    assert sub.lam.grad is not None and sub.lam.grad.shape == (n_tensors,)


@pytest.mark.parametrize("layers", [1, 2, 6])
def test_said_scale_counts_known_before_loading_match_the_modules(layers):
    from idim_core.methods.said import known_scales as said_scales

    lm = load_model(f"minilm-l{layers}", num_labels=2, init_seed=0)
    names = [n for n, _ in lm.module.named_parameters()]
    assert said_scales(f"minilm-l{layers}", "tensor", False) == len(names)
    assert said_scales(f"minilm-l{layers}", "block", False) == len({layer_group(n) for n in names})


@pytest.mark.parametrize("over,msg", [
    (dict(model="minilm-l6", dims=[5, 100]), "SAID needs d > 8"),
    (dict(model="minilm-l6", dims=[50, 1000], said_groups="tensor"), "SAID needs d > 103"),
    (dict(model="minilm-l6", projection="dense", dims=[10_000]), "dense projection at d=10,000"),
    (dict(model="minilm-l6", projection="sparse", dims=[100_000]), "sparse projection at d=100,000"),
    (dict(lr_scaling="cube"), "--lr-scaling"),
    (dict(said_groups="layer"), "--said-groups"),
])
def test_bad_configs_are_refused_before_a_run_exists(over, msg):
    from idim_core.runconfig import make_config

    with pytest.raises(UserError, match=msg):
        make_config(**over)


def test_lr_search_keeps_the_attempt_best_on_validation():
    from idim_core.prep import prepare
    from idim_core.runconfig import make_config
    from idim_core.train import LR_SEARCH, run_trial

    cfg = make_config(model="mlp", task="digits", dims=[100])
    prep, _, _ = prepare(cfg, "cpu")
    base = make_config(epochs=1, max_steps=20, batch_size=64, lr_subspace=0.1)
    single = {m: run_trial(prep, base.but(lr_subspace=0.1 * m), d=100, seed=0)
              for m in LR_SEARCH}
    seen = []
    # 1/3, 1 and 3 times only (--lr-search-beyond 0): the same three attempts as the single runs
    res = run_trial(prep, base.but(lr_search=True, lr_search_beyond=0), d=100, seed=0, on_point=seen.append)
    best = max(single.values(), key=lambda r: r.val_accuracy)
    assert res.val_accuracy == best.val_accuracy and res.lr == pytest.approx(best.lr)
    assert res.steps == sum(r.steps for r in single.values())  # every attempt trained
    assert seen[-1]["total"] == 3 * 20 and seen[-1]["step"] == res.steps  # progress runs over all attempts
    # by default it may go on past an end: every rate it tried trained, and progress counts them all
    seen2 = []
    res2 = run_trial(prep, base.but(lr_search=True), d=100, seed=0, on_point=seen2.append)
    assert 3 <= len(res2.lr_tried) <= 3 + base.lr_search_beyond and res2.steps == 20 * len(res2.lr_tried)
    assert seen2[-1]["total"] == res2.steps == seen2[-1]["step"]
    assert res2.val_accuracy >= res.val_accuracy  # it keeps the best of more attempts
    assert res.correct is not None and sum(res.correct) / len(res.correct) == pytest.approx(res.accuracy)
    # --lr-search (z's rate) does not make the baseline search: that is --baseline-lr-search alone
    full = run_trial(prep, base.but(lr_search=True, baseline_lr_search=False), d=None, seed=0)
    assert full.steps == 20
