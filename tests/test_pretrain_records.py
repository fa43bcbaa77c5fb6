"""The recorded pairings of issue 49 (assets/recorded/series/pretrain-*.json): their facts, and every text that
tells them (the record's .md, docs/results.md, docs/how-to/series.md, Learn, the lesson) states the verdicts
recomputed here from the runs' points (one bootstrap of the ratio of two d90), and nothing beyond them."""
import subprocess
import sys

from conftest import ROOT

from idim_core import pretrain, series

DOCS = [ROOT / "docs" / "results.md", ROOT / "docs" / "how-to" / "series.md"]


def _records():
    recs = {n: series.recorded(n) for n in series.PAIRINGS}
    missing = [n for n, r in recs.items() if r is None]
    assert not missing, f"recorded pairings missing from assets/recorded/series/: {missing}"
    return recs


def test_each_recorded_pairing_has_the_readout_control_and_one_pretraining_per_seed():
    recs = _records()
    false = 0
    for name, rec in recs.items():
        out = rec["series"]
        assert "--seeds 3" in rec["command"] and rec["command"].startswith("idim series "), name
        tfs = any(pretrain.target_from_source_labels(s, out["task"]) for s in out["sources"])
        assert out["target_from_source_labels"] is tfs, name
        false += not tfs
        for e in out["entries"]:
            assert e["status"] == "done" and e["seeds"] == 3, (name, e)
            for key in ("d90_status", "d90_ci", "baseline", "probe_accuracy", "probe_clears", "dead_fraction"):
                assert key in e, (name, key)
            assert 0.0 <= e["dead_fraction"] <= 1.0 and 0.0 <= e["probe_accuracy"] <= 1.0
            assert e["probe_clears"] == (e["probe_accuracy"] >= e["threshold"])
            if e["pretrain_epochs"]:
                runs = e["pretrain_runs"]
                assert len(runs) == 3 and len(set(runs)) == 3, (name, runs)
                assert e["source_lr"] is not None
                kind = pretrain.parse_source(e["pretrain"]).kind
                assert (e["source_accuracy"] is None) == (kind == "denoise")
                if kind == "shuffled":  # fitted at every seed, or said to be no control
                    assert e["control"] in ("fits its labels", "no control")
                    if e["control"] == "fits its labels":
                        assert e["source_train_accuracy"] >= pretrain.FITS
        # every pre-trained entry's pre-training is its own: no file shared between entries either
        files = [f for e in out["entries"] for f in (e.get("pretrain_runs") or [])]
        assert len(files) == len(set(files)), name
    assert false >= 2  # at least two pairings whose target labels are not a function of the source's


def test_every_text_states_the_recomputed_verdicts():
    docs = {p: p.read_text(encoding="utf-8") for p in DOCS}
    for name, rec in _records().items():
        lines = series.findings(rec)
        md = (series.RECORDED_SERIES / f"{name}.md").read_text(encoding="utf-8")
        for line in lines:
            assert line in md, (name, line)
            for p, text in docs.items():
                assert line in text, (p.name, line)
        # a verdict is "shown" only where the ratio's interval says so; the texts add no other "shown"
        shown = sum(x.endswith(": shown") for x in lines)
        assert md.count(": shown") == shown, name


def test_the_lesson_and_its_plan_tell_the_recorded_pairings():
    from idim_core.ui import lesson
    from idim_core.ui.text import plain_task

    step = next(s for s in lesson.STEPS if s.key == "series")
    said = lesson.takeaway(step)
    for name in series.PAIRINGS:
        rec = series.recorded(name)
        lines = series.verdict(rec["series"], series.recorded_results(rec), name=plain_task)
        told = lesson.lesson_lines(lines)
        assert len(told) == 2 and all(x in said for x in told), told
        assert told[0].startswith(plain_task(rec["series"]["sources"][0]))
    plan = (ROOT / "docs" / "tutorials" / "class-in-45-minutes.md").read_text(encoding="utf-8")
    assert said in plan
    out = subprocess.run([sys.executable, "scripts/gen_lesson_plan.py", "--check"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_learn_states_each_pairing_and_its_verdicts(home, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from idim_core.ui.text import plain_task

    monkeypatch.setenv("IDIM_NO_AUTOSTART_WORKER", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("pages/learn.py").run()
    assert not at.exception, [e.value for e in at.exception]
    words = " ".join(m.value for m in at.markdown)
    for rec in _records().values():
        for line in series.findings(rec, name=plain_task):
            assert line in words, line


def test_the_series_page_draws_a_recorded_pairing_with_its_readout(home, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from idim_core.ui.text import plain_task

    monkeypatch.setenv("IDIM_NO_AUTOSTART_WORKER", "1")
    name = series.PAIRINGS[0]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("pages/series.py")
    at.query_params["series"] = "recorded:" + name
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    words = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    rec = series.recorded(name)
    for line in series.verdict(rec["series"], series.recorded_results(rec), name=plain_task):
        assert line in words, line
    assert "readout control" in words and "target_from_source_labels" in words
