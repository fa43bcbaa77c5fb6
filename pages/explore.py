"""Explore: choose a model, a task and a grid of d, then launch a sweep in the background.

Query parameters prefill the form (the Learn page links here that way), for example
``/?model=minilm-l6-untrained&method=did&dims=auto``.  Nothing trains in this
process: the button writes a queued run to the store and the worker picks it up.
"""
import dataclasses
import re

import streamlit as st

from idim_core import demo, executors, sources
from idim_core import methods as method_registry
from idim_core.classic import is_classic_model
from idim_core.errors import UserError
from idim_core.methods import axis as method_axis
from idim_core.methods import get as method_get
from idim_core.methods import has_own_head_rate, head_only_lr
from idim_core.models import CATALOGUE, HUB_SUGGESTED
from idim_core.names import LORA_TARGETS, LR_SCALINGS, PROJECTIONS, SAID_GROUPS
from idim_core.runconfig import (
    CLASSIC_DEFAULTS,
    DEFAULTS,
    bounds,
    budget_warnings,
    make_config,
    preset,
    shared_baseline,
)
from idim_core.tasks import fixed as tasks_fixed
from idim_core.tasks import list_tasks
from idim_core.ui import estimates, figures, forms, serving, text, workers
from idim_core.ui.keys import keys_for
from idim_core.ui.text import plain_task
from pages import _visitors as visitors
from pages._first_run import through_app

through_app()

OTHER_MODEL = "other: a Hugging Face id or a local model directory"
OTHER_TASK = "other: your own CSV file"
PROJ_HELP = {"fastfood": "Fastfood (H G Π H B): fast, O(D log d), no D×d matrix. The default.",
             "sparse": "Sparse random ±1 matrix, density about 1/√D (Li et al. 2018).",
             "dense": "Dense Gaussian matrix: the classic mode, only for small D·d (memory)."}
DIM_MODES = ("default grid", "preset log grid", "custom list", "automatic d90 search")
qp = st.query_params.to_dict()  # what prefills the form: the link's values, or a stored run's (?run=ID, below)
url_notes: list[str] = []  # URL values the form could not take, said in one line above the form
family_notes: list[str] = []  # a link whose task belongs to the other family of models (same line)
csv_note: list[str] = []  # a link that named a server file in served mode (one line by the upload box)
SERVED = serving.served_mode()  # shared on a network: nothing a visitor sends may name a file (serving.py)
K = EK = keys_for("explore")  # every widget key of this page: explore:purpose[:part] (idim_core/ui/keys.py)


def _ascii(kind):
    from idim_core.cli import _ascii as ascii_type  # the CLI's own reader: one rule for links and flags

    return ascii_type(kind)


_ASCII_INT, _ASCII_FLOAT = _ascii(int), _ascii(float)


def qget(key, cast=str, default=None, lo=None, hi=None):
    """A prefilled value from the URL, or the default when it is absent, unreadable or out of range.

    A widget given a value outside its own min/max raises in Streamlit and the whole form
    disappears; an out-of-range link instead falls back to the default and says so.
    """
    if key not in qp:
        return default
    try:
        if cast in (int, float):  # ASCII digits only, as the CLI reads them (int() also takes "٣" and "1_0")
            v = {int: _ASCII_INT, float: _ASCII_FLOAT}[cast](str(qp[key]))
        else:
            v = cast(qp[key])
    except (TypeError, ValueError):
        url_notes.append(f"{key}={text.md_repr(qp[key])} is not a number")
        return default
    if (lo is not None and v < lo) or (hi is not None and v > hi) or v != v:
        url_notes.append(f"{key}={text.md(qp[key])} is outside {lo:g}–{hi:g}")
        return default
    return v


def fmt_params(n: int) -> str:
    """22.6M, 19.8k: small nets must not read as 0.0M."""
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def form_message(msg: str) -> str:
    """Engine messages name CLI flags (--dims); say it in the form's words."""
    msg = msg.replace("--dims", "the list of d values")
    for flag, field in (("--max-train", "the training examples"), ("--epochs", "the epochs"),
                        ("--batch-size", "the batch size (Advanced)")):
        msg = msg.replace(flag, field)
    return re.sub(r"--([a-z]+)-?([a-z]*)", lambda m: (m.group(1) + (" " + m.group(2) if m.group(2) else "")), msg)


def say_intro(intro, classic: bool) -> None:
    if classic:
        intro.markdown(
            "Train a small network **from scratch inside a random d-dimensional subspace** of its D parameters "
            "(θ = θ₀ + P z: only the d numbers in z are trained) for several d, and find **d90**, the smallest d "
            "that reaches 90 % of the accuracy of full training. New to the idea? Read **Learn** first.")
    else:
        intro.markdown(
            "Fine-tune a pretrained language model **inside a random d-dimensional subspace** of its D parameters "
            "(θ = θ₀ + P z: only the d numbers in z are trained) for several d, and find **d90**, the smallest d "
            "that reaches 90 % of the accuracy of full fine-tuning. New to the idea? Read **Learn** first.")


def use_classic_preset() -> None:
    """The classic experiment's values, written into the form's own widgets.

    A button's callback runs before the page, so every widget is drawn with these values and the
    browser is told to show them (the keys stay the same: nothing else of the session is lost).
    The link then shares the preset.
    """
    C = CLASSIC_DEFAULTS
    values = {K("model"): C["model"], K("task"): C["task"], K("method", "classic"): C["method"],
              K("projection"): C["projection"], K("dims_mode", "classic"): DIM_MODES[0], K("seeds"): int(C["seeds"]),
              K("epochs", "classic"): float(C["epochs"]), K("batch_size", "classic"): int(C["batch_size"]),
              K("lr_full", "classic"): float(C["lr_full"]), K("lr_subspace", "classic"): float(C["lr_subspace"]),
              K("lr_scaling", "classic"): C["lr_scaling"], K("said_groups", "classic"): C["said_groups"],
              K("shuffle_labels"): False, K("shuffle_pixels"): False}
    for k, v in values.items():
        st.session_state[k] = v
    st.query_params.from_dict({"model": C["model"], "task": C["task"], "method": C["method"],
                               "dims": ",".join(map(str, C["dims"]))})
    st.toast(f"Classic preset in the form below: {C['model']} on {plain_task(C['task'])}, {C['method'].upper()}, "
             f"{len(C['dims'])} values of d, {C['seeds']} seeds. Check the estimate, then press Start run.",
             icon=":material/check_circle:")


def set_qp(values: dict) -> None:
    """What prefills the form from here on (``qp`` changed in place: qget reads it)."""
    qp.clear()
    qp.update(values)


@dataclasses.dataclass
class Form:
    """The form's values, filled section by section: each section reads what the ones above it chose."""
    model: str = ""
    classic_model: bool = False
    task: str = ""
    tchoice: str = ""
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str | None = None
    task_problem: str | None = None  # why there is no task to start (said again by Start)
    path: str = ""  # the CSV file's path, and the name it is shown by (its upload's)
    shown: str = ""
    FAM: dict = dataclasses.field(default_factory=dict)  # this family's defaults
    fam: str = "lm"
    shuffle_labels: bool | None = None
    shuffle_pixels: bool | None = None
    method: str = ""
    axis: str = "d"
    projection: str | None = None
    ranks: str | None = None
    dims: object = None
    seeds: int = 1
    epochs: float = 1.0
    max_train: int | None = None
    lr_full: float = 0.0
    lr_sub: float = 0.0
    lr_scaling: str | None = None
    lr_adapter: float | None = None
    lora_targets: str | None = None
    lr_head: float | None = None
    lora_layers: int | None = None
    said_groups: str | None = None
    max_length: int | None = None
    max_eval: int | None = None
    batch: int = 1
    threads: int = 0
    claims_facts: bool = False
    executor: str = ""
    executor_options: dict = dataclasses.field(default_factory=dict)


# -- three ways in, one row: the recorded example, the classic preset, a pre-training series ----------
def three_ways(store, device: str) -> None:
    """The boxes above the form: the recorded example, the quick demo, the classic preset, the series."""
    recorded = [r for r in store.list_runs() if r["config"].get("recorded")]
    show_example = not recorded and workers.EXAMPLE_RUN.is_file()
    # two rows of two boxes: (the recorded example and) the quick demo, then the classic preset and the series
    row1 = st.columns(2, border=True) if show_example else [st.container(border=True)]
    ways = [*row1, *st.columns(2, border=True)]
    if show_example:
        with ways[0]:
            st.markdown("**See it first:** a complete run recorded with this project's command line (labelled "
                        "*recorded* wherever it appears).")
            if st.button("Load the recorded example", key=K("button", "load_example")):
                try:
                    rid = demo.import_recorded(store, workers.EXAMPLE_RUN)
                except UserError as e:
                    st.error(str(e))
                else:
                    st.switch_page("pages/live.py", query_params={"run": rid})
    with ways[-3]:
        quick = make_config(**preset("quick-lm"))
        st.markdown("**Quick language-model demo:** MiniLM on TREC questions, three values of d, one seed: the "
                    "ruler, the probe and d90 in one short run.")
        st.caption(f"About {estimates.fmt_range(*estimates.estimate_range(estimates.estimate(store, quick, device)))} "
                   "here.")
        if st.button("Start the quick demo", key=K("button", "quick_lm"), type="primary"):
            try:
                visitors.check_share(store, estimates.estimate(store, quick, device)["seconds"])
                rid = store.create_run(quick, status="queued", visitor=visitors.owner_for_new_run())
            except UserError as e:
                st.error(text.md(e))
            else:
                workers.ensure_worker(store.home)
                st.switch_page("pages/live.py", query_params={"run": rid})
    with ways[-2]:
        st.markdown("**Classic (Li et al. 2018):** a small net trained from scratch on 5,000 MNIST digits; the paper "
                    "found d90 ≈ 750 (LeNet: 290).")
        st.caption(f"About {estimates.classic_span(store, device)} here (3 seeds).",
                   help=estimates.classic_length(store, device))
        st.button("Use the classic preset", key=K("button", "classic_preset"), on_click=use_classic_preset)
    with ways[-1]:
        st.markdown("**Does pre-training shrink d90?** (Aghajanyan et al. 2021): the MLP pre-trained on digits 0–4 "
                    "for 0 and 10 epochs, then measured on digits 5–9 (labels the source never taught), with a "
                    "shuffled-label control and a linear probe on the frozen start beside it, on the Series page. "
                    "What the recorded pairings show, each from the ratio of two d90: Learn.")
        st.page_link("pages/series.py", label="Open the series preset", icon=":material/stacked_line_chart:")


# -- what to train -----------------------------------------------------------------------
def choose_model(f: Form, intro) -> None:
    """The model (a link's own when it names one), and the intro in its family's words."""
    models = list(CATALOGUE) + ([] if SERVED else list(HUB_SUGGESTED))
    want = qget("model", str, DEFAULTS["model"])
    other_model_default = ""
    if want not in models:
        if re.match(r"^minilm-l[1-6](-untrained)?$", want):
            models.append(want)
        elif SERVED:  # no hub id, no directory: a link cannot make the server download or read a model
            url_notes.append(f"model={text.md_repr(want)} is not a bundled model (served mode)")
            want = DEFAULTS["model"]
        else:
            other_model_default, want = want, OTHER_MODEL
    if not SERVED:
        models.append(OTHER_MODEL)
    choice = st.selectbox(
        "Model", models, index=models.index(want), key=K("model"),
        format_func=lambda m: (f"{m} ({fmt_params(CATALOGUE[m].params)} parameters)" if m in CATALOGUE else
                               f"{m} ({fmt_params(HUB_SUGGESTED[m].params)}, needs a download)" if m in HUB_SUGGESTED
                               else m),
        help="The network to fine-tune. minilm-l6 is bundled (works offline); -untrained is the same architecture "
             "with random weights, to see what pre-training does to d90.")
    model = choice
    if choice == OTHER_MODEL:
        model = st.text_input("Model id or directory", value=other_model_default, key=K("model_other"),
                              placeholder="prajjwal1/bert-tiny or /path/to/model",
                              help="Any Hugging Face sequence-classification model (downloaded once) "
                                   "or a local directory.")

    classic_model = is_classic_model(model)
    say_intro(intro, classic_model)
    if classic_model != is_classic_model(qp.get("model", DEFAULTS["model"])):
        # The model was switched between the classic nets and the language models: the link's (or the
        # preset's) task, method and budget belong to the other family, so this family's defaults apply,
        # and the address no longer claims values the form does not show.
        set_qp({k: v for k, v in qp.items() if k == "threads"})
        if st.query_params:
            st.query_params.clear()
    f.model, f.classic_model = model, classic_model


def wanted_task(model: str, classic_model: bool, tasks: list[str]) -> tuple[str, str]:
    """The task the link asks for, made one the form can show; and a CSV path it names ("" when none)."""
    want_task = qget("task", str, CLASSIC_DEFAULTS["task"] if classic_model else DEFAULTS["task"])
    url_csv = ""  # a CSV path named by the link: read only once the user confirms it (never when served)
    family_default = CLASSIC_DEFAULTS["task"] if classic_model else DEFAULTS["task"]
    if want_task in {t["name"] for t in list_tasks() if (t["source"] == "image") != classic_model}:
        # an image task on a language model, or a text task on a classic net: the family's own task (never a CSV path)
        family_notes.append(
            f"This link's task {text.md(want_task)} is "
            + (f"a text task and {text.md(model)} is a classic net trained on images"
               if classic_model else f"an image task for the classic nets (mlp, lenet) and {text.md(model)} is a "
                                     "language model")
            + f": the form uses {family_default} instead.")
        want_task = family_default
    if classic_model and want_task not in tasks:
        want_task = CLASSIC_DEFAULTS["task"]
    if want_task not in tasks:
        src = sources.file_source(want_task)  # a file-backed task: csv:PATH, parquet:PATH ...
        if src is not None:
            linked = sources.file_path(want_task)
            if SERVED and linked.strip():  # (a bare task=csv: just opens the upload box)
                csv_note.append(f"This link names a file on the server (task={src.PREFIX}…), which a link cannot do "
                                f"here: upload the {src.KIND} file instead.")
            else:
                url_csv = linked
            want_task = OTHER_TASK
        else:
            url_notes.append(f"task={text.md_repr(want_task)} is not one of the tasks here")
            want_task = DEFAULTS["task"] if DEFAULTS["task"] in tasks else tasks[0]
    return want_task, url_csv


def choose_task(f: Form, store) -> None:
    """The task (or your own CSV), and its facts in one caption."""
    model, classic_model = f.model, f.classic_model
    # served: only what ships with idim (no task that downloads), and your own CSV by upload
    tasks = [t["name"] for t in list_tasks() if (t["source"] == "image") == classic_model
             and (not SERVED or tasks_fixed(t["name"]))]
    want_task, url_csv = wanted_task(model, classic_model, tasks)
    if not classic_model:
        tasks.append(OTHER_TASK)
    elif want_task not in tasks:
        want_task = tasks[0]
    tchoice = st.selectbox("Task", tasks, index=tasks.index(want_task), key=K("task"),
                           format_func=lambda t: (t if t == OTHER_TASK or plain_task(t) == t
                                                  else f"{t}: {plain_task(t)}"),
                           help="What the model learns to classify. trec6 (what a question asks for, the default: "
                                "a linear probe on the frozen features stays well below 90 % there) "
                                "and mr (movie-review polarity) are bundled; glue/* tasks need a download once.")
    f.task = f.tchoice = tchoice
    if tchoice == OTHER_TASK:
        csv_task(f, store, url_csv)

    # -- what the task is like: classes, sizes, chance and majority-class level, length ----
    task, path, shown = f.task, f.path, f.shown
    if task:
        try:
            stats = forms.task_facts(task, f.text_column, f.text_pair_column, f.label_column)
        except UserError as e:
            f.task_problem = forms.hide_path(str(e), path, shown) if tchoice == OTHER_TASK else str(e)
            st.error(text.md(f.task_problem))
            f.task = ""
        else:
            st.caption(text.md(forms.hide_path(stats, path, shown) if tchoice == OTHER_TASK else stats))


def csv_task(f: Form, store, url_csv: str) -> None:
    """Your own CSV: uploaded, or (not served) a path; its columns chosen, its first rows shown."""
    for line in csv_note:
        st.warning(line)
    kinds = " or ".join(src.KIND for src in sources.file_sources())
    up = st.file_uploader(f"Upload a {kinds} file", type=sources.upload_types(), key=K("task_upload"),
                          help="A header row (UTF-8 for a CSV), one example per row, at least two classes; up to "
                               "50 MiB. It is kept in the run store so the background worker can read it.")
    path = shown = ""
    if not SERVED:
        path = st.text_input("… or the path of a CSV file on this machine", value=url_csv,
                             key=K("task_csv"), help="A CSV with a text column and a label column (one row per "
                                                     "example).").strip()
        shown = path
    task_problem = "upload your CSV file" if SERVED else "upload your CSV file or give its path"
    if up is not None:
        path, shown = "", up.name
    elif path and url_csv and path == url_csv and st.session_state.get(EK("state", "csv_confirmed")) != path:
        # a link, not the user, named this file: read it only once the user says so
        st.info(f"This link names a file on this machine: {text.code(path)}. idim reads it only when you confirm.")
        if st.button("Read this file", key=EK("button", "csv_confirm")):
            st.session_state[EK("state", "csv_confirmed")] = path
        else:
            task_problem, path = "confirm the CSV file the link names (Read this file) or upload one", ""
    in_use = forms.uploads_in_use(store) if up is not None else set()
    try:
        if up is not None:
            path = str(forms.save_upload(store.home, up.name, up.getvalue(), in_use))
        f.task = sources.file_task(path) if path else ""
        if path:
            csv_columns(f, path, shown)
    except UserError as e:
        task_problem = forms.hide_path(str(e), path, shown) if path else str(e)
        st.error(text.md(task_problem))
        if up is not None and path:
            forms.discard_upload(path, in_use)  # a refused upload is not kept
        f.task = ""
    f.path, f.shown, f.task_problem = path, shown, task_problem


def csv_columns(f: Form, path: str, shown: str) -> None:
    """The CSV file's text, second text and label columns, and its first rows."""
    header, preview = forms.file_preview(path, shown=shown)
    doubt = forms.header_doubt(header)
    if doubt:
        st.warning(text.md(doubt) + ".")
    g_text, g_pair, g_label = forms.guess_columns(header)
    k1, k2, k3 = st.columns(3)
    f.text_column = k1.selectbox("Text column", header, index=header.index(g_text), key=K("csv_text"))
    pair_opts = ["(none)"] + header
    pair = k2.selectbox("Second text (pairs)", pair_opts, key=K("csv_pair"),
                        index=pair_opts.index(g_pair) if g_pair else 0,
                        help="For sentence-pair tasks (e.g. premise and hypothesis); "
                             "leave (none) otherwise.")
    f.text_pair_column = None if pair == "(none)" else pair
    f.label_column = k3.selectbox("Label column", header, index=header.index(g_label), key=K("csv_label"))
    st.caption("First rows of the file:")
    st.dataframe(preview, hide_index=True, width="stretch")


def choose_method(f: Form) -> None:
    """The classic nets' controls, the method and (for a subspace) the projection."""
    classic_model = f.classic_model
    FAM = CLASSIC_DEFAULTS if classic_model else DEFAULTS
    fam = "classic" if classic_model else "lm"  # widget keys per family: each keeps its own defaults
    if classic_model:
        st.caption("Trained **from scratch**: there is no pre-training in this experiment. The baseline is this "
                   "network's own accuracy with all its parameters trained.")
        s1, s2 = st.columns(2)
        f.shuffle_labels = s1.toggle("Shuffled labels", value=qget("shuffle_labels", str, "") in ("1", "true"),
                                     key=K("shuffle_labels"),
                                     help="Random training labels: nothing generalises, the net can only memorise. "
                                          "Accuracy is then measured on the training images. d90 rises enormously.")
        f.shuffle_pixels = s2.toggle("Shuffled pixels", value=qget("shuffle_pixels", str, "") in ("1", "true"),
                                     key=K("shuffle_pixels"),
                                     help="One fixed permutation of pixel positions for every image: the fully "
                                          "connected net does not care, LeNet loses its convolutional advantage.")
    want_method = qget("method", str, FAM["method"])
    METHODS = tuple(method_registry.REGISTRY)  # every registered method, each labelled by its own module
    method = st.selectbox("Method", METHODS, index=METHODS.index(want_method) if want_method in METHODS else 0,
                          format_func=lambda m: method_registry.label(m, classic=bool(classic_model)),
                          key=K("method", fam),
                          help="DID trains z through one random projection of all parameters. SAID also learns one "
                               "scale per layer; those scales count in d. "
                               + method_registry.words([method_registry.short(n) for n in METHODS
                                                        if method_axis(n) != "d"])
                               + " are the parameter-efficient methods people use instead: compare them with the "
                               "subspace on one axis of trainable parameters (same model, task and budget: they "
                               "share the baseline).")
    axis = method_axis(method)
    want_proj = qget("projection", str, FAM["projection"])
    projection = FAM["projection"]
    if axis == "d":
        projection = st.selectbox("Projection", PROJECTIONS, key=K("projection"),
                                  index=PROJECTIONS.index(want_proj) if want_proj in PROJECTIONS else 0,
                                  help="How z (d numbers) is mapped to the D parameters. "
                                       + " ".join(PROJ_HELP.values()))
    f.FAM, f.fam, f.method, f.axis, f.projection = FAM, fam, method, axis, projection


# -- which d, how many seeds, what budget --------------------------------------------------
def choose_levels(f: Form) -> None:
    """Which d (or ranks) to try."""
    axis, method, FAM, fam = f.axis, f.method, f.FAM, f.fam
    if axis == "rank":
        default_ranks = ",".join(map(str, method_registry.default_levels(method)))
        word = method_registry.level_word(method)
        f.ranks = st.text_input(f"Levels: {word} ({method_registry.level_name(method)})",
                                value=qget("ranks", str, default_ranks), key=K("ranks", method),
                                help=f"Comma-separated whole numbers, one trial per {word} and seed (`--ranks` on "
                                     "the command line); the method checks that they fit the model's layers.")
    elif axis == "single":
        st.caption(f"**{method}** has no size to vary: one point (per seed), placed on the chart by the number of "
                   "parameters it trains, counted from the model.")
    if axis == "d":
        want_dims = qget("dims", str, None)
        default_dims = ",".join(map(str, FAM["dims"]))
        if want_dims is not None and want_dims.replace(" ", "") == default_dims:
            want_dims = None
        mode_index = 0 if want_dims is None else (3 if want_dims.strip().lower() == "auto" else 2)
        mode = st.radio("Dimensions d to try", DIM_MODES, index=mode_index, key=K("dims_mode", fam), horizontal=True,
                        help="The default grid (the same as the command line's), a log-spaced grid, your own list, "
                             "or an automatic search that brackets d90 and bisects in log d.")
        if mode == DIM_MODES[0]:
            dims = list(FAM["dims"])
            st.caption("d = " + ", ".join(f"{d:,}" for d in dims) + " (the default, as `idim run` uses)")
        elif mode == DIM_MODES[1]:
            lo, hi = st.select_slider("Range of d", options=estimates.GRID_STOPS, value=(10, 10_000),
                                      key=K("grid_range"),
                                      format_func=lambda v: f"{v:,}", help="Smallest and largest d of the grid.")
            per = st.radio("Points per decade", (1, 2, 3), index=0, horizontal=True, key=K("grid_per"),
                           help="1: 10, 100, 1000 ... 2: 10, 30, 100 ... 3: 10, 20, 50, 100 ...")
            dims = estimates.log_grid(lo, hi, per)
            st.caption("d = " + ", ".join(f"{d:,}" for d in dims))
        elif mode == DIM_MODES[2]:
            dims = st.text_input("d values", value=want_dims if mode_index == 2 else default_dims,
                                 key=K("dims_custom", fam),
                                 help="Comma-separated whole numbers, for example 10,100,1000,10000.")
        else:
            dims = "auto"
            st.caption("Starts at d = 10, multiplies by 10 until the threshold is reached, then bisects in log d "
                       "until the bracket is within a factor 1.4 (the true crossing then lies within −29 % / +40 % "
                       "of the reported d).")
        f.dims = dims


def choose_budget(f: Form) -> None:
    """Seeds, epochs and training examples."""
    classic_model, FAM, fam = f.classic_model, f.FAM, f.fam
    # every number's range is its config field's (runconfig.bounds), the one the CLI and make_config check
    f.seeds = st.number_input("Seeds per d", *bounds("seeds"), qget("seeds", int, FAM["seeds"], *bounds("seeds")),
                              key=K("seeds"),
                              help="Independent random projections (and data orders) per d; "
                                   "error bars show their spread.")
    c1, c2 = st.columns(2)
    f.epochs = c1.number_input("Epochs", *bounds("epochs"),
                               float(qget("epochs", float, FAM["epochs"], *bounds("epochs"))), 0.25,
                               key=K("epochs", fam),
                               help="Passes over the training examples, for the baseline and every trial.")
    if not classic_model:
        f.max_train = c2.number_input("Training examples", *bounds("max_train"),
                                      qget("max_train", int, DEFAULTS["max_train"], *bounds("max_train")), 64,
                                      key=K("max_train"),
                                      help="How many training examples to use (a stratified sample).")
    else:
        c2.caption("Classic tasks use all their training images (80 % of the set).")


def advanced(f: Form) -> None:
    """The Advanced expander, in two columns."""
    with st.expander("Advanced"):
        a1, a2 = st.columns(2)
        advanced_rates(f, a1, a2)
        advanced_rest(f, a1, a2)


def advanced_rates(f: Form, a1, a2) -> None:
    """The learning rates (the baseline's; z's or the adapter's and the head's) and LoRA's layers."""
    classic_model, method, axis, FAM, fam = f.classic_model, f.method, f.axis, f.FAM, f.fam
    f.lr_full = a1.number_input("Learning rate, full training" if classic_model
                                else "Learning rate, full fine-tuning",
                                *bounds("lr_full"), qget("lr_full", float, FAM["lr_full"], *bounds("lr_full")),
                                format="%.0e",
                                key=K("lr_full", fam),
                                help="Adam learning rate of the baseline (all D parameters), the centre of its "
                                     "search: each seed trains at 1/3, 1 and 3 times it and keeps the best on "
                                     "validation (a search already in the store for the same model, task and "
                                     "budget is reused), so the ruler is tuned as the records' are.")
    f.lr_sub, f.lr_scaling = FAM["lr_subspace"], FAM["lr_scaling"]
    if axis == "d":
        f.lr_sub = a2.number_input("Learning rate of z at d = 1,000", *bounds("lr_subspace"),
                                   qget("lr_subspace", float, FAM["lr_subspace"], *bounds("lr_subspace")),
                                   format="%.2g",
                                   key=K("lr_subspace", fam),
                                   help="Adam learning rate of z at d = 1,000. With Adam each coordinate of z moves "
                                        "by about this much per step, so the step in parameter space grows like √d; "
                                        "by default the rate at d is this × √(1000 / d), the same step at every d.")
        want_scaling = qget("lr_scaling", str, FAM["lr_scaling"])
        f.lr_scaling = a1.radio("Learning rate of z across d", LR_SCALINGS, horizontal=True,
                                key=K("lr_scaling", fam),
                                index=LR_SCALINGS.index(want_scaling) if want_scaling in LR_SCALINGS else 0,
                                format_func={"sqrt": "follows d (× √(1000/d))", "none": "the same at every d"}.get,
                                help="The default keeps the step in parameter space the same at every d; one rate "
                                     "for all d makes large d collapse.")
    else:
        m_lr = method_get(method).LR
        f.lr_adapter = a2.number_input(f"Learning rate, {method}", *bounds("lr_adapter"),
                                       qget("lr_adapter", float, m_lr, *bounds("lr_adapter")), format="%.0e",
                                       key=K("lr_adapter", method),
                                       help=f"Adam learning rate of what {method} trains (its default, {m_lr:g}, "
                                            "was chosen on the validation split: bench/tune_defaults.py --kind "
                                            "adapters).")
        if has_own_head_rate(method):
            f.lr_head = a1.number_input("Learning rate, classifier head", *bounds("lr_head"),
                                        qget("lr_head", float, head_only_lr(), *bounds("lr_head")), format="%.0e",
                                        key=K("lr_head"),
                                        help="Every adapter method trains the classifier head too, at head-only's "
                                             f"own rate ({head_only_lr():g}, chosen on validation for the "
                                             "head alone) unless you change it here.")
        if axis == "rank":
            top = bounds("lora_layers")[1]  # 0 here: every layer (the flag left out)
            f.lora_layers = a2.number_input("Only the last K layers (0: all)", 0, top,
                                            qget("lora_layers", int, 0, 0, top), key=K("lora_layers"),
                                            help="Adapt only the last K transformer layers: sizes below rank 1 "
                                                 "on every layer.")
            f.lora_targets = a1.radio("Adapted layers", LORA_TARGETS, horizontal=True, key=K("lora_targets"),
                                      format_func={"query-value": "query and value",
                                                   "all-linear": "every linear layer"}.get,
                                      help="peft's default for BERT-type models adapts the attention's query and "
                                           "value projections; or every linear layer but the head.")


def advanced_rest(f: Form, a1, a2) -> None:
    """SAID's scales, tokens and evaluation examples, batch, threads, the claims' facts, where trials train."""
    classic_model, method, FAM, fam = f.classic_model, f.method, f.FAM, f.fam
    if "said_groups" in method_get(method).__dict__.get("FIELDS", ()):
        want_groups = qget("said_groups", str, FAM["said_groups"])
        f.said_groups = a2.radio("SAID scales", SAID_GROUPS, horizontal=True, key=K("said_groups", fam),
                                 index=SAID_GROUPS.index(want_groups) if want_groups in SAID_GROUPS else 0,
                                 format_func={"block": "one per layer block", "tensor": "one per tensor"}.get,
                                 help="block: one λ per transformer block, the embeddings and the head (the "
                                      "paper's text); tensor: one λ per parameter tensor (the authors' released "
                                      "code). Both count in d.")
    if not classic_model:
        f.max_length = a1.number_input("Max tokens per example", *bounds("max_length"),
                                       qget("max_length", int, DEFAULTS["max_length"], *bounds("max_length")),
                                       key=K("max_length"), help="Longer texts are cut; shorter ones are padded.")
        f.max_eval = a2.number_input("Validation / test examples", *bounds("max_eval"),
                                     qget("max_eval", int, DEFAULTS["max_eval"], *bounds("max_eval")),
                                     key=K("max_eval"), help="Examples in each of the validation and test splits.")
    f.batch = a1.number_input("Batch size", *bounds("batch_size"),
                              qget("batch_size", int, FAM["batch_size"], *bounds("batch_size")),
                              key=K("batch_size", fam),
                              help="Examples per optimiser step.")
    f.threads = a2.number_input("CPU threads", *bounds("threads"), qget("threads", int, 0, *bounds("threads")),
                                key=K("threads"),
                                help="Threads torch may use for a trial on the CPU; 0: automatic, one per core "
                                     "(one for the MLP, whose steps are too small to share out), training on one "
                                     "while another program (the browser drawing Live) needs a core (see "
                                     "docs/reference/app.md on threads). A fixed count repeats exactly.")
    f.claims_facts = st.toggle(
        "Measure what the claims use", value=qget("claims_facts", str, "") in ("1", "true", "True"),
        key=K("claims_facts"),
        help="Each trial also reads training accuracy on every training example (by default on a fixed 512, "
             "enough for the gap with its standard error) and, in the subspace, accuracy with z quantised to "
             "2, 4 and 8 bits: what Learn's claims and the bound at 4 bits use. About 10 s more per "
             "language-model trial.")
    # where trials train; the widgets' state is kept for the session, so the choice is remembered
    # served: trials train here (a visitor does not name a cluster address for the server to connect to)
    offered = [n for n, m in executors.REGISTRY.items() if m.SERVED or not SERVED]
    f.executor = offered[0] if len(offered) == 1 else st.radio(
        "Where trials train", offered, horizontal=True, key=K("executor"),
        format_func=lambda n: executors.REGISTRY[n].LABEL,
        help=" ".join(f"{executors.REGISTRY[n].LABEL[:1].upper() + executors.REGISTRY[n].LABEL[1:]}: "
                      f"{executors.REGISTRY[n].HELP}." for n in offered))
    form = executors.REGISTRY[f.executor].form
    f.executor_options = form(st, K) if form is not None else {}


def _int(v):
    return None if v is None else int(v)


def overrides_of(f: Form) -> dict:
    """The form's values as make_config's arguments."""
    lr_head, lora_layers = f.lr_head, f.lora_layers
    return dict(model=f.model, task=f.task, method=f.method, projection=f.projection, dims=f.dims,
                seeds=int(f.seeds), epochs=float(f.epochs), max_train=_int(f.max_train), lr_full=float(f.lr_full),
                lr_subspace=float(f.lr_sub), max_length=_int(f.max_length), max_eval=_int(f.max_eval),
                batch_size=int(f.batch), shuffle_labels=f.shuffle_labels or None,
                shuffle_pixels=f.shuffle_pixels or None, text_column=f.text_column,
                text_pair_column=f.text_pair_column, label_column=f.label_column, lr_scaling=f.lr_scaling,
                said_groups=f.said_groups, ranks=f.ranks,
                lr_adapter=None if f.lr_adapter is None else float(f.lr_adapter), lora_targets=f.lora_targets,
                lr_head=None if lr_head is None or float(lr_head) == head_only_lr() else float(lr_head),
                lora_layers=int(lora_layers) or None if lora_layers is not None else None,
                executor=f.executor, threads=int(f.threads) or None, claims_facts=f.claims_facts or None,
                **f.executor_options)


# -- how long will it take ----------------------------------------------------------------
def estimate_box(store, device: str, f: Form, draft) -> tuple[float, list]:
    """The rough estimate above Start; its seconds, and what is drawn below Start (the plan of d values, the
    seeds' note): Start stays near the form."""
    classic_model, axis, method = f.classic_model, f.axis, f.method
    after_start = []
    shared = shared_baseline(store, draft, device.split(" ")[0], range(int(draft.seeds)))
    guess = estimates.estimate(store, draft, device, baseline=shared is None)
    secs = guess["seconds"]
    n = estimates.planned_trials(draft)
    base_word = "full training" if classic_model else "full fine-tuning"
    from idim_core.runconfig import wants_probe

    n_seeds = int(draft.seeds)
    base_part = (f"{n_seeds} {base_word} trial{'s' if n_seeds > 1 else ''}"
                 + (f" and {n_seeds} linear probe{'s' if n_seeds > 1 else ''}" if wants_probe(draft) else "")
                 if shared is None else
                 f"the {base_word} of run {shared[0]['id']} (same model, task, budget and device: reused, not "
                 f"trained again)")
    span = estimates.fmt_range(*estimates.estimate_range(guess))
    st.info(f"**Rough estimate: {span}** (about {estimates.fmt_seconds(secs)}) on `{device}` — {base_part} + "
            f"{'about ' if draft.auto else ''}{n} {'subspace' if axis == 'd' else method} "
            f"trial{'s' if n != 1 else ''}, "
            f"{estimates.steps_per_trial(draft)} optimiser steps each, plus evaluation; "
            + estimates.basis_text(guess, draft.model) + " "
            + (f"**The machine is busy: {guess['busy']}, expect longer.** " if guess["busy"] else "")
            + "Once the run starts, the live view replaces this with the measured speed.")
    if int(draft.seeds) == 1 and axis == "d":
        three = estimates.estimate(store, draft.but(seeds=3), device, baseline=shared is None)["seconds"]
        after_start.append(lambda three=three: st.caption(
            f"1 seed: the d90 interval then resamples test examples only and leaves out the random subspace's own "
            f"spread. 3 seeds would take about {estimates.fmt_seconds(three)}."))
    try:
        from idim_core.classic import side_of
        from idim_core.common import num_params
        from idim_core.models import resolve as resolve_model

        D = (num_params(draft.model, side_of(draft.task)) if classic_model
             else resolve_model(draft.model).params)
    except (UserError, KeyError):
        D = None
    if axis == "d":
        after_start.append(lambda D=D: st.plotly_chart(figures.plan_figure(draft, D), key=K("chart", "plan"),
                                                       config={"displayModeBar": False}))
    elif axis == "rank":
        st.caption(f"{method_registry.level_word(draft.method).capitalize()} "
                   f"{method_registry.level_name(draft.method)} = {', '.join(map(str, draft.ranks))}: each "
                   "trial's trainable parameters are counted "
                   "from the model when it is built, and the chart places it on that axis.")
    return secs, after_start


def start_run(store, f: Form, overrides: dict, secs: float | None) -> None:
    """Start: the run checked, queued, and Live opened on it; or one line on what is wrong."""
    model, task, tchoice, path, shown = f.model, f.task, f.tchoice, f.path, f.shown
    try:
        if not model:
            raise UserError("give a model id or directory")
        if not task:
            raise UserError(f.task_problem or "choose a task")
        if SERVED and not forms.served_allows(model, task, store.home):
            raise UserError("in served mode only the bundled models and tasks, and uploaded CSV files, can be used")
        cfg = make_config(**overrides)
        visitors.check_share(store, secs)  # served: fair shares of one worker
        with st.spinner("Checking the model and the task ..."):
            forms.preflight_isolated(cfg)
    except UserError as e:
        msg = str(e)
        if tchoice == OTHER_TASK and path:
            msg = forms.hide_path(msg, path, shown)
        st.error(text.md(form_message(msg)))
    else:
        try:
            run_id = store.create_run(cfg, status="queued", visitor=visitors.owner_for_new_run())
        except UserError as e:  # a full or read-only store: one line, the form kept
            st.error(text.md(e))
        else:
            workers.ensure_worker(store.home)
            st.switch_page("pages/live.py", query_params={"run": run_id})


def main() -> None:
    """The page, top to bottom."""
    store = workers.get_store()
    device = workers.detect_device()
    if "run" in qp:  # ?run=ID (the browser's back button from Live lands here): the form shows what that run was given
        given = store.get_run(qp["run"]) if re.fullmatch(r"[0-9a-f]{12}", qp["run"]) else None
        set_qp({**(forms.prefill_from_config(given["config"]) if given else {}),
                **{k: v for k, v in qp.items() if k != "run"}})

    st.title("Intrinsic dimension of fine-tuning")
    intro = st.empty()  # filled once the model is known: a language model is fine-tuned, a classic net trained
    three_ways(store, device)

    st.subheader("New run")
    if SERVED:
        st.caption(serving.NOTE)
    url_box = st.empty()  # one line when a link's values were out of range (filled below)
    left, right = st.columns(2)
    f = Form()
    with left:
        choose_model(f, intro)
        choose_task(f, store)
        choose_method(f)
    with right:
        choose_levels(f)
        choose_budget(f)
        advanced(f)

    if url_notes or family_notes:  # one line
        url_box.warning(" ".join((["This link's " + "; ".join(url_notes) + ": the form uses the default value "
                                   "instead."] if url_notes else []) + family_notes))
    overrides = overrides_of(f)
    after_start = []  # what is drawn below Start (the plan of d values, the seeds' note): Start stays near the form
    try:
        draft = make_config(**overrides)
    except UserError:
        draft = None
    secs = None
    if draft is not None:
        secs, after_start = estimate_box(store, device, f, draft)

    # -- a budget too small to learn: said before Start (it warns, it does not refuse) --------------
    for warning in (budget_warnings(draft) if draft is not None else []):
        st.warning(form_message(warning[0].upper() + warning[1:]) + ".")

    if st.button("Start run", type="primary", key=K("button", "start")):
        start_run(store, f, overrides, secs)

    for draw in after_start:
        draw()
    st.caption("The run is trained by a background worker: you can close this tab, reload it, or open the run in "
               "another tab; nothing is lost. The command line sees the same runs (`idim ls`).")


main()
