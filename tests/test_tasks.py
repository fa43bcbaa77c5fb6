"""The task catalogue: bundled text tasks, their splits and the statistics users see."""
import json

import pytest

from conftest import run_cli
from idim_core import tasks
from idim_core.errors import UserError


@pytest.mark.parametrize("name,k,total", [("mr", 2, 10605), ("trec6", 6, 5452), ("trec50", 50, 5452),
                                          ("fine-foods", 2, 5000), ("sms-spam", 2, 5574), ("r8", 8, 7674)])
def test_bundled_tasks_load_with_all_their_rows_and_classes(name, k, total):
    t = tasks.load_task(name)
    assert t.num_labels == k == len(t.label_names)
    assert len(t.train) + len(t.val) + len(t.test) == total
    assert all(0 <= y < k for y in t.train.labels + t.val.labels + t.test.labels)
    assert all(isinstance(x, str) and x for x in t.test.text)
    # seeded: the same split twice, another with another seed
    assert tasks.load_task(name).test.text == t.test.text
    assert tasks.load_task(name, split_seed=1).val.text != t.val.text


def test_fine_foods_keeps_its_official_test_split():
    t = tasks.load_task("fine-foods")
    assert (len(t.train), len(t.val), len(t.test)) == (3600, 400, 1000)
    assert t.label_names == ["great", "other"]
    assert t.test.labels.count(0) == 658  # the official test set: 658 great, 342 other


def test_sms_spam_is_imbalanced_and_says_so():
    s = tasks.task_stats("sms-spam")
    assert s["majority"] == pytest.approx(0.867, abs=0.01)
    assert "imbalanced" in s["note"]
    assert s["classes"] == {"ham": 4827, "spam": 747}


def test_stats_of_every_offline_task(home):
    out = json.loads(run_cli("tasks", "--json", home=home).stdout)
    by = {t["name"]: t for t in out}
    for name, t in by.items():
        assert {"num_labels", "splits", "chance", "majority", "avg_tokens"} <= set(t), name
        if t["offline"]:
            assert sum(t["splits"].values()) == t["size"], name
            assert t["chance"] == pytest.approx(1 / t["num_labels"])
            assert t["chance"] - 1e-9 <= t["majority"] <= 1
    assert 20 < by["mr"]["avg_tokens"] < 35 and by["r8"]["avg_tokens"] > 64 and by["r8"]["truncated"] > 0.3
    assert by["mnist5k"]["avg_tokens"] is None and by["mnist5k"]["input"] == "28x28 pixels"
    assert by["glue/mrpc"]["pair"] is True and by["glue/mrpc"]["splits"] is None


def test_stats_of_a_csv_and_its_errors(home, tmp_path):
    p = tmp_path / "q.csv"
    p.write_text("question,answer_type\n" + "".join(f"what is {i} ?,{'num' if i % 3 else 'def'}\n" for i in range(30)))
    r = run_cli("tasks", f"csv:{p}", "--text-column", "question", "--label-column", "answer_type", "--json", home=home)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)[0]
    assert s["num_labels"] == 2 and s["classes"] == {"def": 10, "num": 20} and s["majority"] > 0.5
    r = run_cli("tasks", f"csv:{p}", home=home)  # no 'text' column
    assert r.returncode == 2 and "no column 'text'" in r.stderr
    r = run_cli("tasks", f"csv:{p}", "--text-column", "question", "--label-column", "question", home=home)
    assert r.returncode == 2 and "same column" in r.stderr


def test_trec50_has_fine_labels():
    t = tasks.load_task("trec50")
    assert "NUM:date" in t.label_names and all(":" in n for n in t.label_names)
    with pytest.raises(UserError, match="holds images"):
        tasks.load_task("mnist5k")
