"""The lesson deck (/lesson?step=N), the lesson plan written from it, plain task names, the presenter
figure's sizes and the class's address."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from idim_core.ui import figures, lesson, serving
from idim_core.ui.text import plain_task

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


@pytest.fixture
def deck(home, monkeypatch):
    monkeypatch.setenv("IDIM_NO_AUTOSTART_WORKER", "1")

    def open_step(step) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=180)
        at.run()
        at.query_params.clear()
        at.query_params.update({"step": str(step)})
        at.switch_page("pages/lesson.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    return open_step


def test_every_step_renders_one_chart_and_its_numbers_from_the_records(deck):
    for i, step in enumerate(lesson.STEPS, 1):
        at = deck(i)
        charts = at.get("plotly_chart")
        assert len(charts) == 1, (i, step.key)
        fig = json.loads(charts[0].proto.spec)
        assert fig["layout"]["height"] >= lesson.PLOT, (i, fig["layout"]["height"])
        shown = " ".join(m.value for m in at.markdown)
        assert lesson.takeaway(step).split(" (")[0][:40].replace("*", "") in shown.replace("\\", ""), (i, step.key)
        assert f"{i}. " in shown and f"{i} of {len(lesson.STEPS)}" in shown


def test_the_step_in_the_address_is_read_safely_and_next_moves_on(deck):
    for raw, want in (("0", 1), ("999", len(lesson.STEPS)), ("x", 1), ("٣", 1), ("-2", 1), ("", 1)):
        assert lesson.step_of(raw) == want, raw
    at = deck("999")
    assert at.query_params["step"] == [str(len(lesson.STEPS))] or at.query_params["step"] == str(len(lesson.STEPS))
    assert at.button(key="lesson:button:next").disabled
    at = deck(1)
    assert at.button(key="lesson:button:back").disabled
    at.button(key="lesson:button:next").click().run()
    step = at.query_params["step"]
    assert (step[0] if isinstance(step, list) else step) == "2"


def test_the_guess_step_takes_one_guess_per_browser(deck, home):
    from idim_core.store import Store

    i = next(n for n, s in enumerate(lesson.STEPS, 1) if s.key == "guess")
    at = deck(i)
    box = next(n for n in at.number_input if "guess" in n.label.lower() or "cross" in n.label.lower())
    box.set_value(450).run()
    submit = next(b for b in at.button if b.label == "Submit guess")
    submit.click().run()
    assert not at.exception
    store = Store(home)
    (run,) = [r for r in store.list_runs() if r["config"].get("recorded")]
    assert [g["d"] for g in store.guesses(run["id"])] == [450.0]
    assert any("Your guess is in" in c.value for c in at.caption)


def test_the_lesson_plan_is_the_one_the_deck_writes():
    """docs/tutorials/class-in-45-minutes.md follows the deck step by step, its numbers from the records."""
    r = subprocess.run([sys.executable, "scripts/gen_lesson_plan.py", "--check"], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    page = (ROOT / "docs" / "tutorials" / "class-in-45-minutes.md").read_text(encoding="utf-8")
    for i, step in enumerate(lesson.STEPS, 1):
        assert f"### {i}. {step.title}" in page and f"`/lesson?step={i}`" in page
    for old in ("393", "about 11×", "overlap: not shown"):  # the figures the old plan had wrong
        assert old not in page


def test_plain_task_names():
    assert plain_task("mnist5k:ge5@b") == "digit ≥ 5 or below, the other half of the images"
    assert plain_task("mnist5k@a:shuffled").endswith("labels shuffled (the control)")
    assert plain_task("trec6").startswith("TREC questions")
    assert plain_task("csv:/srv/idim/uploads/data.csv") == "data.csv"
    assert plain_task("no-such-task") == "no-such-task"
    assert plain_task("") == ""


def test_presenter_figures_have_a_tall_plot_and_a_legend_that_fits():
    from idim_core import demo

    r = demo.recorded_result("mlp-mnist5k")
    fig = figures.presenter(figures.run_figure(r))
    lay = fig.layout
    assert lay.height - lay.margin.t - lay.margin.b >= figures.PRESENT_PLOT >= 430
    assert lay.legend.orientation == "v" and lay.legend.yref == "paper"  # inside the plot
    words = " ".join(a.text for a in lay.annotations)
    assert "threshold" in words and "full training" in words  # the lines named on the lines
    named = [t for t in fig.data if t.showlegend is not False and t.name]
    assert len(named) * (figures.PRESENT_FONT + 10) <= 0.6 * figures.PRESENT_PLOT
    many = [demo.recorded_result(n) for n in demo.COMPARISONS["shuffled-pixels"][1]]
    fig = figures.presenter(figures.compare_figure(many))
    assert fig.layout.height - fig.layout.margin.t - fig.layout.margin.b >= 430
    names = [t.name for t in fig.data if t.showlegend is not False and t.name]
    assert all("mnist5k" not in n for n in names)  # what every run shares is left out of the legend


def test_log_axis_ticks_never_list_every_digit():
    from idim_core import series

    rec = series.recorded("mlp-digit-ge5-amounts")
    fig = figures.presenter(figures.series_figure(rec["series"]))
    assert fig.layout.yaxis.dtick in (1, "D2") and fig.layout.yaxis.tickformat == "~s"


def test_the_class_address_never_names_loopback():
    assert serving.class_address("http://10.1.2.3:8501/lesson?step=3", "live?run=abc") == \
        "http://10.1.2.3:8501/live?run=abc"
    got = serving.class_address("http://127.0.0.1:8501/", "lesson?step=1")
    assert got is None or ("127.0.0.1" not in got and got.endswith(":8501/lesson?step=1"))
    assert serving.class_address("javascript:alert(1)") is None and serving.class_address(None) is None
    svg = serving.qr_svg("http://10.1.2.3:8501/lesson?step=1")
    assert svg is None or svg.startswith("<svg")
