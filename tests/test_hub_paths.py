"""Hub code paths, exercised offline through local directories in the hub's layout."""
import json

import pandas as pd
import pytest
from conftest import run_cli

README = """---
configs:
- config_name: mrpc
  data_files:
  - split: train
    path: mrpc/train-*
  - split: validation
    path: mrpc/validation-*
- config_name: sst2
  data_files:
  - split: train
    path: sst2/train-*
  - split: validation
    path: sst2/validation-*
---
# GLUE (a small local copy in the hub's layout, for tests)
"""


@pytest.fixture(autouse=True)
def _own_datasets_cache(tmp_path, monkeypatch):
    """A fresh `datasets` cache per test: a cache kept from an earlier run of these tests may hold an older copy of
    the local GLUE files (it is keyed by their path), here and in the CLI subprocesses."""
    cache = tmp_path / "datasets-cache"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)


@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("glue")
    (root / "README.md").write_text(README)
    words = ["good", "bad", "fine", "awful", "great", "poor", "nice", "dull"]
    for cfg in ("mrpc", "sst2"):
        (root / cfg).mkdir()
        for split, n in (("train", 80), ("validation", 24)):
            rows = []
            for i in range(n):
                a = f"{split} film {i} was {words[i % 8]} and {words[(i * 3) % 8]}"  # no repeats across splits
                if cfg == "mrpc":
                    rows.append({"sentence1": a, "sentence2": f"it was {words[i % 8]}", "label": i % 2, "idx": i})
                else:
                    rows.append({"sentence": a, "label": i % 2, "idx": i})
            pd.DataFrame(rows).to_parquet(root / cfg / f"{split}-00000-of-00001.parquet")
    return root


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A small BERT in a local directory, saved like a hub checkpoint (own head)."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from idim_core.models import bundled_path

    d = tmp_path_factory.mktemp("tiny-bert")
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, num_labels=2)
    BertForSequenceClassification(cfg).save_pretrained(d)
    AutoTokenizer.from_pretrained(str(bundled_path())).save_pretrained(d)
    return d


def test_glue_pairs_through_the_hub_code_path(glue_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import idim_core.tasks as tasks
    from idim_core import sources

    monkeypatch.setattr(sources.get("hub"), "GLUE_SOURCE", str(glue_dir))
    t = tasks.load_task("glue/mrpc")
    assert t.num_labels == 2
    assert t.train.text_pair is not None and len(t.test) == 24  # evaluated on validation
    assert t.test.text_pair[0].startswith("it was")
    assert len(t.train) + len(t.val) == 80


def test_cli_run_on_local_model_and_glue_pairs(home, glue_dir, tiny_model_dir):
    r = run_cli("run", "--model", tiny_model_dir, "--task", "glue/mrpc", "--method", "did", "--dims", "10,100",
                "--max-train", "64", "--max-eval", "16", "--epochs", "1", "--json", home=home,
                env_extra={"IDIM_GLUE_SOURCE": str(glue_dir), "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["status"] == "done" and len(res["points"]) == 2
    assert res["D"] == (sum([30522 * 32 + 128 * 32 + 2 * 32 + 2 * 32])
                        + 2 * (4 * (32 * 32 + 32) + 4 * 32 + 32 * 64 + 64 + 64 * 32 + 32)
                        + (32 * 32 + 32) + (32 * 2 + 2))


def test_local_dir_that_is_not_a_model(home, tmp_path):
    (tmp_path / "notamodel").mkdir()
    r = run_cli("run", "--model", tmp_path / "notamodel", "--dims", "10", home=home)
    assert r.returncode == 2 and "not a model directory" in r.stderr


def test_csv_task_with_pairs_and_string_labels(home, tmp_path, tiny_model_dir):
    p = tmp_path / "pairs.csv"
    rows = ["q,a,y"] + [f"question {i},answer {i % 3},{'yes' if i % 2 else 'no'}" for i in range(60)]
    p.write_text("\n".join(rows) + "\n")
    r = run_cli("run", "--model", tiny_model_dir, "--task", f"csv:{p}", "--text-column", "q", "--text-pair-column", "a",
                "--label-column", "y", "--dims", "20", "--max-train", "40", "--epochs", "1", "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["points"][0]["d"] == 20
    bad = run_cli("run", "--model", tiny_model_dir, "--task", f"csv:{p}", "--label-column", "nope", "--dims", "20",
                  home=home)
    assert bad.returncode == 2 and "'nope'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_suggested_hub_models_are_listed_and_fail_clearly_offline(home):
    import json

    from conftest import run_cli

    models = json.loads(run_cli("models", "--json", home=home).stdout)
    hub = [m for m in models if m.get("needs_download")]
    assert {m["name"] for m in hub} >= {"prajjwal1/bert-tiny", "distilbert-base-uncased", "roberta-base"}
    assert all(m["offline"] is False and m["params"] > 1_000_000 for m in hub)
    r = run_cli("run", "--model", "prajjwal1/bert-tiny", "--dims", "10", home=home,
                env_extra={"HF_HUB_OFFLINE": "1", "HF_HOME": str(home / "empty-hf-cache")})
    assert r.returncode == 2 and "HF_HUB_OFFLINE=1" in r.stderr and r.stderr.count("\n") == 1


def test_local_sentence_model_is_pooled_without_its_unused_pooler(tmp_path):
    """A directory that says (sentence-transformers' modules.json) its sentences are mean-pooled: encoder ->
    mean -> a new head, and the encoder's [CLS] pooler, which that pooling never reads, is not in D."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from idim_core.models import bundled_path, load_model

    d = tmp_path / "sentence-bert"
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    BertModel(cfg).save_pretrained(d)  # with a pooler, as hub checkpoints of this kind often are
    AutoTokenizer.from_pretrained(str(bundled_path())).save_pretrained(d)
    (d / "1_Pooling").mkdir()
    (d / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (d / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32,
                                                             "pooling_mode_mean_tokens": True}))
    m = load_model(str(d), 3)
    names = [n for n, _ in m.module.named_parameters()]
    assert not any("pooler" in n for n in names)
    enc = 30522 * 32 + 128 * 32 + 2 * 32 + 2 * 32 + 2 * (4 * (32 * 32 + 32) + 4 * 32 + 32 * 64 + 64 + 64 * 32 + 32)
    assert m.D == enc + 32 * 3 + 3
    tok = m.tokenizer(["a good film", "a bad one"], return_tensors="pt", padding=True)
    assert m.module.pooling == "mean"
    with torch.no_grad():
        out = m.module(**tok)
    logits = out if isinstance(out, torch.Tensor) else out.logits
    assert tuple(logits.shape) == (2, 3)
