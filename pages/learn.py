"""Learn: the idea, explained for a class, with a run to launch for each part."""
import streamlit as st

from idim_core import claims, demo
from idim_core.errors import UserError
from idim_core.ui import estimates, figures, prose, views, workers
from idim_core.ui.keys import keys_for
from pages._first_run import through_app
from pages._present import chart, presenter_switch

through_app()
K = keys_for("learn")

# Small configurations that finish in minutes on a laptop CPU (the 2-layer bundled model).
QUICK = {"model": "minilm-l2", "task": "mr", "dims": "10,100,1000,10000", "epochs": "2", "max_train": "512"}

# The prose: assets/learn/NN-*.md, one file per section (idim_core/ui/prose.py); the numbers in it are filled
# in here, from the records and the calibration.
TEXT = prose.sections()
SECTIONS = {n: s.title for n, s in TEXT.items() if n}


def header(n: int) -> None:
    """Section ``n``, with an anchor (#sN) the table of contents links to."""
    st.header(f"{n}. {SECTIONS[n]}" if n <= 10 else SECTIONS[n], anchor=f"s{n}")


def try_it(label: str, **params) -> None:
    st.page_link("pages/explore.py", label=f"Try it: {label}", icon=":material/science:",
                 query_params={**QUICK, **{k: str(v) for k, v in params.items()}})


def show_recorded(key: str, note: str = "") -> None:
    """A recorded comparison (assets/recorded/), drawn straight from its JSON files."""
    title, names = demo.COMPARISONS[key]
    try:
        results = [demo.recorded_result(n) for n in names]
    except UserError as e:
        st.caption(f"(The recorded comparison is not available: {e})")
        return
    st.markdown(f"**Measured here: {title}** (recorded runs)")
    if any(r.get("axis", "d") != "d" for r in results):
        chart(figures.params_figure(results, height=440), K("chart", "recorded", key), present)
    else:
        chart(figures.compare_figure(results, height=380), K("chart", "recorded", key), present)
    lines = []
    for r in results:
        warn = views.baseline_warning(r)
        word = views.baseline_word(r)  # the classic nets are trained from scratch: "full training"
        d90 = (f"{word} did not learn the task, so d90 says little" if warn else views.d90_text(r))
        shuf = "".join(f", shuffled {k}" for k in ("labels", "pixels") if r["config"].get(f"shuffle_{k}"))
        lines.append(f"- `{r['model']}` on `{r['task']}`{shuf}: {word} {r['baseline_accuracy']:.3f}; {d90}")
    st.markdown("\n".join(lines) + ("\n\n" + note if note else ""))
    st.page_link("pages/compare.py", label="Open these runs in Compare", icon=":material/compare_arrows:",
                 query_params={"comparison": key})


st.title("Learn: the intrinsic dimension of fine-tuning")
present = presenter_switch(K("toggle", "present"))
st.markdown(TEXT[0].text())

with st.expander("Contents", expanded=True):
    st.markdown("\n".join(f"{n}. [{t}](#s{n})" for n, t in SECTIONS.items()))

header(1)
st.markdown(TEXT[1].text())
st.latex(r"\theta \;=\; \theta_0 + P\,z, \qquad z \in \mathbb{R}^d,\; P \in \mathbb{R}^{D\times d},\; "
         r"z_{\text{start}} = 0")
st.markdown(TEXT[1].text("picture"))
chart(figures.idea_figure(), K("chart", "idea"), present)
st.markdown(TEXT[1].text("notes"))
try_it("subspace training with DID at d = 10 … 10,000", method="did")

header(2)
st.markdown(TEXT[2].text())
st.latex(r"d_{90} \;=\; \min\{\, d \;:\; \overline{\mathrm{acc}}(d) \;\ge\; 0.9 \times \mathrm{acc}_{\text{full}} \,\}")
st.markdown(TEXT[2].text("interpolated"))
st.latex(r"\log d_{90} \approx \log d_{lo} + \frac{0.9\,\mathrm{acc}_{\text{full}} - \mathrm{acc}(d_{lo})}"
         r"{\mathrm{acc}(d_{hi}) - \mathrm{acc}(d_{lo})}\,\bigl(\log d_{hi} - \log d_{lo}\bigr)")
st.markdown(TEXT[2].text("honest"))
try_it("an automatic d90 search (brackets, then bisects in log d)", dims="auto", method="said")
st.markdown(TEXT[2].text("probe", default_record=demo.default_record_sentence()))
try_it("d90 where the frozen features already reach the bar (mr)", model="minilm-l6", task="mr", method="said")

header(3)
st.markdown(TEXT[3].text())
st.latex(r"\theta_i \;=\; \theta_{0,i} + \lambda_{\ell(i)}\,(P\,z)_i")
st.markdown(TEXT[3].text("groups"))
c1, c2 = st.columns(2)
with c1:
    try_it("SAID", method="said")
with c2:
    try_it("DID (same settings)", method="did")

header(4)
st.markdown(TEXT[4].text())

header(5)
st.markdown(TEXT[5].text())
st.latex(r"P\,z \;=\; \text{stack of blocks }\; \mathrm{scale}\cdot H\,G\,\Pi\,H\,B\,z")
st.markdown(TEXT[5].text("pieces"))
try_it("the sparse projection instead of Fastfood", projection="sparse")

header(6)
st.markdown(TEXT[6].text())
c1, c2 = st.columns(2)
with c1:
    try_it("pretrained MiniLM (6 layers)", model="minilm-l6", dims="10,100,1000,10000,100000")
    try_it("2 layers of the same model", model="minilm-l2")
with c2:
    try_it("the same architecture, untrained", model="minilm-l6-untrained", dims="10,100,1000,10000,100000")
    try_it("6 layers", model="minilm-l6")
st.markdown(TEXT[6].text("compare"))
show_recorded("pretraining", TEXT[6].text("pretraining"))
show_recorded("depth")
st.page_link("pages/compare.py", label="Compare runs and the published figures", icon=":material/compare_arrows:")


def memorisation_ratio() -> str:
    """How many times the real labels' d90 the shuffled labels need, from the two records (worded, not typed)."""
    try:
        real, memo = demo.recorded_result("mlp-mnist5k"), demo.recorded_result("mlp-mnist5k-shuffled-labels")
        ratio = memo["p90_interpolated"] / real["p90_interpolated"]
        return (f"here about {ratio:.0f}× ({memo['n_train'] or 4000:,} random labels, "
                f"{memo['baseline_accuracy']:.0%} memorised)")
    except (UserError, KeyError, TypeError, ZeroDivisionError):
        return "here several times more"


header(7)
st.markdown(TEXT[7].text(classic_length=estimates.classic_length(workers.get_store(), workers.detect_device()),
                          memorisation=memorisation_ratio()))
st.page_link("pages/explore.py", label="Try it: the classic preset (MLP on 5,000 MNIST digits)",
             icon=":material/science:", query_params={"model": "mlp", "task": "mnist5k"})
show_recorded("classic", TEXT[7].text("note"))
show_recorded("shuffled-pixels")
show_recorded("memorisation")

header(8)
st.markdown(TEXT[8].text())
try_it("LoRA on the quick 2-layer model", method="lora", ranks="1,4,16")


def methods_verdicts() -> None:
    names = demo.COMPARISONS["methods"][1]
    try:
        said, lora, bitfit, head = (demo.recorded_result(n) for n in names[:4])
        more = [demo.recorded_result(n) for n in names[4:]]
    except UserError:
        return
    probe = max(r["mean"] for r in head["by_params"])
    thr, base = head["threshold"], head["baseline_accuracy"]
    n_head = head["by_params"][0]["d"]
    lines = [views.compare_sentence(("SAID", said), ("LoRA", lora)),
             views.compare_sentence(("SAID", said), ("BitFit", bitfit)),
             *(views.compare_sentence(("SAID", said), (figures.method_label(r), r)) for r in more),
             TEXT[8].text("head-only", n_head=n_head, probe=probe, seeds=head["by_params"][0]["n"], threshold=thr,
                          baseline=base)]
    if probe >= thr:
        lines.append(TEXT[8].text("probe-clears"))
    st.markdown(TEXT[8].text("verdicts") + "\n\n"
                + "\n".join(f"- {x}" for x in lines))


if "methods" in demo.available_comparisons():
    show_recorded("methods", TEXT[8].text("recorded"))
    methods_verdicts()

header(9)
st.markdown(TEXT[9].text())


def show_verdict(v, name: str) -> None:
    """One claim's verdict (idim_core/claims.py): the word, why, each model's numbers and intervals, and
    the table of the numbers it rests on."""
    st.markdown(v.text() + "\n\n" + "\n".join(f"- {x}" for x in v.lines))
    rows = []
    for f in v.facts:
        ci = f.get("ci")
        row = {"model": f["model"], "what": f["what"], "d": f"{f['d']:,}" if isinstance(f["d"], int) else f["d"],
               "value": round(f["value"], 3), "95 % interval": f"{ci[0]:.3f} – {ci[1]:.3f}" if ci else "not recorded",
               "seeds / pairs": f["n"]}
        if f.get("command"):
            row["command"] = f["command"]
        rows.append(row)
    if rows:
        with st.expander("The numbers behind this verdict"):
            st.dataframe(rows, hide_index=True, key=K("table", "claim", name))
    st.caption(f"Rests on: {v.rests_on}.")


def claims_section() -> None:
    try:
        runs = [demo.recorded_result(n) for n in demo.COMPARISONS["claims"][1]]
    except UserError as e:
        st.caption(f"(The recorded runs for this section are not available: {e})")
        return
    lm = next((r for r in runs if r["model"].startswith("minilm")), runs[-1])

    st.subheader("“Fine-tuning lowers the model's dimension (110M → 50M)”")
    st.markdown(TEXT[9].text("dimension", model=lm["model"], D=lm["D"], d90=views.d90_text(lm)))

    verdicts = {v.claim: v for v in claims.all_verdicts(runs)}  # idim_core/claims.py: the numbers, worded

    st.subheader("“A lower dimension trains faster”")
    speed = verdicts["A lower dimension trains faster"]
    show_verdict(speed, "speed")
    st.caption(TEXT[9].text("speed"))

    st.subheader("“A lower dimension improves performance by reducing overfitting”")
    chart(figures.claim_figure(runs, "gap_mean", "train − test accuracy (the gap)"),
                K("chart", "claim", "gap"), present)
    chart(figures.claim_figure(runs, "mean", views.accuracy_word(runs[0]), "baseline_accuracies"),
                K("chart", "claim", "accuracy"), present)
    show_verdict(verdicts["A lower dimension improves performance by reducing overfitting"], "gap")
    st.markdown(TEXT[9].text("papers"))
    rows = views.bound_rows(lm)
    if rows:
        with st.expander("The generalisation bound, per d"):
            st.dataframe(rows, hide_index=True, key=K("table", "claim", "bound"))
            st.markdown(views.BOUND_NOTE)

    st.subheader("“A lower dimension makes training more stable”")
    stab = {f"{r['model']} · {r['task']}": [(row["d"], row["sd"]) for row in claims.excess_spread(r)] for r in runs}
    fig = figures.claim_figure([], "std", "seed spread beyond the test set's sampling (sd)", extra=stab)
    chart(fig, K("chart", "claim", "stability"), present)
    show_verdict(verdicts["A lower dimension makes training more stable"], "stability")
    st.caption(TEXT[9].text("stability"))
    st.caption(TEXT[9].text("references", ref_li=views.REF_LI, ref_aghajanyan=views.REF_AGHAJANYAN))


if "claims" in demo.available_comparisons():
    claims_section()
else:
    st.caption(TEXT[9].text("missing"))

header(10)
st.warning(TEXT[10].text())


def pretraining_section(rec: dict | None, widths: dict | None) -> None:
    """Pre-training and d90, told from the recorded pairings (assets/recorded/series/), each verdict from the
    bootstrap of the ratio of two d90; the earlier recordings below them."""
    from idim_core import series as series_mod
    from idim_core.ui.text import plain_task

    header(11)
    st.markdown(TEXT[11].text())
    recs = [r for r in map(series_mod.recorded, series_mod.PAIRINGS) if r is not None]
    if not recs and series_mod.recorded() is not None:  # another copy's records: the first one
        recs = [series_mod.recorded()]
    for r in recs:
        out = r["series"]
        lines = series_mod.findings(r, name=plain_task)
        st.markdown(f"**{lines[0]}** ({out['model']}, {out['entries'][0].get('seeds') or '?'} seeds):\n\n"
                    + "\n".join(f"- {line}" for line in lines[1:]))
        chart(figures.series_figure(out), K("chart", "series", out["series"]), present)
        st.code(r["command"], language="bash")
    if not recs:
        st.info(TEXT[11].text("missing"))
    st.caption(TEXT[11].text("cannot-show"))
    with st.expander(TEXT[11].text("earlier")):
        for r in (rec, series_mod.recorded("mlp-digit-ge5-amounts-lr-1e-2"), widths):
            if r is None:
                continue
            st.markdown("\n".join(f"- {line}" for line in series_mod.verdict(r["series"],
                                                                          series_mod.recorded_results(r))))
            st.code(r["command"], language="bash")
    st.page_link("pages/series.py", label="Run a series yourself", icon=":material/stacked_line_chart:")


try:
    from idim_core import series as _series

    _rec = _series.recorded("mlp-digit-ge5-amounts")
    _widths = _series.recorded("mlp-digit-ge5-widths")
except (OSError, ValueError):
    _rec = _widths = None
pretraining_section(_rec, _widths)

header(12)
st.markdown(TEXT[12].text(ref_li=views.REF_LI, ref_aghajanyan=views.REF_AGHAJANYAN))
