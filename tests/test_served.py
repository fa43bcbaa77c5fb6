"""Served mode and untrusted text: no link reads a server file, nothing from a link or the store is live
markdown, exports are not formulas or live HTML (issue 22 items 1, 6, 7; issue 21 item 9, page side).

Real pages through AppTest, a real SQLite store in tmp_path, real files; nothing mocked.
"""
from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
import test_app
from test_app import app, seed_run

from idim_core.results import export_csv, result
from idim_core.ui import figures, serving, text
from idim_core.ui.keys import keys_for
from idim_core.ui.serving import served_mode

store = test_app.store  # the Store fixture, shared: pytest finds it here by this name

INJECT = "x [Session expired](https://example.invalid/login) ![](https://example.invalid/p.png)"
E = keys_for("explore")  # the Explore page's widget keys
LIVE_LINK = re.compile(r"(?<!\\)\]\(")  # "](" not escaped: a markdown link or image


def secret_file(tmp_path):
    """A CSV-shaped file that must never reach a page through a link: every line holds a unique marker."""
    marker = "SECRET" + uuid.uuid4().hex
    p = tmp_path / "private" / "secret.csv"
    p.parent.mkdir()
    p.write_text(f"text_{marker},label\n" + "".join(f"row {i} {marker},{i % 2}\n" for i in range(30)))
    return p, marker


def shown(at) -> str:
    """Everything the page shows as text: markdown of every kind, widget labels and options, tables."""
    parts = []
    for kind in ("markdown", "caption", "info", "error", "warning", "success", "text", "code", "title",
                 "header", "subheader", "toast", "exception"):
        parts += [str(e.value) for e in at.get(kind)]
    for kind in ("selectbox", "radio", "multiselect"):
        for w in at.get(kind):
            parts += [str(w.label)] + [str(o) for o in (w.options or [])]
    for w in at.get("text_input"):
        parts += [str(w.label), str(w.value)]
    for df in at.get("dataframe"):
        parts.append(df.value.to_csv())
    return "\n".join(parts)


def markdown_bodies(at) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "info", "error", "warning", "success", "title", "header", "subheader"):
        out += [str(e.value) for e in at.get(kind)]
    return out


def csv_bytes(rows, delimiter=","):
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def review_rows(n=40):
    return [["review", "label"]] + [[f"review number {i}, {'good' if i % 2 else 'bad'}", "pos" if i % 2 else "neg"]
                                    for i in range(n)]


# ---------------------------------------------------------------------------
# served mode: when it is on
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("address,env,expected", [
    ("127.0.0.1", {}, False), ("localhost", {}, False), ("::1", {}, False), ("127.0.1.1", {}, False),
    ("0.0.0.0", {}, True), ("", {}, True), ("192.168.1.20", {}, True), ("::", {}, True),
    ("127.0.0.1", {"IDIM_SERVED": "1"}, True), ("127.0.0.1", {"IDIM_SERVED": "0"}, False),
])
def test_served_mode_follows_the_address_and_the_setting(address, env, expected):
    assert served_mode(address, env) is expected


# ---------------------------------------------------------------------------
# item 1: a link never reads a server file
# ---------------------------------------------------------------------------
def test_a_link_naming_a_csv_is_not_read_until_the_user_confirms(store, tmp_path):
    p, marker = secret_file(tmp_path)
    at = app({"model": "minilm-l1", "task": f"csv:{p}"})
    assert marker not in shown(at).replace(str(p), "")  # the path itself may be shown, never the file
    assert len(at.dataframe) == 0
    assert any("reads it only when you confirm" in i.value for i in at.info)
    at.button(key=E("button", "start")).click().run()  # Start does not read it either
    assert not at.exception and store.list_runs() == []
    assert any("confirm the CSV file" in e.value for e in at.error), [e.value for e in at.error]
    assert marker not in shown(at).replace(str(p), "")
    # the user's own decision: now the preview shows the file (so the check above can see a leak)
    at.button(key=E("button", "csv_confirm")).click().run()
    assert marker in shown(at).replace(str(p), "")


def test_served_mode_refuses_a_link_naming_a_csv_and_has_no_path_box(store, tmp_path, monkeypatch):
    monkeypatch.setenv(serving.SERVED_ENV, "1")
    p, marker = secret_file(tmp_path)
    at = app({"model": "minilm-l1", "task": f"csv:{p}"})
    assert marker not in shown(at)
    assert str(p) not in shown(at)
    assert any("upload" in w.value and "names a file on the server" in w.value for w in at.warning)
    assert not at.get("text_input") or all("path" not in t.label for t in at.text_input)
    assert not [b for b in at.button if b.key == E("button", "csv_confirm")]
    assert any(serving.NOTE in c.value for c in at.caption)  # the page says so in one line
    at.button(key=E("button", "start")).click().run()
    assert store.list_runs() == [] and marker not in shown(at)


def test_served_mode_offers_only_bundled_models_and_tasks(store, tmp_path, monkeypatch):
    monkeypatch.setenv(serving.SERVED_ENV, "1")
    model_dir = tmp_path / "teacher-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    for model in (str(model_dir), "prajjwal1/bert-tiny"):
        at = app({"model": model})
        opts = at.selectbox(key=E("model")).options
        assert model not in opts and not any("other" in o or "download" in o for o in opts), opts
        assert at.selectbox(key=E("model")).value.startswith("minilm-l6")
        assert any("not a bundled model" in w.value for w in at.warning), [w.value for w in at.warning]
        assert not at.get("text_input") or all(t.value != model for t in at.text_input)
    tasks = at.selectbox(key=E("task")).options
    assert not any(t.startswith("glue/") for t in tasks) and tasks[-1].startswith("other")
    assert not [r for r in at.radio if r.key == E("executor")]  # no Ray address to name
    assert "Served mode" in " ".join(c.value for c in at.sidebar.caption)
    assert str(store.home) not in " ".join(c.value for c in at.sidebar.caption)
    seed_run(store, {10: [0.5], 100: [0.75]})
    at = app({}, "pages/runs.py")
    assert str(store.home) not in shown(at) and "the run store" in " ".join(c.value for c in at.caption)


def test_served_mode_upload_works_and_names_files_by_their_upload_name(store, monkeypatch):
    monkeypatch.setenv(serving.SERVED_ENV, "1")
    at = app({"model": "minilm-l1", "task": "csv:", "dims": "10,100"})
    assert not any("names a file" in w.value for w in at.warning)  # a bare task=csv: opens the upload box
    at.file_uploader(key=E("task_upload")).set_value(
        ("my reviews.csv", csv_bytes(review_rows(), ";"), "text/csv")).run()
    assert not at.exception
    assert at.selectbox(key=E("csv_text")).value == "review" and at.selectbox(key=E("csv_label")).value == "label"
    at.button(key=E("button", "start")).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    cfg = store.list_runs()[0]["config"]
    assert cfg["task"].startswith("csv:") and str(store.home / "uploads") in cfg["task"]


# ---------------------------------------------------------------------------
# issue 21 item 9: an uploaded file is never "the path of your CSV file", nor its server path
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("data,why", [
    ("text,label\ncafé,1\nthé,0\n".encode("latin-1") * 40, "UTF-8"),
    ("text,label\n".encode("utf-16") + "a,1\nb,0\n".encode("utf-16-le") * 40, "UTF-8"),
    (b"just one column\nrow\nrow\nrow\n", "one column"),
])
def test_a_refused_upload_is_named_by_its_own_name(store, data, why):
    at = app({"model": "minilm-l1", "task": "csv:"})
    at.file_uploader(key=E("task_upload")).set_value(("class list.csv", data, "text/csv")).run()
    at.button(key=E("button", "start")).click().run()
    assert not at.exception and store.list_runs() == []
    errs = [e.value for e in at.error]
    assert errs and all("path of your CSV" not in e for e in errs), errs
    assert any(why in e and "class list.csv" in e for e in errs), errs
    page = shown(at)
    assert "uploads" not in page and str(store.home) not in page


# ---------------------------------------------------------------------------
# item 6: markdown injection through links and the store
# ---------------------------------------------------------------------------
def test_runs_page_shows_an_injected_run_id_as_text(store):
    seed_run(store, {10: [0.5], 100: [0.75]})
    at = app({"run": INJECT}, "pages/runs.py")
    bodies = markdown_bodies(at)
    assert any("Session expired" in b for b in bodies)
    assert not [b for b in bodies if LIVE_LINK.search(b)], bodies


def test_live_page_shows_an_injected_run_id_as_text(store):
    seed_run(store, {10: [0.5], 100: [0.75]})
    at = app({"run": INJECT}, "pages/live.py")
    bodies = markdown_bodies(at)
    assert any("Session expired" in b for b in bodies)
    assert not [b for b in bodies if LIVE_LINK.search(b)], bodies


@pytest.mark.parametrize("page,query,served", [
    (None, {"seeds": INJECT}, False), (None, {"task": INJECT}, False), (None, {"model": INJECT}, True),
    ("pages/compare.py", {"comparison": INJECT}, False),
])
def test_other_pages_show_injected_link_values_as_text(store, monkeypatch, page, query, served):
    if served:
        monkeypatch.setenv(serving.SERVED_ENV, "1")
    seed_run(store, {10: [0.5], 100: [0.75]})
    at = app(query, page)
    bodies = markdown_bodies(at)
    assert any("Session expired" in b for b in bodies), bodies
    assert not [b for b in bodies if LIVE_LINK.search(b)], bodies


def test_store_text_is_shown_as_text_on_live_and_runs(store):
    rid = seed_run(store, {10: [0.5], 100: [0.75]}, status="failed")
    cfg = dict(store.get_run(rid)["config"], task=f"csv:/data/{INJECT}.csv")
    store.update_run(rid, error=f"could not read {INJECT}", config=cfg)
    for page in ("pages/live.py", "pages/runs.py"):
        at = app({"run": rid}, page)
        bodies = markdown_bodies(at)
        assert any("Session expired" in b for b in bodies), (page, bodies)
        assert not [b for b in bodies if LIVE_LINK.search(b)], (page, bodies)


def test_md_escapes_links_images_and_leaves_plain_words():
    assert not LIVE_LINK.search(text.md(INJECT)) and "![" not in text.md(INJECT)
    assert text.md("not UTF-8: 0.50 (a, b)") == "not UTF-8: 0.50 (a, b)"
    assert "https://" not in text.md("see https://example.invalid") and "www." not in text.md("www.example.invalid")
    assert text.md("line\n# heading") == "line \\# heading" or "\n" not in text.md("line\n# heading")
    assert text.code("a`b") == "``a`b``"


# ---------------------------------------------------------------------------
# item 7: exports
# ---------------------------------------------------------------------------
def _renamed_run(store, model, task):
    """A finished run whose stored model and task carry what a spreadsheet or a browser would run."""
    rid = seed_run(store, {10: [0.5], 100: [0.75]})
    store.update_run(rid, config=dict(store.get_run(rid)["config"], model=model, task=task))
    return result(store, rid)


@pytest.mark.parametrize("model", ["=HYPERLINK(\"https://example.invalid\",\"x\")", "+1+1", "-2+3", "@SUM(A1)",
                                   "\tcmd", "\rcmd"])
def test_csv_export_cells_never_start_a_formula(store, model):
    res = _renamed_run(store, model, "=1+2")
    rows = list(csv.reader(io.StringIO(export_csv(res), newline="")))
    header, row = rows[0], rows[1]
    assert len(rows) == 3
    assert row[header.index("model")] == "'" + model.replace("\r", "\n")  # a lone CR would end the row
    assert row[header.index("task")] == "'=1+2"
    assert float(row[header.index("accuracy")]) == pytest.approx(0.5) and row[header.index("d")] == "10"
    assert row[header.index("run_id")] == res["run_id"]  # ordinary text unchanged


def test_html_export_escapes_the_run_words(store):
    task = 'csv:/data/<a href="https://example.invalid">click</a><img src="https://example.invalid/p.png">.csv'
    res = _renamed_run(store, "minilm-l2", task)
    page = figures.figure_html(figures.run_figure(res), res)
    # plotly writes the figure as JSON with <, > and & as \u003c, \u003e, \u0026: undo that to read it
    data = page.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&")
    assert "&lt;a href=" in data and "&lt;img src=" in data
    assert '<a href="https://example.invalid">' not in data and '<img src="https://example.invalid' not in data


def test_app_charts_show_a_runs_html_words_as_text(store):
    """Plotly draws <a href> in legend names and annotations as a live link: the run's words are escaped."""
    task = 'csv:/data/<a href="https://example.invalid">click</a>.csv'
    res = _renamed_run(store, '<a href="https://example.invalid">m</a>', task)
    res["stats"] = res.get("stats") or [{"d": 10, "gap_mean": 0.1}]
    figs = [figures.run_figure(res), figures.compare_figure([res]), figures.params_figure([res]),
            figures.claim_figure([res], "gap_mean", "gap", baseline_key="baseline_accuracies")]
    for fig in figs:
        words = [t.name or "" for t in fig.data] + [a.text or "" for a in fig.layout.annotations or ()]
        assert not [w for w in words if "<a " in w], words
    assert any("&lt;a href=" in (t.name or "") for t in figs[1].data)


# ---------------------------------------------------------------------------------------------- issue 46
def test_in_served_mode_another_browsers_run_is_read_only(store, monkeypatch):
    """A run another browser started: no Cancel, Resume or Delete on Runs or Live, one sentence saying why; the
    run this browser starts keeps its buttons after a rerun."""
    monkeypatch.setenv("IDIM_SERVED", "1")
    theirs = seed_run(store, {10: [0.5]}, status="queued")
    store._q("UPDATE runs SET visitor='another-browser0' WHERE id=?", (theirs,))
    for page, buttons in (("pages/runs.py", ("runs:button:cancel", "runs:button:delete")),
                          ("pages/live.py", ("live:button:cancel",))):
        at = app({"run": theirs}, page)
        keys = {b.key for b in at.button}
        assert not keys & set(buttons), (page, keys)
        assert any("started from another browser" in c.value for c in at.caption), page
    # the teacher (not served) may act on it
    monkeypatch.delenv("IDIM_SERVED")
    at = app({"run": theirs}, "pages/runs.py")
    assert "runs:button:cancel" in {b.key for b in at.button}


def test_the_visitor_identity_comes_from_the_browsers_xsrf_cookie():
    from pages import _visitors as visitors

    token = bytes(range(16))

    def cookie(mask: bytes) -> str:  # as Tornado writes it: a fresh 4-byte mask each response, repeated
        return f"2|{mask.hex()}|{bytes(t ^ mask[i % 4] for i, t in enumerate(token)).hex()}|1700000000"

    assert visitors._token(cookie(b"\xf8\xbf\xc2\x25")) == token.hex()  # the token, whatever the mask
    assert visitors._token(cookie(b"\xa6\xb4\xfc\x8c")) == token.hex()
    assert visitors._token(None) is None and visitors._token("plain") == "plain"


def test_served_fair_shares_refuse_in_one_line_before_anything_is_stored(store, monkeypatch):
    from idim_core.errors import UserError
    from pages import _visitors as visitors

    monkeypatch.setenv("IDIM_SERVED", "1")
    monkeypatch.setattr(visitors, "visitor_id", lambda: "me-browser-00000")
    for _ in range(visitors.MAX_PER_VISITOR):
        rid = seed_run(store, {10: [0.5]}, status="queued")
        store._q("UPDATE runs SET visitor='me-browser-00000' WHERE id=?", (rid,))
    with pytest.raises(UserError, match="each browser may have 3 at a time"):
        visitors.check_share(store, 60.0)
    monkeypatch.setattr(visitors, "visitor_id", lambda: "someone-else-000")
    visitors.check_share(store, 60.0)  # another browser still has its share
    with pytest.raises(UserError, match="may take at most 30 min"):
        visitors.check_share(store, 3_298_378.6 * 3600)
    with pytest.raises(UserError, match="a series may queue at most 12"):
        visitors.check_series(store, 2001)
    monkeypatch.setattr(visitors, "MAX_QUEUE", 3)
    with pytest.raises(UserError, match="queue is full"):
        visitors.check_share(store, 60.0)


@pytest.mark.parametrize("query", [
    {"run": "Session expired: sign in again at https://evil.example/login"},
    {"run": "www.evil.example"},
    {"run": "write to name@evil.example"},
])
def test_text_from_a_link_never_becomes_a_link_in_served_mode(store, monkeypatch, query):
    monkeypatch.setenv("IDIM_SERVED", "1")
    at = app(query, "pages/live.py")
    body = " ".join(markdown_bodies(at))
    assert "evil" in body  # the text is shown ...
    for linky in ("https://evil", "www.evil", "@evil"):
        assert linky not in body, body  # ... but never as a bare address GFM would link


def test_served_pages_show_no_server_path(store, monkeypatch):
    monkeypatch.setenv("IDIM_SERVED", "1")
    at = app({"run": "000000000000"}, "pages/live.py")
    body = shown(at)
    assert "000000000000" in body and str(store.home) not in body and "idim.db" in body
    assert str(store.path) not in body


def test_served_mode_hides_error_details(store, monkeypatch):
    import streamlit as st

    before = st.get_option("client.showErrorDetails")
    monkeypatch.setenv("IDIM_SERVED", "1")
    try:
        app(None, None)
        assert st.get_option("client.showErrorDetails") == "none"
    finally:  # the option lives in this process: give the other tests theirs back
        st.set_option("client.showErrorDetails", before)


def test_an_upload_that_cannot_be_saved_is_one_line(tmp_path):
    from idim_core.errors import UserError
    from idim_core.ui import forms

    home = tmp_path / "h"
    home.mkdir()
    (home / "uploads").write_text("not a folder")  # the uploads folder cannot be made: an OSError inside
    with pytest.raises(UserError, match="could not be saved on the server"):
        forms.save_upload(home, "mine.csv", b"text,label\na,0\n")


def test_uploads_keep_to_their_quota_and_never_remove_what_a_run_reads(tmp_path):
    import os
    import time

    from idim_core.errors import UserError
    from idim_core.ui import forms

    home = tmp_path / "h"
    rows = b"text,label\n" + b"".join(b"row %d,%d\n" % (i, i % 2) for i in range(200))
    old = forms.save_upload(home, "old.csv", rows + b"a,0\n")
    used = forms.save_upload(home, "used.csv", rows + b"b,1\n")
    for i, p in enumerate((old, used)):
        os.utime(p, (time.time() - 100 + i, time.time() - 100 + i))
    quota = old.stat().st_size + used.stat().st_size + 10
    forms.make_room(home, len(rows) + 4, {used.name}, quota=quota)  # the oldest unused one goes
    assert not old.exists() and used.exists()
    with pytest.raises(UserError, match="uploads are full"):
        forms.make_room(home, quota, {used.name}, quota=quota)  # what a run reads is never removed
    forms.discard_upload(used, {used.name})
    assert used.exists()
    forms.discard_upload(used, set())  # a refused upload no run reads is not kept
    assert not used.exists()


def test_a_served_page_on_a_read_only_store_says_one_line_and_keeps_the_form(store, monkeypatch):
    """Start, Resume and Delete on a store this process cannot write: one line each, no traceback, no path."""
    from idim_core.store import Store
    from idim_core.ui import workers

    monkeypatch.setenv("IDIM_SERVED", "1")
    rid = seed_run(store, {10: [0.5]}, status="failed")
    ro = Store(store.home, readonly=True)
    monkeypatch.setattr(workers, "get_store", lambda: ro)
    monkeypatch.setattr("pages._visitors.is_teacher", lambda: True)  # the teacher, so the buttons show
    at = app({"model": "mlp", "task": "digits", "seeds": "1"})
    at.button(key="explore:button:start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errs = [e.value for e in at.error]
    assert len(errs) == 1 and "read-only" in errs[0] and str(store.home) not in errs[0], errs
    at = app({"run": rid}, "pages/runs.py")
    at.button(key="runs:button:resume").click().run()
    assert not at.exception and any("read-only" in e.value for e in at.error)
    at = app({"run": rid}, "pages/runs.py")
    at.button(key="runs:button:delete").click().run()
    at.button(key="runs:button:delete_yes").click().run()
    assert not at.exception and any("read-only" in e.value for e in at.error)
    assert store.get_run(rid) is not None  # nothing was deleted


def test_a_csv_whose_first_row_looks_like_an_example_is_said():
    from idim_core.ui import forms

    assert forms.header_doubt(["text", "label"]) is None and forms.header_doubt(["sentence", "label", "id"]) is None
    assert "looks like a value" in forms.header_doubt(["I loved this film from start to end", "1"])
    assert "'1'" in forms.header_doubt(["great", "1"])
