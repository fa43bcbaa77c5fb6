"""The lesson deck: `lesson?step=N`, the 45-minute class one idea and one large chart per screen.

The steps are idim_core/ui/lesson.py's (the lesson plan in docs/tutorials/ is written from the same list); every
number is read from the records when the step is drawn.  The presenter view is on unless the address says
present=0; Back / Next and the arrow keys move between steps, and the step stays in the address.
"""
import streamlit as st

from idim_core import demo
from idim_core.errors import UserError
from idim_core.ui import figures, lesson, text, workers
from idim_core.ui.keys import keys_for
from idim_core.ui.views import PRESENTER_CSS
from pages._first_run import through_app
from pages._guess import class_link, guess_box

through_app()
K = keys_for("lesson")

present = st.query_params.get("present", "1") not in ("0", "false", "no")
if present:
    st.set_page_config(initial_sidebar_state="collapsed")
    st.markdown(PRESENTER_CSS, unsafe_allow_html=True)
n_steps = len(lesson.STEPS)
raw = st.query_params.get("step", "1")
i = lesson.step_of(raw)
if str(raw) != str(i):
    st.query_params["step"] = str(i)  # an unreadable or out-of-range step opens the nearest one
step = lesson.STEPS[i - 1]


def go(to: int) -> None:
    st.query_params["step"] = str(to)


# Back, the step's title, Next: one row, so the chart below fills the screen
c_back, c_title, c_next = st.columns([1, 8, 1], vertical_alignment="center")
c_back.button("‹ Back", key=K("button", "back"), disabled=i == 1, on_click=go, args=(i - 1,),
              help="The previous step (or the left arrow key)")
c_next.button("Next ›", key=K("button", "next"), disabled=i == n_steps, on_click=go, args=(i + 1,),
              help="The next step (or the right arrow key)")
c_title.markdown(f"### {i}. {text.md(step.title)} <span style='font-size:0.7em;color:#777'>"
                 f"({i} of {n_steps} · minutes {step.minutes})</span>", unsafe_allow_html=True)
# The arrow keys press Back / Next (not while typing in a box); added once per browser tab
st.html("""<script>
if (!window.__idimLessonKeys) {
  window.__idimLessonKeys = true;
  document.addEventListener('keydown', (e) => {
    if (!location.pathname.replace(/\\/+$/, '').endsWith('/lesson')) return;
    const t = e.target && e.target.tagName;
    if (t === 'INPUT' || t === 'TEXTAREA' || t === 'SELECT' || e.altKey || e.ctrlKey || e.metaKey) return;
    const want = e.key === 'ArrowRight' ? 'Next' : e.key === 'ArrowLeft' ? 'Back' : null;
    if (!want) return;
    const b = [...document.querySelectorAll('[data-testid="stMain"] button')]
      .find((x) => x.innerText.replace('‹', '').replace('›', '').trim() === want);
    if (b && !b.disabled) { e.preventDefault(); b.click(); }
  });
}
</script>""", unsafe_allow_javascript=True)

chart_col, words_col = st.columns([3, 1.15])
try:
    fig = lesson.figure(step)
    words = lesson.takeaway(step)
except UserError as e:  # a record missing from this copy: say which, keep the deck moving
    st.error(text.md(e))
    st.stop()
with chart_col:
    if fig is not None:
        st.plotly_chart(figures.presenter(fig, plot=lesson.PLOT) if present else fig, key=K("chart", step.key),
                        theme=None if present else "streamlit", config={"displaylogo": False})
with words_col:
    st.markdown(text.md(step.idea))
    st.markdown(f"**{text.md(words)}**")
    st.markdown(f"*Ask:* {text.md(step.ask)}")
    # What the step links to: the run replayed on Live (with the class's guesses), the comparison on Compare
    store = workers.get_store()
    if step.key == "guess":
        try:
            rid = demo.import_recorded(store, demo.RECORDED_DIR / f"{step.records[0]}.json")
        except UserError as e:
            st.error(text.md(e))
        else:
            guess_box(store, rid, K)
            st.page_link("pages/live.py", label="Replay it on Live (30 s), the guesses on the chart",
                         icon=":material/replay:", query_params={"run": rid, "replay": "30", "present": "1"})
    elif step.comparison:
        st.page_link("pages/compare.py", label="Open these runs in Compare", icon=":material/compare_arrows:",
                     query_params={"comparison": step.comparison, "present": "1"})
    elif step.key == "series":
        st.page_link("pages/series.py", label="The series page", icon=":material/stacked_line_chart:",
                     query_params={"present": "1"})
if step.key in ("idea", "guess"):  # in served mode: the address students open, and its QR code
    class_link("lesson?step=3" if step.key == "guess" else "lesson?step=1")
