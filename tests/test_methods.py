"""The parameter-efficient methods (lora, vera, bitfit, head; the peft ones added later in test_registry.py): exact
trainable counts, theta0 untouched outside what trains, the shared baseline, p90 on the parameter axis, and bad
input."""
import json

import pytest
import torch
from conftest import run_cli

from idim_core import methods
from idim_core.errors import UserError
from idim_core.prep import prepare
from idim_core.runconfig import make_config, preflight
from idim_core.train import run_trial


@pytest.fixture(scope="module")
def lm_prep():
    cfg = make_config(model="minilm-l6", task="mr", method="lora", max_train=16, max_eval=16)
    return prepare(cfg, "cpu")[0]


@pytest.fixture(scope="module")
def mlp_prep():
    cfg = make_config(model="mlp", task="digits", method="lora")
    return prepare(cfg, "cpu")[0]


def _requires_grad(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("rank", [1, 4])
def test_lora_on_query_value_trains_9216_r_plus_the_head(lm_prep, rank):
    built = methods.get("lora").build(lm_prep, make_config(), rank, 0, "fastfood")
    assert built.trainable == _requires_grad(built.model) == 9216 * rank + 770
    names = [n for n, p in built.model.named_parameters() if p.requires_grad]
    assert all("lora_" in n or "classifier" in n for n in names)
    assert sum("query" in n for n in names) == sum("value" in n for n in names) == 12  # 6 layers x (A, B)


def test_vera_and_bitfit_and_head_counts_come_from_the_module(lm_prep):
    vera = methods.get("vera").build(lm_prep, make_config(), 16, 0, "fastfood")
    assert vera.trainable == _requires_grad(vera.model) == 12 * (384 + 16) + 770  # b (out) and d (r) per layer
    head = methods.get("head").build(lm_prep, make_config(), 0, 0, "fastfood")
    assert head.trainable == _requires_grad(head.model) == 384 * 2 + 2
    bitfit = methods.get("bitfit").build(lm_prep, make_config(), 0, 0, "fastfood")
    biases = sum(p.numel() for n, p in lm_prep.module.named_parameters() if n.endswith(".bias"))
    assert bitfit.trainable == _requires_grad(bitfit.model) == biases + 384 * 2  # the head's bias is a bias
    assert head.lr == methods.get("head").LR
    assert methods.get("bitfit").build(lm_prep, make_config(method="bitfit", lr_adapter=0.5), 0, 0,
                                       "fastfood").lr == 0.5


def test_lora_on_a_classic_net_adapts_every_linear_layer_but_the_head(mlp_prep):
    built = methods.get("lora").build(mlp_prep, make_config(), 1, 0, "fastfood")
    # 64 -> 200 and 200 -> 200 get rank-1 pairs; the 200 -> 10 head trains fully
    assert built.trainable == _requires_grad(built.model) == (64 + 200) + (200 + 200) + (200 * 10 + 10)


@pytest.mark.parametrize("method,level", [("lora", 2), ("bitfit", 0), ("head", 0), ("vera", 8)])
def test_training_moves_only_what_it_trains(mlp_prep, method, level):
    before = {n: p.detach().clone() for n, p in mlp_prep.module.named_parameters()}
    res = run_trial(mlp_prep, make_config(epochs=1, max_steps=30, batch_size=64).but(method=method), d=level, seed=0)
    assert res.status == "done" and res.trainable > 0 and res.peak_mb and res.peak_mb > 0
    for n, p in mlp_prep.module.named_parameters():  # the prepared theta0 itself is never trained
        assert torch.equal(p, before[n]), n
    built = methods.get(method).build(mlp_prep, make_config(), level, 0, "fastfood")
    opt = torch.optim.Adam([p for g in built.param_groups for p in g["params"]], lr=0.05)
    batch = mlp_prep.train.batch(list(range(64)), mlp_prep.device)
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(built.model(**batch), mlp_prep.train.labels[:64])
        opt.zero_grad()
        loss.backward()
        opt.step()
    moved = set()
    for n, p in built.model.named_parameters():
        base = n.replace("base_model.model.", "").replace(".base_layer", "")
        if base in before and not torch.equal(p.detach(), before[base]):
            moved.add(base)
        if base in before and not p.requires_grad:
            assert torch.equal(p.detach(), before[base]), f"{method} changed frozen {n}"
    assert moved <= {n for n, p in built.model.named_parameters() if p.requires_grad} | \
        {n.replace("base_model.model.", "") for n, p in built.model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("over,msg", [
    (dict(method="lora", ranks="0"), "not a positive whole number"),
    (dict(method="lora", ranks="1.5"), "not a positive whole number"),
    (dict(method="lora", ranks="two"), "is not a number"),
    (dict(method="lora", ranks=""), "--ranks is empty"),
    (dict(method="lora", ranks="4,1000"), "larger than the layers' width (384)"),
    (dict(method="said", ranks="4"), "--ranks is for"),  # the flag named (the methods it is for: test_registry)
    (dict(method="head", ranks="4"), "--ranks is for"),
    (dict(method="lora", dims="10,20"), "--dims is for did and said"),
    (dict(method="lora", lr_adapter=-1.0), "--lr-adapter must be a positive number"),
    (dict(method="lora", lora_targets="keys"), "unknown --lora-targets"),
    (dict(method="lorax"), "unknown method 'lorax'"),
])
def test_bad_method_settings_are_refused_in_one_line(over, msg):
    with pytest.raises(UserError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        make_config(**{"model": "minilm-l6", "task": "mr", **over})


def test_ranks_default_per_method_and_levels():
    assert make_config(method="lora").dims == [1, 2, 4, 8, 16]
    assert make_config(method="vera").ranks == [16, 64, 256]
    assert make_config(method="lora", ranks="8,2,2").ranks == [2, 8]
    assert make_config(method="bitfit").dims == [0] and make_config(method="head").ranks is None


def test_a_classic_rank_too_wide_is_refused_before_the_run():
    cfg = make_config(model="mlp", task="digits", method="lora", ranks="1,300")
    with pytest.raises(UserError, match="larger than layer layers.0's width"):
        preflight(cfg)


def test_peft_missing_is_one_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "peft", None)  # what `import peft` meets when it is not installed
    with pytest.raises(UserError, match="needs the peft library"):
        preflight(make_config(model="mlp", task="digits", method="lora"))


def test_cli_refuses_bad_ranks_and_queues_nothing(home):
    for args in (["--method", "lora", "--ranks", "0"], ["--method", "did", "--ranks", "4"],
                 ["--method", "lora", "--ranks", "1,512"]):
        p = run_cli("run", "--model", "minilm-l6", "--task", "mr", *args, "--queue", home=home, timeout=120)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    ls = run_cli("ls", "--json", home=home, timeout=120)
    assert json.loads(ls.stdout or "[]") == []


def test_lora_run_json_and_a_shared_baseline(home):
    p = run_cli("run", "--model", "mlp", "--task", "digits", "--method", "lora", "--ranks", "1,4", "--epochs", "3",
                "--json", "--quiet", home=home)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["axis"] == "rank" and res["d90"] is None and res["d90_status"] in ("not_applicable", "baseline_at_floor")
    tried = dict(sorted({(q["rank"], q["params"]) for q in res["points"]}))  # each seed
    assert tried[1] == 2674 and tried[4] == 4666
    # the refinement may bisect the ranks where validation crosses: only ranks inside the grid, the log says why
    assert set(tried) <= {1, 2, 3, 4}
    if set(tried) - {1, 4}:
        from idim_core.store import Store

        assert tried[2] == 3338
        assert any(e["message"].startswith("refinement:") for e in Store().events(res["run_id"]))
    assert {"p90", "p90_interpolated", "p90_status", "p90_ci"} <= set(res)
    assert all(q["seconds"] > 0 for q in res["points"])
    # head-only on the same model, task and budget shares the baseline: the same accuracies, not retrained
    h = run_cli("run", "--model", "mlp", "--task", "digits", "--method", "head", "--epochs", "3", "--json",
                home=home)
    assert h.returncode == 0, h.stderr
    head = json.loads(h.stdout)
    assert "baseline shared with run " + res["run_id"] in h.stderr
    assert head["baseline_accuracies"] == res["baseline_accuracies"] and head["threshold"] == res["threshold"]
    assert {q["params"] for q in head["points"]} == {2010}
    assert head["points"][0]["accuracy"] < head["baseline_accuracy"]  # a linear probe on random features
    f = run_cli("run", "--model", "mlp", "--task", "digits", "--method", "head", "--epochs", "3", "--fresh-baseline",
                "--json", home=home)
    assert f.returncode == 0 and "baseline shared" not in f.stderr
    # a different budget never shares
    g = run_cli("run", "--model", "mlp", "--task", "digits", "--method", "head", "--epochs", "2", "--json", home=home)
    assert g.returncode == 0 and "baseline shared" not in g.stderr
    csv = run_cli("export", head["run_id"], "--format", "csv", home=home).stdout.splitlines()
    assert csv[0].startswith("d,seed,accuracy,status,params,rank,seconds,peak_mb,") and ",2010," in csv[1]


def test_p90_is_d90s_rule_on_the_parameter_axis():
    from idim_core.results import estimates

    pts = [{"d": r, "seed": 0, "accuracy": a, "status": "done", "params": p, "rank": r}
           for r, p, a in ((1, 1000, 0.60), (4, 4000, 0.80), (16, 16000, 0.85))]
    est = estimates(pts, [0.88], 0.5, 0.5, 1000, "done", "rank", None, [])
    thr = 0.9 * 0.88
    assert est["p90"] == 4000 and est["p90_status"] == "found" and est["d90"] is None
    # linear in log params between 1,000 (0.60) and 4,000 (0.80)
    import math
    t = (thr - 0.60) / 0.20
    assert est["p90_interpolated"] == pytest.approx(math.exp(math.log(1000) + t * (math.log(4000) - math.log(1000))))
    one = estimates([{"d": 0, "seed": 0, "accuracy": 0.85, "status": "done", "params": 770}], [0.88], 0.5, 0.5,
                    1000, "done", "single", None, [])
    assert one["p90_status"] == "below_grid" and one["p90_upper"] == 770


@pytest.mark.parametrize("method", ["did", "said"])
def test_z_rate_follows_the_length_of_z(mlp_prep, method):
    # SAID's scales count in d, so at d = 10 on the MLP (3 scales) z has 7 entries: the rate rule is
    # lr * sqrt(1000 / 7), not sqrt(1000 / 10) (a step sqrt(10/7) too small)
    from idim_core.names import z_lr

    cfg = make_config()
    built = methods.get(method).build(mlp_prep, cfg, 10, 0, "fastfood")
    n_z = built.model.z.numel()
    assert n_z == (10 if method == "did" else 10 - 3)
    assert built.param_groups[0]["lr"] == built.lr == pytest.approx(z_lr(cfg.lr_subspace, n_z, cfg.lr_scaling))
