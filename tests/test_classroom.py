"""The classroom on Live: replay a finished run in seconds, and the class's guesses of where it will cross.

Real pages through AppTest on a real SQLite store; the browser half is in tests/test_browser.py."""
from __future__ import annotations

import json

import test_app
from conftest import run_cli
from test_app import app, seed_run

from idim_core import demo
from idim_core.ui import replay

store = test_app.store  # the Store fixture, shared: pytest finds it here by this name


def test_replay_reads_its_length_from_the_address_and_paces_the_points():
    assert replay.seconds_of("1") == replay.DEFAULT_SECONDS and replay.seconds_of("20") == 20
    assert replay.seconds_of("999") == replay.MAX_SECONDS and replay.seconds_of("0.5") == replay.MIN_SECONDS
    for bad in ("", "0", "x", "٣", "-5"):
        assert replay.seconds_of(bad) is None
    assert replay.shown_at(0.5, 10, 20) == 0  # the ruler alone first
    assert 0 < replay.shown_at(10, 10, 20) < 10 and replay.shown_at(20, 10, 20) == 10


def test_a_replay_starts_with_the_ruler_and_no_d90(store):
    rid = demo.import_recorded(store, demo.EXAMPLE_JSON)
    at = app({"run": rid, "replay": "20"}, "pages/live.py")
    assert any("Replay" in i.value for i in at.info)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    roles = {(t.get("meta") or {}).get("role") for t in fig["data"] if isinstance(t.get("meta"), dict)}
    assert {"baseline", "threshold"} <= roles and "d90" not in roles  # the ruler first, the answer last
    assert all("d90 ≈" not in c.value for c in at.caption)


def test_a_guess_is_stored_once_per_browser_drawn_and_in_the_json(store, home):
    rid = seed_run(store, {10: [0.5], 100: [0.7]}, status="running")
    at = app({"run": rid}, "pages/live.py")
    box = next(n for n in at.number_input if "guess" in n.label.lower() or "cross" in n.label.lower())
    box.set_value(300).run()
    at.button(key=f"live:button:guess:{rid}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [g["d"] for g in store.guesses(rid)] == [300.0]
    assert any("Your guess is in" in c.value for c in at.caption)
    # another browser's guess, and the teacher's chart draws both
    store.add_guess(rid, "another-browser0", 1200)
    assert not store.add_guess(rid, "another-browser0", 50)  # one guess per browser
    at = app({"run": rid}, "pages/live.py")
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    rug = next(t for t in fig["data"] if (t.get("meta") or {}).get("role") == "guesses")
    assert sorted(rug["x"]) == [300, 1200]
    shown = json.loads(run_cli("show", rid, "--json", home=home).stdout)
    assert sorted(g["d"] for g in shown["guesses"]) == [300, 1200]


def test_the_teacher_can_hide_d90_until_revealing_it(store):
    rid = seed_run(store, {10: [0.5], 100: [0.75], 1000: [0.79]}, baseline=0.8)
    at = app({"run": rid}, "pages/live.py")
    assert any("d90 ≈" in c.value for c in at.caption)
    at.toggle(key="live:toggle:hide_d90").set_value(True).run()
    assert not at.exception
    assert all("d90 ≈" not in c.value for c in at.caption)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "d90" not in {(t.get("meta") or {}).get("role") for t in fig["data"] if isinstance(t.get("meta"), dict)}
