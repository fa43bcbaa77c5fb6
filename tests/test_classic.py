"""The classic experiment (Li et al. 2018): image tasks, from-scratch nets, shuffled controls."""
import json

import pytest
import torch
from conftest import run_cli

from idim_core import classic
from idim_core.errors import UserError
from idim_core.runconfig import CLASSIC_DEFAULTS, make_config


@pytest.mark.parametrize("model,side,paper", [("mlp", 28, 199_210), ("lenet", 28, 44_426), ("mlp", 8, None),
                                              ("lenet", 8, None)])
def test_parameter_counts(model, side, paper):
    net = classic.build(model, side)
    n = sum(p.numel() for p in net.parameters())
    assert n == classic.num_params(model, side)
    if paper:  # the sizes reported by Li et al. (2018)
        assert n == paper
    out = net(pixels=torch.zeros(3, 1, side, side))
    assert out.shape == (3, 10)


def test_splits_are_stratified_and_seeded():
    a = classic.load_images("mnist5k")
    assert (len(a.train), len(a.val), len(a.test)) == (4000, 500, 500)
    assert torch.bincount(a.test.labels).tolist() == [50] * 10
    assert abs(float(a.train.x.mean())) < 1e-3  # normalised with the training split's statistics
    b = classic.load_images("mnist5k")
    assert torch.equal(a.test.x, b.test.x)
    c = classic.load_images("mnist5k", split_seed=1)
    assert not torch.equal(a.test.x, c.test.x)
    d = classic.load_images("digits", max_train=100, max_eval=50)
    assert (len(d.train), len(d.val), len(d.test)) == (100, 50, 50) and d.side == 8


def test_shuffled_pixels_keep_labels_and_pixel_values():
    a = classic.load_images("digits")
    s = classic.load_images("digits", shuffle_pixels=True)
    assert torch.equal(a.train.labels, s.train.labels)
    assert not torch.equal(a.train.x, s.train.x)
    # the same pixel values, moved: each image keeps its sorted values
    assert torch.allclose(a.train.x.flatten(1).sort(1).values, s.train.x.flatten(1).sort(1).values)


def test_shuffled_labels_are_measured_on_the_training_images():
    a = classic.load_images("digits")
    s = classic.load_images("digits", shuffle_labels=True)
    assert s.val is s.train and s.test is s.train
    assert sorted(s.train.labels.tolist()) == sorted(a.train.labels.tolist())
    agree = float((s.train.labels == a.train.labels).float().mean())
    assert agree < 0.3  # random labels: about 1 in 10 agree by chance
    assert s.info["evaluated_on"].startswith("train")


def test_classic_defaults_follow_the_model_or_the_task():
    assert make_config(task="digits").model == "mlp"
    cfg = make_config(model="lenet")
    assert cfg.task == "mnist5k" and cfg.method == "did" and cfg.dims == CLASSIC_DEFAULTS["dims"]
    assert make_config().model == "minilm-l6"


@pytest.mark.parametrize("over,msg", [
    ({"model": "lenet", "task": "mr"}, "takes images"),
    ({"model": "minilm-l2", "task": "mnist5k"}, "holds images"),
    ({"task": "mr", "shuffle_labels": True}, "classic image tasks"),
    ({"shuffle_pixels": True}, "classic image tasks"),
    ({"task": "digits", "dims": "10,60000"}, "larger than the model's D=55,210"),
])
def test_bad_pairings_are_one_line_errors(over, msg):
    with pytest.raises(UserError, match=msg):
        make_config(**over)


def test_a_classic_run_end_to_end(home):
    r = run_cli("run", "--task", "digits", "--dims", "10,300", "--epochs", "3", "--json", home=home)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert (res["model"], res["D"], res["method"]) == ("mlp", 55_210, "did")
    assert res["baseline_accuracy"] > 0.8  # a from-scratch MLP learns 8x8 digits in seconds
    acc = {p["d"]: p["accuracy"] for p in res["points"]}
    assert acc[300] > acc[10]
    r = run_cli("run", "--model", "lenet", "--task", "mr", home=home)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "takes images" in r.stderr


def test_catalogue_lists_the_classic_pieces(home):
    models = json.loads(run_cli("models", "--json", home=home).stdout)
    names = {m["name"]: m for m in models}
    assert names["mlp"]["params"] == 199_210 and names["mlp"]["pretrained"] is False
    tasks = {t["name"]: t for t in json.loads(run_cli("tasks", "--json", home=home).stdout)}
    assert tasks["mnist5k"]["source"] == "image" and tasks["digits"]["size"] == 1797


def test_fashion_mnist_without_its_package_is_a_clear_error(home, tmp_path):
    r = run_cli("run", "--task", "fashion-mnist", "--queue", home=home,
                env_extra={"IDIM_FASHION_MNIST_DIR": str(tmp_path / "nothing-here")})
    assert r.returncode == 2 and "dataset-fashion-mnist" in r.stderr and r.stderr.count("\n") == 1
    tasks = json.loads(run_cli("tasks", "--json", home=home,
                               env_extra={"IDIM_FASHION_MNIST_DIR": str(tmp_path / "nothing-here")}).stdout)
    assert "fashion-mnist" not in {t["name"] for t in tasks}


@pytest.mark.skipif(not classic.fashion_available(), reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_from_the_debian_package(home):
    t = classic.load_images("fashion-mnist")
    assert (len(t.train), len(t.val), len(t.test)) == (4000, 500, 500)
    assert t.label_names[0] == "T-shirt/top" and torch.bincount(t.test.labels).tolist() == [50] * 10
    r = run_cli("run", "--task", "fashion-mnist", "--dims", "10,300", "--epochs", "2", "--json", home=home)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["D"] == 199_210 and res["baseline_accuracy"] > 0.6
