"""The 45-minute class as a deck of steps: one idea and one chart each (no Streamlit here).

pages/lesson.py draws a step (``/lesson?step=N``); scripts/gen_lesson_plan.py writes the lesson plan
(docs/tutorials/class-in-45-minutes.md) from the same steps, so the deck, the plan and the records give one
number.  Every number is read from the records (assets/recorded/) and the intervals code when asked for, never
typed; a verdict is the ratio's (results.pair), "not shown" where its interval holds 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from .. import demo
from ..d90 import interval_text
from ..results import pair, pair_words, ratio_text
from .text import plain_task

PLOT = 440  # px: the plot area in the deck, so Back / Next, the title and the whole chart fit a 720 px screen


@dataclass
class Step:
    key: str
    title: str
    minutes: str  # where it sits in the 45 minutes
    idea: str  # the one idea, one or two sentences
    ask: str  # the question for the class
    chart: str  # which chart (see figure())
    records: list[str] = field(default_factory=list)  # assets/recorded/ names the chart and the numbers use
    comparison: str | None = None  # the ready-made comparison on Compare, if any


STEPS = [
    Step("idea", "Fine-tuning in a few random directions", "0 – 5",
         "Full fine-tuning moves all D parameters θ away from the pretrained θ₀. Subspace training moves only d "
         "numbers z, along d fixed random directions P: θ = θ₀ + P z. Every parameter stays, and is still used.",
         "If the plane is random, why would it ever meet the good solutions?", "idea"),
    Step("d90", "What d90 means", "5 – 10",
         "Train at several d. The green line is full fine-tuning; the dashed line is 90 % of it. d90 is the "
         "smallest d whose mean accuracy reaches that line; the bar around it is its 95 % interval.",
         "Why 90 % of full fine-tuning, and not 100 %?", "run", ["minilm-l6-trec6"]),
    Step("guess", "Guess first: where will it cross?", "10 – 12",
         "The classic experiment of Li et al. (2018): a fully connected net trained from scratch on 5,000 MNIST "
         "digits. Only the ruler is drawn: full training and its 90 % line. Each student submits one guess of d90, "
         "then the run replays in 30 seconds with the guesses on the chart.",
         "Where will the curve cross the dashed line?", "ruler", ["mlp-mnist5k"]),
    Step("classic", "The classic answer", "12 – 17",
         "The same run, measured: every dot is one seed's test accuracy at one d.",
         "How far were the class's guesses from the measured d90?", "run", ["mlp-mnist5k"]),
    Step("lenet", "A better prior needs fewer directions", "17 – 21",
         "LeNet, a convolutional net, against the fully connected net on the same digits and budget.",
         "Does a convolutional prior need fewer directions?", "compare", ["lenet-mnist5k", "mlp-mnist5k"], "classic"),
    Step("pixels", "Break the prior: shuffled pixels", "21 – 24",
         "One fixed shuffle of the pixel positions, the same for every image: the fully connected net cannot tell, "
         "LeNet's local filters no longer fit.",
         "Which net should care about the shuffle?", "compare",
         ["lenet-mnist5k-shuffled-pixels", "lenet-mnist5k", "mlp-mnist5k-shuffled-pixels", "mlp-mnist5k"],
         "shuffled-pixels"),
    Step("memorise", "Memorising takes more directions", "24 – 27",
         "The same images with their labels shuffled: nothing to generalise, only to memorise (accuracy is then "
         "measured on the training images).",
         "How many more directions does memorising take?", "compare",
         ["mlp-mnist5k-shuffled-labels", "mlp-mnist5k"], "memorisation"),
    Step("pretraining", "A language model: pre-trained against untrained", "27 – 30",
         "MiniLM with its 6 pretrained layers against the same architecture with random weights, on movie-review "
         "polarity (mr).",
         "What does pre-training give the subspace to work with?", "compare",
         ["minilm-l6-mr", "minilm-l6-untrained-mr"], "pretraining"),
    Step("depth", "More layers, fewer dimensions?", "30 – 32",
         "The first 2 pretrained layers of MiniLM against all 6, on mr.",
         "Aghajanyan et al. found larger models lower: do these two runs show it?", "compare",
         ["minilm-l2-mr", "minilm-l6-mr"], "depth"),
    Step("methods", "Beyond the papers: what people fine-tune with", "32 – 35",
         "Every method by the numbers it trains to reach 90 % of full fine-tuning: the random subspace (SAID) "
         "beside LoRA, BitFit, the head alone and others, on mr (grey: reached already at the smallest size tried, "
         "so only a bound).",
         "Which reaches 90 % with the fewest trained numbers, and at what cost?", "params",
         list(demo.COMPARISONS["methods"][1]), "methods"),
    Step("series", "Does pre-training shrink d90?", "35 – 39",
         "Small nets pre-trained on a source (each seed its own pre-training), then fine-tuned on a target: digits "
         "0–4 then 5–9, which rotation was applied then the digit, and 10-way digits then \"digit ≥ 5\" (whose labels "
         "the source already names). Two controls: the source's labels shuffled, and a linear probe on the frozen "
         "start (where it clears the threshold, d90 counts directions beyond the readout).",
         "Which pairing could show a lower d90 without learning anything new?", "series"),
    Step("claims", "A popular account, claim by claim", "39 – 42",
         "An often-shared article says a lower dimension trains faster, generalises better and is steadier. "
         "Each claim set beside recorded runs, the verdict worded from their intervals.",
         "Which of these claims would you have believed?", "claims", ["mlp-digits-claims", "minilm-l6-mr"]),
    Step("mistake", "A common mistake: d is not the model's size", "42 – 45",
         "Fine-tuning does not remove parameters or lower the model's dimension: all D are still there and used. "
         "d90 is a property of the training problem: the size of the smallest random subspace that still reaches "
         "90 % of full fine-tuning.",
         "What would d90 be for a task the model already solves before fine-tuning?", "sizes", ["minilm-l6-trec6"]),
]


def step_of(value) -> int:
    """The step from the address (1-based, ASCII digits only), clamped to the deck; 1 when unreadable."""
    v = str(value or "").strip()
    if not (v.isascii() and v.isdigit()):
        return 1
    return min(len(STEPS), max(1, int(v)))


def record(name: str) -> dict:
    return demo.recorded_result(name)


def _name(res: dict) -> str:
    shuf = "".join(f", shuffled {k}" for k in ("labels", "pixels") if res["config"].get(f"shuffle_{k}"))
    return f"{res['model']}{shuf}"


@lru_cache(maxsize=None)
def _pair(a: str, b: str) -> dict:
    return pair(record(a), record(b))


def _pair_line(a: str, b: str, a_name: str | None = None, b_name: str | None = None) -> str:
    """"X needs fewer dimensions than Y (d90 ratio X / Y: 0.51 (0.31 – 0.69)): shown", or "not shown"."""
    ra, rb = record(a), record(b)
    pr = _pair(a, b)
    an, bn = a_name or _name(ra), b_name or _name(rb)
    words = pair_words(pr, an, bn)
    return words[0].upper() + words[1:] + f" (d90 ratio {an} / {bn}: {ratio_text(pr)})" + (
        ": shown" if pr["verdict"] != "not shown" else "")


def _d90(res: dict) -> str:
    if res.get("d90_status") == "found":
        return f"d90 ≈ {res['d90_interpolated']:,.0f} (95 % interval {interval_text(res['d90_ci'])})"
    from .views import d90_text

    return d90_text(res)


def lesson_lines(lines: list[str]) -> list[str]:
    """Of a recorded pairing's verdict lines: its first source's ratio verdict and the probe on its start."""
    ratio = [x for x in lines if "ratio after / from scratch" in x or "no comparison" in x]
    probe = [x for x in lines if "frozen pre-trained start" in x]
    return ratio[:1] + probe[:1]


def takeaway(step: Step) -> str:
    """The step's one sentence of result, worded from the records now."""
    k = step.key
    if k == "idea":
        r = record("minilm-l6-trec6")
        return (f"The bundled MiniLM has D = {r['D']:,} parameters (with its head for 6 classes); the "
                f"default sweep trains at most "
                f"{max(p['d'] for p in r['points']):,} of them as z.")
    if k == "d90":
        r = record("minilm-l6-trec6")
        return (f"MiniLM on {plain_task(r['task'])}: full fine-tuning {r['baseline_accuracy']:.3f}, threshold "
                f"{r['threshold']:.3f}, {_d90(r)}; the linear probe (the head alone) reaches "
                f"{r['probe_accuracy']:.3f}, below the threshold.")
    if k == "guess":
        r = record("mlp-mnist5k")
        return (f"Full training reaches {r['baseline_accuracy']:.3f}, so the threshold is {r['threshold']:.3f}; "
                f"{len(r['points'])} trials replay in 30 s.")
    if k == "classic":
        r = record("mlp-mnist5k")
        return (f"{_d90(r)}. Li et al. found about 750 for this net on all 60,000 digits, against a higher bar "
                f"(full training reaches {r['baseline_accuracy']:.3f} here).")
    if k == "lenet":
        return _pair_line("lenet-mnist5k", "mlp-mnist5k", "LeNet", "the fully connected net") + "."
    if k == "pixels":
        return (_pair_line("lenet-mnist5k-shuffled-pixels", "lenet-mnist5k", "LeNet on shuffled pixels", "LeNet")
                + ". " + _pair_line("mlp-mnist5k-shuffled-pixels", "mlp-mnist5k",
                                    "the fully connected net on shuffled pixels", "the fully connected net") + ".")
    if k == "memorise":
        return _pair_line("mlp-mnist5k-shuffled-labels", "mlp-mnist5k", "the net on shuffled labels",
                          "the net on real labels") + "."
    if k == "pretraining":
        pre, un = record("minilm-l6-mr"), record("minilm-l6-untrained-mr")
        if un.get("d90_status") == "found":
            return _pair_line("minilm-l6-mr", "minilm-l6-untrained-mr", "pre-trained", "untrained") + "."
        from .views import d90_text

        return (f"Pre-trained: {_d90(pre)}. Untrained: full fine-tuning reaches {un['baseline_accuracy']:.3f} "
                f"(chance {un.get('chance') or 0.5:.3f}); {d90_text(un)}.")
    if k == "depth":
        return _pair_line("minilm-l2-mr", "minilm-l6-mr", "2 layers", "6 layers") + "."
    if k == "methods":
        from .views import compare_sentence

        said, lora = record("minilm-l6-mr"), record("minilm-l6-mr-lora")
        probe = said.get("probe_accuracy")
        line = compare_sentence(("SAID", said), ("LoRA", lora))
        if probe is not None and said.get("threshold") is not None:
            line += (f" The head alone (a linear probe) reaches {probe:.3f} against the threshold "
                     f"{said['threshold']:.3f}" + (": on mr the frozen features already clear the bar"
                                                    if probe >= said["threshold"] else "") + ".")
        return line
    if k == "series":
        from .. import series as series_mod

        parts = []
        for nm in series_mod.PAIRINGS:  # per pairing: its first verdict line (the ratio's), and the readout's
            rec = series_mod.recorded(nm)
            if rec:
                lines = series_mod.verdict(rec["series"], series_mod.recorded_results(rec), name=plain_task)
                parts += lesson_lines(lines)
        return "; ".join(parts) + "." if parts else "No recorded series in this copy."
    if k == "claims":
        from ..claims import all_verdicts

        runs = [record(n) for n in step.records]
        return "; ".join(f"{v.claim}: {v.label.lower()}" for v in all_verdicts(runs)) + "."
    if k == "mistake":
        r = record("minilm-l6-trec6")
        return (f"MiniLM keeps all {r['D']:,} parameters; d90 ≈ {r['d90_interpolated']:,.0f} is how many random "
                f"directions this task needs, {r['D'] / r['d90_interpolated']:,.0f} times fewer.")
    raise KeyError(k)


def results_of(step: Step) -> list[dict]:
    return [record(n) for n in step.records]


def figure(step: Step, height: int = 560):
    """The step's one chart (a Plotly figure, drawn at presenter size by the page)."""
    from . import figures, replay

    kind = step.chart
    if kind == "idea":
        return figures.idea_figure(height=height)
    if kind == "run":
        return figures.run_figure(record(step.records[0]), height=height)
    if kind == "ruler":
        r = record(step.records[0])
        return figures.run_figure(replay.partial(r, r["points"], 0), height=height)
    if kind == "compare":
        return figures.compare_figure(results_of(step), height=height)
    if kind == "params":
        return figures.p90_bars_figure(results_of(step), height=height)
    if kind == "series":
        from .. import series as series_mod

        rec = series_mod.recorded("pretrain-0-4-to-5-9") or series_mod.recorded()  # digits 0-4 -> 5-9
        return figures.series_figure(rec["series"], height=height) if rec else None
    if kind == "claims":
        runs = results_of(step)
        from .views import accuracy_word

        return figures.claim_figure(runs, "mean", accuracy_word(runs[0]), "baseline_accuracies", height=height)
    if kind == "sizes":
        return figures.sizes_figure(record(step.records[0]), height=height)
    raise KeyError(kind)
