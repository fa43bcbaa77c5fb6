"""Pre-training that proves what it claims (issue 49): per-seed pre-training, the rotation source, which pairings
can be a readout of the source's labels, the readout control (probe) and dead units on every series entry."""
import pytest

from idim_core.errors import UserError

TINY = dict(model="mlp", task="digits:5-9", dims=[10, 100], seeds=2, epochs=1.0, refine=0, width=16,
            max_train=200, threads=1, processes=1)


def test_rotation_source_parses_and_pairs_like_a_self_supervised_one():
    from idim_core.pretrain import check_pairing, parse_source

    src = parse_source("mnist5k@a:rotation")
    assert (src.task, src.kind) == ("mnist5k@a", "rotation")
    assert check_pairing("mnist5k@a:rotation", "mnist5k@b").kind == "rotation"
    # it reads no labels: it may share the target's classes, as denoising may
    assert check_pairing("mnist5k:0-4:rotation", "mnist5k:3-9").kind == "rotation"
    with pytest.raises(UserError, match="share the classes"):
        check_pairing("mnist5k:0-4", "mnist5k:3-9")
    with pytest.raises(UserError, match="8x8 images but mnist5k has 28x28"):
        check_pairing("digits:rotation", "mnist5k")
    for bad in ("mnist5k:jigsaw", "mnist5k@a:rotate", ":rotation"):
        with pytest.raises(UserError) as e:
            parse_source(bad)
        assert "\n" not in str(e.value) and ":rotation" in str(e.value)


def test_cli_refuses_an_unknown_source_kind_in_one_line(home):
    from conftest import run_cli

    p = run_cli("series", "--model", "mlp", "--task", "mnist5k@b", "--pretrain", "mnist5k@a:jigsaw", "--dims", "10",
                home=home)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert "unknown --pretrain source 'mnist5k@a:jigsaw'" in p.stderr


def test_target_from_source_labels():
    from idim_core.pretrain import target_from_source_labels as f

    assert f("mnist5k@a", "mnist5k:ge5@b") and f("mnist5k@a:shuffled", "mnist5k:ge5@b")
    assert f("mnist5k@a", "mnist5k@b") and f("mnist5k:0-4@a", "mnist5k:0-4@b")
    assert not f("mnist5k:0-4@a", "mnist5k:5-9@b") and not f("mnist5k:0-4@a:shuffled", "mnist5k:5-9@b")
    assert not f("mnist5k@a:rotation", "mnist5k@b") and not f("mnist5k@a:denoise", "mnist5k:ge5@b")
    assert not f("mnist5k:ge5@a", "mnist5k@b")  # a 2-way source does not name 10 digits
    assert f("mnist5k:ge5@a", "mnist5k:ge5@b")
    assert not f("fashion-mnist", "mnist5k")


def test_rotated_turns_each_image_by_its_label():
    import torch

    from idim_core.pretrain import rotated

    x = torch.arange(2 * 9, dtype=torch.float32).view(2, 1, 3, 3)
    imgs, turns = rotated(x)
    assert turns.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    for img, k, i in zip(imgs, turns.tolist(), [0, 1] * 4):
        assert torch.equal(img, torch.rot90(x[i], k, dims=(1, 2)))
    g = torch.Generator().manual_seed(0)
    out, t = rotated(x, g)
    for i in range(2):
        assert torch.equal(out[i], torch.rot90(x[i], int(t[i]), dims=(1, 2)))


def test_each_seed_pretrains_its_own_net_at_its_searched_rate(home):
    from idim_core import pretrain
    from idim_core.prep import _prepare_classic
    from idim_core.runconfig import make_config

    cfg = make_config(**TINY, pretrain="digits:0-4@a:rotation", pretrain_epochs=1)
    prep, _, task = _prepare_classic(cfg, "cpu", home)
    a, b = (prep.for_seed(s).module for s in (0, 1))
    assert a is not b and not all(
        (p == q).all() for p, q in zip(a.parameters(), b.parameters()))  # theta0 differs per seed
    facts = task.info["pretrain"]
    assert len(set(facts["runs"])) == 2 and len(list((home / "pretrained").glob("*.pt"))) == 2
    for f in facts["per_seed"]:
        assert f["lr"] in pretrain.RATES and set(f["rates_tried"]) == {f"{r:g}" for r in pretrain.RATES}
        assert 0.0 <= f["source_accuracy"] <= 1.0  # rotation: 4-way accuracy on held-out source images
    assert 0.0 <= task.info["dead_fraction"] <= 1.0
    # runs from scratch keep one theta0 for all seeds, as before
    plain, _, task0 = _prepare_classic(make_config(**TINY), "cpu", home)
    assert plain.seed_modules is None and plain.for_seed(1) is plain
    assert 0.0 <= task0.info["dead_fraction"] <= 1.0


def test_dead_fraction_counts_units_never_active():
    import torch

    from idim_core import classic
    from idim_core.pretrain import dead_fraction

    net = classic.build("mlp", 8, 2, 0, 10)
    x = torch.randn(50, 1, 8, 8)
    with torch.no_grad():
        net.layers[0].bias[:4] = -1e6  # four of ten units can never fire
        net.layers[0].bias[4:] = 1e6
    assert dead_fraction(net, x) == pytest.approx(0.4)
    lenet = classic.build("lenet", 8, 2, 0)
    with torch.no_grad():
        lenet.layers[0].bias[:3] = -1e6
        lenet.layers[0].bias[3:] = 1e6
    assert dead_fraction(lenet, x) == pytest.approx(0.5)


def test_a_classic_series_entry_has_its_probe_dead_units_and_one_pretraining_per_seed(home):
    from idim_core import series
    from idim_core.store import Store

    store = Store(home)
    over = {k: v for k, v in TINY.items()}
    out = series.run(store, over, ["digits:0-4@a", "digits:0-4@a:shuffled"], [0, 1], [None], log=lambda m: None)
    assert out["target_from_source_labels"] is False  # digits 5-9 are not a function of digits 0-4
    assert out["pairings"] == {"digits:0-4@a": False, "digits:0-4@a:shuffled": False}
    for e in out["entries"]:
        assert e["status"] == "done"
        assert 0.0 <= e["probe_accuracy"] <= 1.0 and e["probe_clears"] in (True, False)
        assert e["probe_clears"] == (e["probe_accuracy"] >= e["threshold"])
        assert 0.0 <= e["dead_fraction"] <= 1.0
        run = store.get_run(e["run_id"])
        assert run["config"]["lr_search"] is True  # z's rate searched in every run of a series
        if e["pretrain_epochs"]:
            assert len(e["pretrain_runs"]) == 2 and len(set(e["pretrain_runs"])) == 2
            assert e["source_lr"] is not None and e["source_accuracy"] is not None
        else:
            assert e["pretrain_runs"] is None
    control = next(e for e in out["entries"] if e["pretrain"].endswith(":shuffled"))
    assert control["control"] in ("fits its labels", "no control")
    assert (control["control"] == "fits its labels") == (control["source_train_accuracy"] >= 0.9)
    lines = series.verdict(out, series.store_results(store, out))
    if control["control"] == "no control":
        assert any("no control" in x for x in lines)
