"""Explore: choose a model, a task and a grid of d, then launch a sweep in the background.

Query parameters prefill the form (the Learn page links here that way), for example
``/?model=minilm-l6-untrained&method=did&dims=auto``.  Nothing trains in this
process: the button writes a queued run to the store and the worker picks it up.
"""
import re

import streamlit as st

from idim_core import demo, ui
from idim_core.errors import UserError
from idim_core.models import CATALOGUE
from idim_core.names import METHODS, PROJECTIONS
from idim_core.sweep import DEFAULTS, make_config
from idim_core.tasks import list_tasks

OTHER_MODEL = "other: a Hugging Face id or a local model directory"
OTHER_TASK = "other: your own CSV file"
METHOD_LABELS = {"said": "SAID: structure-aware (one learned scale per layer)",
                 "did": "DID: direct (one projection over all parameters)"}
PROJ_HELP = {"fastfood": "Fastfood (H G Π H B): fast, O(D log d), no D×d matrix. The default.",
             "sparse": "Sparse random ±1 matrix, density about 1/√D (Li et al. 2018).",
             "dense": "Dense Gaussian matrix: the classic mode, only for small D·d (memory)."}
DIM_MODES = ("preset log grid", "custom list", "automatic d90 search")
qp = st.query_params


def qget(key, cast=str, default=None):
    """A prefilled value from the URL, or the default when it is absent or unreadable."""
    if key not in qp:
        return default
    try:
        return cast(qp[key])
    except (TypeError, ValueError):
        return default


def form_message(msg: str) -> str:
    """Engine messages name CLI flags (--dims); say it in the form's words."""
    msg = msg.replace("--dims", "the list of d values")
    return re.sub(r"--([a-z]+)-?([a-z]*)", lambda m: (m.group(1) + (" " + m.group(2) if m.group(2) else "")), msg)


store = ui.get_store()
device = ui.detect_device()

st.title("Intrinsic dimension of fine-tuning")
st.markdown(
    "Train a language model **inside a random d-dimensional subspace** of its D parameters "
    "(θ = θ₀ + P z: only the d numbers in z are trained) for several d, and find **d90**, the smallest d "
    "that reaches 90 % of the accuracy of full fine-tuning. New to the idea? Read **Learn** first.")

# -- the recorded example: a complete chart before any training finishes --------------------
recorded = [r for r in store.list_runs() if r["config"].get("recorded")]
if not recorded and ui.EXAMPLE_RUN.is_file():
    with st.container(border=True):
        st.markdown("**See it before training anything:** load a complete run that was recorded earlier with "
                    "this project's own command line. It is labelled *recorded* wherever it appears.")
        if st.button("Load the recorded example", key="load_example"):
            try:
                rid = demo.import_recorded(store, ui.EXAMPLE_RUN)
            except UserError as e:
                st.error(str(e))
            else:
                st.switch_page("pages/live.py", query_params={"run": rid})

st.subheader("New run")
left, right = st.columns(2)

# -- what to train -----------------------------------------------------------------------
with left:
    models = list(CATALOGUE)
    want = qget("model", str, DEFAULTS["model"])
    other_model_default = ""
    if want not in models:
        if re.match(r"^minilm-l[1-6](-untrained)?$", want):
            models.append(want)
        else:
            other_model_default, want = want, OTHER_MODEL
    models.append(OTHER_MODEL)
    choice = st.selectbox(
        "Model", models, index=models.index(want), key="model",
        format_func=lambda m: f"{m} ({CATALOGUE[m].params / 1e6:.1f}M parameters)" if m in CATALOGUE else m,
        help="The network to fine-tune. minilm-l6 is bundled (works offline); -untrained is the same architecture "
             "with random weights, to see what pre-training does to d90.")
    model = choice
    if choice == OTHER_MODEL:
        model = st.text_input("Model id or directory", value=other_model_default, key="model_other",
                              placeholder="prajjwal1/bert-tiny or /path/to/model",
                              help="Any Hugging Face sequence-classification model (downloaded once) or a local directory.")

    tasks = [t["name"] for t in list_tasks()]
    want_task = qget("task", str, DEFAULTS["task"])
    other_task_default = ""
    if want_task not in tasks:
        other_task_default, want_task = want_task, OTHER_TASK
    tasks.append(OTHER_TASK)
    tchoice = st.selectbox("Task", tasks, index=tasks.index(want_task), key="task",
                           help="What the model learns to classify. mr (movie-review polarity) is bundled; glue/* "
                                "tasks need a download once.")
    task = tchoice
    if tchoice == OTHER_TASK:
        path = st.text_input("CSV file", value=other_task_default.removeprefix("csv:"), key="task_csv",
                             help="A CSV with columns text and label (one row per example).")
        task = f"csv:{path}" if path else ""

    want_method = qget("method", str, DEFAULTS["method"])
    method = st.radio("Method", METHODS, index=METHODS.index(want_method) if want_method in METHODS else 0,
                      format_func=METHOD_LABELS.get, key="method", horizontal=False,
                      help="DID trains z through one random projection of all parameters. SAID also learns one "
                           "scale per layer; those scales count in d.")
    want_proj = qget("projection", str, DEFAULTS["projection"])
    projection = st.selectbox("Projection", PROJECTIONS, key="projection",
                              index=PROJECTIONS.index(want_proj) if want_proj in PROJECTIONS else 0,
                              help="How z (d numbers) is mapped to the D parameters. " + " ".join(PROJ_HELP.values()))

# -- which d, how many seeds, what budget --------------------------------------------------
with right:
    want_dims = qget("dims", str, None)
    mode_index = 0 if want_dims is None else (2 if want_dims.strip().lower() == "auto" else 1)
    mode = st.radio("Dimensions d to try", DIM_MODES, index=mode_index, key="dims_mode", horizontal=True,
                    help="A log-spaced grid, your own list, or an automatic search that brackets d90 and "
                         "bisects in log d.")
    if mode == DIM_MODES[0]:
        lo, hi = st.select_slider("Range of d", options=ui.GRID_STOPS, value=(10, 10_000), key="grid_range",
                                  format_func=lambda v: f"{v:,}", help="Smallest and largest d of the grid.")
        per = st.radio("Points per decade", (1, 2, 3), index=0, horizontal=True, key="grid_per",
                       help="1: 10, 100, 1000 ... 2: 10, 30, 100 ... 3: 10, 20, 50, 100 ...")
        dims = ui.log_grid(lo, hi, per)
        st.caption("d = " + ", ".join(f"{d:,}" for d in dims))
    elif mode == DIM_MODES[1]:
        dims = st.text_input("d values", value=want_dims if mode_index == 1 else "10,100,1000", key="dims_custom",
                             help="Comma-separated whole numbers, for example 10,100,1000,10000.")
    else:
        dims = "auto"
        st.caption("Starts at d = 10, multiplies by 10 until the threshold is reached, then bisects in log d "
                   "until d90 is known within about ±20 %.")
    seeds = st.number_input("Seeds per d", 1, 20, qget("seeds", int, DEFAULTS["seeds"]), key="seeds",
                            help="Independent random projections (and data orders) per d; error bars show their spread.")
    c1, c2 = st.columns(2)
    epochs = c1.number_input("Epochs", 0.25, 100.0, float(qget("epochs", float, DEFAULTS["epochs"])), 0.25,
                             key="epochs", help="Passes over the training examples, for the baseline and every trial.")
    max_train = c2.number_input("Training examples", 8, 200_000, qget("max_train", int, DEFAULTS["max_train"]), 64,
                                key="max_train", help="How many training examples to use (a stratified sample).")
    with st.expander("Advanced"):
        a1, a2 = st.columns(2)
        lr_full = a1.number_input("Learning rate, full fine-tuning", 1e-7, 1.0,
                                  qget("lr_full", float, DEFAULTS["lr_full"]), format="%.0e", key="lr_full",
                                  help="Adam learning rate of the baseline (all D parameters).")
        lr_sub = a2.number_input("Learning rate, subspace (z)", 1e-6, 10.0,
                                 qget("lr_subspace", float, DEFAULTS["lr_subspace"]), format="%.0e", key="lr_subspace",
                                 help="Adam learning rate of z; projections have unit-norm columns, so one value "
                                      "suits every d.")
        max_length = a1.number_input("Max tokens per example", 8, 512, qget("max_length", int, DEFAULTS["max_length"]),
                                     key="max_length", help="Longer texts are cut; shorter ones are padded.")
        max_eval = a2.number_input("Validation / test examples", 8, 100_000, qget("max_eval", int, DEFAULTS["max_eval"]),
                                   key="max_eval", help="Examples in each of the validation and test splits.")
        batch = a1.number_input("Batch size", 1, 1024, qget("batch_size", int, DEFAULTS["batch_size"]), key="batch_size",
                                help="Examples per optimiser step.")

overrides = dict(model=model, task=task, method=method, projection=projection, dims=dims, seeds=int(seeds),
                 epochs=float(epochs), max_train=int(max_train), lr_full=float(lr_full), lr_subspace=float(lr_sub),
                 max_length=int(max_length), max_eval=int(max_eval), batch_size=int(batch))

# -- how long will it take ----------------------------------------------------------------
try:
    draft = make_config(**overrides)
except UserError:
    draft = None
if draft is not None:
    secs = ui.estimate_seconds(draft, device)
    n = ui.planned_trials(draft)
    st.info(f"**Rough estimate: about {ui.fmt_seconds(secs)}** on `{device}` — 1 full fine-tuning + "
            f"{'about ' if draft['dims'] == 'auto' else ''}{n} subspace trial{'s' if n != 1 else ''}, "
            f"{ui.steps_per_trial(draft)} optimiser steps each, plus evaluation; assumes nothing else is running. "
            "Once the run starts, the live view replaces this with the measured speed.")

if st.button("Start run", type="primary", key="start"):
    try:
        if not model:
            raise UserError("give a model id or directory")
        if not task:
            raise UserError("give the path of your CSV file")
        cfg = make_config(**overrides)
        with st.spinner("Checking the model and the task ..."):
            ui.preflight_isolated(cfg)
    except UserError as e:
        st.error(form_message(str(e)))
    else:
        run_id = store.create_run(cfg, status="queued")
        ui.ensure_worker(store.home)
        st.switch_page("pages/live.py", query_params={"run": run_id})

st.caption("The run is trained by a background worker: you can close this tab, reload it, or open the run in "
           "another tab; nothing is lost. The command line sees the same runs (`idim ls`).")
