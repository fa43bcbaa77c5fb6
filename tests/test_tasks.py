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
    dropped = t.info.get("overlaps_dropped") or {}  # texts also in an earlier split: left out of val and test
    assert len(t.train) + len(t.val) + len(t.test) + dropped.get("val", 0) + dropped.get("test", 0) == total
    seen = {" ".join(x.split()).casefold() for x in t.train.text}
    assert not seen & {" ".join(x.split()).casefold() for x in t.val.text + t.test.text}  # no example twice
    assert all(0 <= y < k for y in t.train.labels + t.val.labels + t.test.labels)
    assert all(isinstance(x, str) and x for x in t.test.text)
    # seeded: the same split twice, another with another seed
    assert tasks.load_task(name).test.text == t.test.text
    assert tasks.load_task(name, split_seed=1).val.text != t.val.text


def test_fine_foods_keeps_its_official_test_split():
    t = tasks.load_task("fine-foods")
    dropped = t.info["overlaps_dropped"]  # the official split repeats a few reviews: left out of val and test
    assert (len(t.train), len(t.val) + dropped["val"], len(t.test) + dropped["test"]) == (3600, 400, 1000)
    assert t.label_names == ["great", "other"]
    assert t.test.labels.count(0) + t.test.labels.count(1) == 1000 - dropped["test"]


def test_sms_spam_is_imbalanced_and_says_so():
    s = tasks.task_stats("sms-spam")
    assert s["majority"] == pytest.approx(0.89, abs=0.01)  # 'ham' on the test split (repeated texts left out)
    assert "imbalanced" in s["note"]
    assert s["classes"]["ham"] > 5 * s["classes"]["spam"]
    assert sum(s["classes"].values()) + s["overlaps_dropped"] == 4827 + 747  # the file's rows, each once


def test_stats_of_every_offline_task(home):
    out = json.loads(run_cli("tasks", "--json", home=home).stdout)
    by = {t["name"]: t for t in out}
    for name, t in by.items():
        assert {"num_labels", "splits", "chance", "majority", "avg_tokens"} <= set(t), name
        if t["offline"]:
            assert sum(t["splits"].values()) + (t.get("overlaps_dropped") or 0) == t["size"], name
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


# --- the CSV reader: the csv module on the file's bytes, the delimiter detected --------------------------
def _rows(n_per_class=20, classes=("a", "b")):
    return [(f"example {i} of {c}", c) for c in classes for i in range(n_per_class)]


def _write(path, rows, delim=",", header=("text", "label"), encoding="utf-8", bom=False):
    import csv
    import io

    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=delim, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode(encoding))
    return f"csv:{path}"


@pytest.mark.parametrize("delim", [",", ";", "\t"])
def test_csv_delimiter_is_detected(tmp_path, delim):
    t = tasks.load_task(_write(tmp_path / "d.csv", _rows(), delim, bom=True))
    assert t.num_labels == 2 and t.label_names == ["a", "b"]
    assert len(t.train) + len(t.val) + len(t.test) == 40
    assert all(x.startswith("example ") for x in t.train.text)


def test_csv_keeps_quoted_newlines_and_line_separators_inside_a_field(tmp_path):
    rows = _rows() + [("first line\nsecond line, with a comma", "a"), ("left\u2028right\u2029end", "b")]
    t = tasks.load_task(_write(tmp_path / "nl.csv", rows), max_train=None)
    texts = t.train.text + t.val.text + t.test.text
    assert len(texts) == 42
    assert "first line\nsecond line, with a comma" in texts and "left\u2028right\u2029end" in texts


def test_csv_labels_are_text_never_numbers(tmp_path):
    labels = ("²", "--5", "٣", "-1", "10", "2")
    t = tasks.load_task(_write(tmp_path / "lab.csv", _rows(10, labels)))
    assert t.label_names == ["-1", "2", "10", "--5", "²", "٣"]  # whole numbers in order, then the rest as text


def test_csv_refusals_say_what_is_missing_and_name_no_server_path(tmp_path):
    d = tmp_path / "private" / "uploads"
    d.mkdir(parents=True)
    one = d / "one.csv"
    one.write_text("x\n1\n2\n")
    with pytest.raises(UserError) as e:
        tasks.load_task(f"csv:{one}")
    msg = str(e.value)
    assert "needs a text column and a label column" in msg and "one column 'x'" in msg and "separated by" in msg
    assert str(d) not in msg and "one.csv" in msg
    for name, data, want in (("latin.csv", "text,label\ncafé,1\n".encode("latin-1"), "not UTF-8"),
                             ("wide.csv", "text,label\nhi,1\n".encode("utf-16"), "UTF-16")):
        (d / name).write_bytes(data)
        with pytest.raises(UserError) as e:
            tasks.load_task(f"csv:{d / name}")
        assert want in str(e.value) and str(d) not in str(e.value) and name in str(e.value)


def test_csv_too_small_to_split_is_refused(tmp_path):
    with pytest.raises(UserError, match="too small to split"):
        tasks.load_task(_write(tmp_path / "ten.csv", _rows(1, tuple("abcdefghij"))))
    tasks.load_task(_write(tmp_path / "ok.csv", _rows(10, tuple("abcdefghij"))))


def test_csv_task_is_stored_with_an_absolute_path(tmp_path, monkeypatch):
    _write(tmp_path / "rel.csv", _rows())
    monkeypatch.chdir(tmp_path)
    assert tasks.resolve("csv:rel.csv").name == f"csv:{tmp_path.resolve() / 'rel.csv'}"
    with pytest.raises(UserError, match="limit is 1,024"):
        tasks.resolve("csv:" + "x" * 5000)
