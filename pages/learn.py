"""Learn: the idea, explained for a class, with a run to launch for each part."""
import streamlit as st

from idim_core import claims, demo
from idim_core.errors import UserError
from idim_core.ui import estimates, figures, views, workers
from idim_core.ui.keys import keys_for
from pages._first_run import through_app
from pages._present import chart, presenter_switch

through_app()
K = keys_for("learn")

# Small configurations that finish in minutes on a laptop CPU (the 2-layer bundled model).
QUICK = {"model": "minilm-l2", "task": "mr", "dims": "10,100,1000,10000", "epochs": "2", "max_train": "512"}



SECTIONS = {
    1: 'Training in a random subspace',
    2: 'What d90 means',
    3: 'DID and SAID',
    4: 'Why a random subspace?',
    5: 'The Fastfood trick',
    6: 'What the papers found',
    7: 'The classic experiment, live in class',
    8: 'Beyond the papers: LoRA, BitFit and head-only',
    9: 'A popular account, claim by claim',
    10: 'A common mistake',
    11: 'Does pre-training shrink d90?',
    12: 'References',
}


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
st.markdown(
    "A pretrained language model has tens or hundreds of millions of parameters, yet a few hundred labelled "
    "examples are enough to fine-tune it. Why doesn't it over-fit? One answer: **the fine-tuning problem has a "
    "low intrinsic dimension.** Only a tiny number of *directions* in parameter space need to be searched. "
    "This page explains how that is measured; each idea links to a run you can launch and watch.")

with st.expander("Contents", expanded=True):
    st.markdown("\n".join(f"{n}. [{t}](#s{n})" for n, t in SECTIONS.items()))

header(1)
st.markdown("Normal fine-tuning moves all **D** parameters θ from their pretrained values θ₀. "
            "Subspace training instead trains only a vector **z** of **d** numbers (d ≪ D), mapped into "
            "parameter space by a fixed random matrix **P** with D rows and d columns:")
st.latex(r"\theta \;=\; \theta_0 + P\,z, \qquad z \in \mathbb{R}^d,\; P \in \mathbb{R}^{D\times d},\; "
         r"z_{\text{start}} = 0")
st.markdown("**The picture, in three dimensions** (D = 3, drag to turn it): the pretrained weights θ₀, "
            "a random plane through them (d = 2: every point of it is θ₀ + P z for some z), and a line of good "
            "solutions. The plane meets the line; a random line through θ₀ (d = 1) almost surely would not. "
            "Subspace training searches only the plane.")
chart(figures.idea_figure(), K("chart", "idea"), present)
st.markdown(
    "- **D** is the model's parameter count, the classifier head included: about 22.6 million for the bundled "
    "MiniLM with its 6 layers (22,565,376 in the encoder; 22,566,146 with a head for 2 classes, 22,567,686 for "
    "6, as on trec6). **d** is the number of values we are allowed to train.\n"
    "- z starts at 0, so training starts exactly from the pretrained model; P never changes, "
    "only z is learned, by ordinary gradient descent: the gradient with respect to z is Pᵀ times the usual gradient.\n"
    "- Every column of P has length 1, so the kinds of projection are comparable. That does **not** make one "
    "learning rate fit every d: with Adam each of the d coordinates of z moves by about the learning rate per "
    "step, so the step in parameter space grows like lr·√d (measured: 1.0, 3.2 and 11.0 at d = 100, 1,000 and "
    "10,000 with lr 0.1), and a rate that suits d = 100 makes training collapse at d = 30,000. idim therefore "
    "scales z's rate as lr·√(1000/d) by default (`--lr-scaling sqrt`), which keeps that step the same at every d.")
try_it("subspace training with DID at d = 10 … 10,000", method="did")

header(2)
st.markdown("Train at several d and compare with full fine-tuning (all D parameters, same model, task, data and "
            "split). **d90** is the smallest d whose mean accuracy (over seeds) reaches 90 % of the full "
            "fine-tuning accuracy:")
st.latex(r"d_{90} \;=\; \min\{\, d \;:\; \overline{\mathrm{acc}}(d) \;\ge\; 0.9 \times \mathrm{acc}_{\text{full}} \,\}")
st.markdown("With a grid of d we report the grid value and an **interpolated** value, linear in log d between the "
            "last d below the threshold (d_lo) and the first one above it (d_hi):")
st.latex(r"\log d_{90} \approx \log d_{lo} + \frac{0.9\,\mathrm{acc}_{\text{full}} - \mathrm{acc}(d_{lo})}"
         r"{\mathrm{acc}(d_{hi}) - \mathrm{acc}(d_{lo})}\,\bigl(\log d_{hi} - \log d_{lo}\bigr)")
st.markdown("If no d reaches the threshold, the honest answer is **“d90 > max d”**, not a number. The live chart "
            "draws the full fine-tuning accuracy, the dashed 0.9 × line, and d90 as a vertical marker.")
try_it("an automatic d90 search (brackets, then bisects in log d)", dims="auto", method="said")
st.markdown("**Against what the frozen features already give.** A language-model run also trains the classifier head "
            "alone on the pretrained features (a *linear probe*, drawn as its own line). Where the probe already "
            "reaches the threshold, d90 counts the random directions it takes to get where the frozen features "
            "already are, not learning beyond them. A run's probe chooses its rate per seed on validation, as "
            "the baseline does (a head's best rate differs from task to task, up to 30 times apart). So chosen, "
            "with the bundled model the probe reaches the bar on `mr` (movie-review polarity), `r8`, `sms-spam`, "
            "`fine-foods` and `trec50` (measured on the validation split, "
            "`python bench/probe_tasks.py --search`; the tables are in the docs' explanation of d90). On `trec6`, "
            "what a question asks for, it stays well below the bar even with its rate searched (0.778 against a "
            "threshold of 0.816, full "
            "fine-tuning 0.907, 3 seeds): there d90 measures learning the features do not already hold, so "
            "`trec6` is the default task. `mr` is where the claims below, the methods comparison and the ruler "
            "table were measured; its probe line on the chart shows the other case. A default sweep on `trec6` "
            "took 335 s on a quiet 2-core CPU (1 seed, before the probe searched its rate): d90 ≈ 1,439 (grid 1,732), "
            "the probe at 0.754 against full "
            "fine-tuning's 0.926 (`idim bench sweep --task trec6`). With 3 seeds (the recorded example, its probe "
            "at 3e-3) " + demo.default_record_sentence())
try_it("d90 where the frozen features already reach the bar (mr)", model="minilm-l6", task="mr", method="said")

header(3)
st.markdown("**DID** (direct intrinsic dimension) uses one global P over all parameters, as above. "
            "**SAID** (structure-aware intrinsic dimension) also learns one scale λ per layer (each transformer "
            "block, plus the embeddings and the classifier head):")
st.latex(r"\theta_i \;=\; \theta_{0,i} + \lambda_{\ell(i)}\,(P\,z)_i")
st.markdown("where ℓ(i) is the layer parameter i belongs to. The m scales λ (they start at 1) **count in d**: with "
            "budget d, z has only d − m entries, so SAID and DID are compared at the same number of trained values. "
            "The paper found SAID reaches the threshold at a smaller d than DID (SAID ≤ DID). Its text speaks of one "
            "λ per layer, which is idim's default (`--said-groups block`: each transformer block, the embeddings and "
            "the head, m = 8 on the 6-layer MiniLM); the authors' released code uses one λ per parameter tensor "
            "(`--said-groups tensor`, m = 103 here). Both count in d.")
c1, c2 = st.columns(2)
with c1:
    try_it("SAID", method="said")
with c2:
    try_it("DID (same settings)", method="did")

header(4)
st.markdown(
    "A random subspace is chosen **without looking at the task**, so it gives an honest upper bound: if even a "
    "random d-dimensional slice of parameter space contains a good solution, the problem needs at most about d "
    "degrees of freedom. Li et al. argue geometrically: if the good solutions form a set of dimension s in "
    "D-dimensional space, a random d-dimensional subspace through θ₀ almost surely meets it once d + s ≥ D, so "
    "d90 measures D − s, the number of directions that really matter. Different seeds draw different random "
    "subspaces; the error bars show how much the answer depends on the draw.")

header(5)
st.markdown("Storing P densely needs D × d numbers: for D = 22.6 million and d = 10,000 that is 227 billion "
            "floats (about 900 GB). The **Fastfood** transform (Le, Sarlós & Smola 2013) builds a random-looking "
            "matrix from cheap pieces instead:")
st.latex(r"P\,z \;=\; \text{stack of blocks }\; \mathrm{scale}\cdot H\,G\,\Pi\,H\,B\,z")
st.markdown(
    "- **H**: the Walsh–Hadamard transform (a fast ±1 butterfly, O(L log L) for length L, the power of two ≥ d);\n"
    "- **B**: random ±1 on the diagonal; **Π**: a random permutation; **G**: random Gaussian diagonal;\n"
    "- blocks are stacked until they cover all D parameters: time **O(D log d)**, memory O(D), no D × d matrix;\n"
    "- the result is **column-normalised** (every column of P has length 1), and gradients use the exact "
    "transpose Pᵀ.\n\n"
    "Alternatives in this app: *sparse* (a random ±1 matrix with about √D non-zeros per column, as in Li et al.; "
    "its memory grows like d·√D, about 5.7 GB at d = 100,000 on MiniLM, so large d are refused) "
    "and *dense* (a plain Gaussian matrix, only when D·d is small).")
try_it("the sparse projection instead of Fastfood", projection="sparse")

header(6)
st.markdown(
    "- **d90 falls as pre-training goes on**: the same architecture with random weights needs a far larger d "
    "than the pretrained one. Pre-training makes the fine-tuning problem simpler.\n"
    "- **d90 falls as models grow**: in Aghajanyan et al., RoBERTa-Large reaches 90 % on MRPC with about 200 "
    "trained values (SAID), fewer than BERT-Base needs (about 1,600). Larger pretrained models are easier to adapt.\n"
    "- **SAID ≤ DID**: letting each layer scale its share of the update helps.\n"
    "- **Lower d90 goes with better generalisation**: models with smaller intrinsic dimension reach better test "
    "accuracy after fine-tuning; a compression argument turns d90 into a generalisation bound that depends on "
    "d90, not on D.")
c1, c2 = st.columns(2)
with c1:
    try_it("pretrained MiniLM (6 layers)", model="minilm-l6", dims="10,100,1000,10000,100000")
    try_it("2 layers of the same model", model="minilm-l2")
with c2:
    try_it("the same architecture, untrained", model="minilm-l6-untrained", dims="10,100,1000,10000,100000")
    try_it("6 layers", model="minilm-l6")
st.markdown("Then put the runs side by side on the **Compare** page; it also lists the papers' own figures.")
show_recorded("pretraining", "Same model size, same data, same recipe. Without pre-training even training all 22.6 "
              "million parameters stays at chance on 1,024 sentences, so that run has **no d90** (“did not learn”): "
              "it cannot show by how much pre-training lowers d90, only that this budget is not enough to learn the "
              "task from scratch. The papers' finding rests on their own runs.")
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
st.markdown(
    "Li et al. (2018) introduced the intrinsic dimension on small networks trained **from scratch** (there is no "
    "pre-training here): a fully connected net 784-200-200-10 on MNIST needed d90 ≈ 750 of its 199,210 "
    "parameters, LeNet about 290 of 44,426. idim ships 5,000 real MNIST digits and the 8×8 digits of "
    "scikit-learn, and a whole sweep is short enough for a class to watch it fill in. "
    + estimates.classic_length(workers.get_store(), workers.detect_device()) + "\n\n"
    "- **Shuffled pixels**: one fixed permutation of pixel positions. The fully connected net cannot tell the "
    "difference; LeNet loses what its convolutions assume (nearby pixels belong together), and its d90 rises.\n"
    "- **Shuffled labels**: random labels can only be memorised, nothing generalises; accuracy is measured on "
    "the training images, and d90 rises: " + memorisation_ratio() + ", in the paper "
    "about 250× (all 60,000 labels memorised).")
st.page_link("pages/explore.py", label="Try it: the classic preset (MLP on 5,000 MNIST digits)",
             icon=":material/science:", query_params={"model": "mlp", "task": "mnist5k"})
show_recorded("classic", "This copy of MNIST has 5,000 digits instead of 60,000 and a short training budget, and "
              "the threshold is 90 % of *this* network's own accuracy, so the figures differ from the paper's "
              "while telling the same story.")
show_recorded("shuffled-pixels")
show_recorded("memorisation")

header(8)
st.markdown(
    "Storing a fully fine-tuned copy of every parameter for every task is expensive, so practice moved to "
    "**parameter-efficient** methods that train a small set of numbers and keep θ₀ frozen:\n\n"
    "- **LoRA** (Hu et al. 2021) adds a low-rank update B·A to chosen weight matrices (here the attention's query "
    "and value, through the `peft` library); rank r sets its size (9,216 × r numbers on minilm-l6, plus the head).\n"
    "- **BitFit** (Ben Zaken et al. 2022) trains only the bias vectors (and the head).\n"
    "- **VeRA** (Kopiczko et al. 2024) shares one frozen *random* pair of matrices across layers and trains only "
    "scaling vectors: a random subspace like SAID's, from the adapter side.\n"
    "- **Head only** trains the classifier on frozen features (a linear probe): the floor any method must beat.\n"
    "- **IA3** (Liu et al. 2022) learns one rescaling number per output feature of the adapted layers; "
    "**FourierFT** (Gao et al. 2024) trains n spectral coefficients per layer at fixed random frequencies; "
    "**Uni-LoRA** fills every LoRA matrix from *one* trained vector through a fixed random map (a random subspace "
    "of LoRA's parameters); **TinyLoRA** trains a handful of numbers tied across all layers. With them the chart "
    "runs from a few numbers to all D.\n\n"
    "The intrinsic dimension explains why any of this can work: if a random subspace of a few hundred or thousand "
    "directions already holds a good solution, a well-chosen small set of trainable numbers can too. LoRA's "
    "authors cite exactly this motivation (they hypothesise that the update itself has a low *intrinsic rank*). "
    "The chart puts every method on one axis, the number of numbers it trains, counted from the model; each "
    "method's 90 % point is d90's rule on that axis. All runs share one full fine-tuning baseline (same model, "
    "task, budget and seeds).")
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
             f"Head only ({n_head:,} numbers): mean accuracy {probe:.3f} over {head['by_params'][0]['n']} seeds, "
             f"against the threshold {thr:.3f} and full fine-tuning {base:.3f}."]
    if probe >= thr:
        lines.append("So a linear probe on the frozen pretrained features already clears the 90 % bar on this task: "
                     "the bundled model was trained to produce sentence embeddings, and movie-review polarity is "
                     "nearly linear in them. A d90 below the probe's size says the subspace matches a probe here, "
                     "not that it learns more; the gap between 90 % and 100 % of full fine-tuning is where the "
                     "methods differ (compare their best accuracies on the chart).")
    st.markdown("**What this record says** (worded from its numbers and intervals, not typed in):\n\n"
                + "\n".join(f"- {x}" for x in lines))


if "methods" in demo.available_comparisons():
    show_recorded("methods", "Aghajanyan et al. (2021) relate their result to this question: a low intrinsic "
                             "dimension means a few trainable numbers suffice, whichever way they are chosen. "
                             "A random subspace is not tuned to the network's structure; LoRA places its "
                             "numbers in the attention weights, BitFit in the biases.")
    methods_verdicts()

header(9)
st.markdown(
    "A widely shared article on this topic (in Chinese, 2024; its title, in pinyin, “Cóng xīn de jiǎodù kàndài dà "
    "móxíng wēitiáo (Intrinsic dimension)”: “Fine-tuning large models seen from a new angle (intrinsic dimension)”) "
    "tells readers that fine-tuning lowers a model's dimension and that a lower dimension brings better results, "
    "faster and steadier training. Each claim below is set beside runs recorded with this project's command line "
    "(`bash scripts/record_comparisons.sh claims`, 5 and 3 seeds; the charts are drawn from those files) and "
    "beside what the two papers actually say. Each verdict is one of supported, contradicted, depends (on "
    "what, said) or not shown, worded when the page is drawn from the numbers and their 95 % intervals (over "
    "seeds and test examples), over the d where the model learned; the numbers follow each verdict.")


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
    st.markdown(
        f"**Contradicted.** Before and after fine-tuning `{lm['model']}` has the same D = {lm['D']:,} parameters, and "
        "in subspace training every one of them still moves (along d random directions). `hidden_size` (384 here, "
        "768 for BERT-base) is the width of one layer's vectors, not a dimension of the training problem. The "
        f"intrinsic dimension is the size of the smallest random subspace that reaches 90 % of full fine-tuning: "
        f"here {views.d90_text(lm)}. Nothing is removed (Li et al. 2018; Aghajanyan et al. 2021).")

    verdicts = {v.claim: v for v in claims.all_verdicts(runs)}  # idim_core/claims.py: the numbers, worded

    st.subheader("“A lower dimension trains faster”")
    speed = verdicts["A lower dimension trains faster"]
    show_verdict(speed, "speed")
    st.caption("Recorded trial times are not compared here: they were taken while other jobs shared the cores, "
               "and a subspace trial also runs evaluation passes (training accuracy, quantised z) that a full "
               "fine-tuning trial does not.")

    st.subheader("“A lower dimension improves performance by reducing overfitting”")
    chart(figures.claim_figure(runs, "gap_mean", "train − test accuracy (the gap)"),
                K("chart", "claim", "gap"), present)
    chart(figures.claim_figure(runs, "mean", views.accuracy_word(runs[0]), "baseline_accuracies"),
                K("chart", "claim", "accuracy"), present)
    show_verdict(verdicts["A lower dimension improves performance by reducing overfitting"], "gap")
    st.markdown("What the papers claim is narrower: a low intrinsic dimension *explains why* fine-tuning a huge "
                "model on few examples generalises at all (Aghajanyan et al. 2021, through the compression bound "
                "below, which counts d numbers instead of D), not that choosing a smaller d improves results.")
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
    st.caption("The spread over seeds comes from the random subspace itself (each seed draws a different P) and "
               "from the data order; the part a test set of n examples adds by itself, p(1 − p)/n, is taken out, "
               "so a d is not called steadier only because its accuracy is nearer 0 or 1.")
    st.caption(f"References: {views.REF_LI}; {views.REF_AGHAJANYAN}. The article's three references could not be "
               "found.")


if "claims" in demo.available_comparisons():
    claims_section()
else:
    st.caption("(The recorded runs for this section are not shipped in this copy: record them with "
               "`bash scripts/record_comparisons.sh claims`.)")

header(10)
st.warning(
    "Fine-tuning does **not** remove parameters or “reduce the model's dimension from 110M to 50M”: every one of "
    "the D parameters is still there and is still used. Nor is the intrinsic dimension the model's `hidden_size` "
    "(384 or 768: the width of one layer's vectors). The intrinsic dimension is a property of the *training "
    "problem*: the size d of the smallest random subspace in which training still reaches 90 % of full "
    "fine-tuning performance.")



def pretraining_section(rec: dict | None, widths: dict | None) -> None:
    """Pre-training and d90, told from the recorded pairings (assets/recorded/series/), each verdict from the
    bootstrap of the ratio of two d90; the earlier recordings below them."""
    from idim_core import series as series_mod
    from idim_core.ui.text import plain_task

    header(11)
    st.markdown("Aghajanyan et al. (2021) found that the longer a language model is pre-trained, and the larger it "
                "is, the smaller the intrinsic dimension of the tasks fine-tuned after it; and that a lower d90 goes "
                "with better generalisation. The classic nets can be pre-trained in seconds, so the same question "
                "can be asked here: pre-train on a *source*, put a new output layer on for the *target*, measure "
                "d90 against full training from that same state. Each seed pre-trains its own net; each source "
                "trains at the rate best for its own objective; z's rate is searched as full training's is. Two "
                "controls: a source with its labels shuffled (the same images, nothing transferable), and a "
                "linear probe on the frozen start (the readout): where the probe alone clears the threshold, d90 "
                "counts directions beyond the readout, and a pairing whose target labels are a function of the "
                "source's labels cannot tell the two apart.")
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
        st.info("The recorded pairings are missing from this copy (assets/recorded/series/).")
    st.caption("What it cannot show: these are nets of 200k parameters pre-trained for seconds on a few thousand "
               "digits, not language models pre-trained on a corpus. A language model tried the same way on a CPU "
               "(a 2-layer BERT pre-trained 25 minutes on the bundled sentences, against its never-trained twin on "
               "mr) reached 90 % at no d up to 100,000 either way, so it shows nothing about d90 (docs/results.md).")
    with st.expander("Earlier recordings (one pre-training shared by all seeds, the source at a fixed rate, z's "
                     "rate fixed, no readout control; the target a function of the source's labels)"):
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
st.markdown(f"- {views.REF_LI}. https://arxiv.org/abs/1804.08838\n"
            f"- {views.REF_AGHAJANYAN}. https://arxiv.org/abs/2012.13255\n"
            "- Le, Sarlós, Smola (2013). Fastfood: Approximating Kernel Expansions in Loglinear Time. ICML 2013.")
