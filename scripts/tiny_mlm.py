"""Pre-train a tiny transformer with masked-language modelling on the bundled sentences, on a CPU.

The language-model half of "pre-training shrinks d90" (issue: the pre-training series): a 2-layer,
128-wide BERT and its word-piece vocabulary are made here from nothing, trained to fill in masked words
for at most about half an hour on 2 cores, and saved at several amounts of pre-training.  Step 0 is the
from-scratch twin: the same architecture, vocabulary and initial weights, never trained.  Each saved
directory is a local model for `idim run --model DIR`.

    python scripts/tiny_mlm.py --out /tmp/tiny-mlm --minutes 25
    idim run --model /tmp/tiny-mlm/step-0 --task mr --seeds 3 ...      # from scratch
    idim run --model /tmp/tiny-mlm/step-N --task mr --seeds 3 ...      # pre-trained

What it reads: every bundled text task's sentences (labels unused), except mr's validation and test
splits (the split `idim run --task mr` makes with split seed 0), so the fine-tuning task's held-out
sentences are never seen in pre-training.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXT_TASKS = ("mr", "trec6", "sms-spam", "r8", "fine-foods")  # trec50 has trec6's sentences


def corpus(split_seed: int = 0) -> tuple[list[str], int]:
    """Sentences of the bundled text tasks; mr's validation and test sentences left out."""
    from idim_core.tasks import load_task

    held_out: set[str] = set()
    texts: list[str] = []
    for name in TEXT_TASKS:
        data = load_task(name, split_seed=split_seed)
        if name == "mr":
            held_out = set(data.val.text) | set(data.test.text)
            texts += data.train.text
        else:
            texts += data.train.text + data.val.text + data.test.text
    kept = [t for t in dict.fromkeys(texts) if t not in held_out and t.strip()]
    return kept, len(held_out)


def make_tokenizer(texts: list[str], out: Path, vocab_size: int):
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2)
    tok = BertTokenizerFast(tokenizer_object=wp._tokenizer, unk_token="[UNK]", sep_token="[SEP]",
                            pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]", do_lower_case=True)
    tok.save_pretrained(out)
    return tok


def add_mean_pooling(d: Path, width: int) -> None:
    """Say, the way sentence-transformers checkpoints do, that a sentence is the mean of its word vectors:
    `idim` then builds encoder -> mean -> head (as for the bundled MiniLM) instead of a classifier on the
    [CLS] vector, which masked-word training never trains."""
    (d / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (d / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}], indent=1))
    (d / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": width, "pooling_mode_mean_tokens": True}, indent=1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="directory for step-N model directories and log.json")
    ap.add_argument("--minutes", type=float, default=25.0, help="wall-clock cap on pre-training")
    ap.add_argument("--save", default="0,1000,3000", help="steps to save at, besides the last")
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)

    import torch
    from transformers import BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling

    torch.set_num_threads(a.threads)
    out = Path(a.out)
    texts, n_held = corpus()
    rng = random.Random(a.seed)
    rng.shuffle(texts)
    n_dev = min(500, len(texts) // 20)
    dev, train = texts[:n_dev], texts[n_dev:]
    print(f"corpus: {len(train):,} sentences to train on, {n_dev} to watch the loss on; "
          f"{n_held:,} of mr's validation and test sentences left out", flush=True)
    tok = make_tokenizer(train, out / "tokenizer", a.vocab)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=a.hidden, num_hidden_layers=a.layers,
                     num_attention_heads=max(1, a.hidden // 64), intermediate_size=4 * a.hidden,
                     max_position_embeddings=max(128, a.max_length + 2))
    torch.manual_seed(a.seed)
    model = BertForMaskedLM(cfg)
    n_params = sum(p.numel() for p in model.bert.parameters())
    print(f"model: {a.layers} layers, {a.hidden} wide, vocabulary {len(tok):,}: {n_params:,} encoder numbers",
          flush=True)
    enc = tok(train, truncation=True, max_length=a.max_length)["input_ids"]
    dev_enc = tok(dev, truncation=True, max_length=a.max_length)["input_ids"]
    collate = DataCollatorForLanguageModeling(tok, mlm_probability=0.15)
    def mlm_loss(b) -> "torch.Tensor":
        # the word predictions only where a word was masked (15 %): the same loss as BertForMaskedLM's,
        # without the vocabulary-wide output at every position
        h = model.bert(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state
        sel = b["labels"] != -100
        return torch.nn.functional.cross_entropy(model.cls(h[sel]), b["labels"][sel])

    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    warmup = 200
    saves = sorted({int(s) for s in a.save.split(",") if s.strip()})
    log: dict = {"args": vars(a), "sentences": len(train), "encoder_params": n_params, "saved": [], "loss": []}

    def save(step: int) -> None:
        d = out / f"step-{step}"
        model.save_pretrained(d)
        tok.save_pretrained(d)
        add_mean_pooling(d, a.hidden)
        log["saved"].append(step)
        print(f"saved {d}", flush=True)

    def dev_loss() -> float:
        model.eval()
        state = torch.get_rng_state()
        torch.manual_seed(1)  # the same masks at every check
        tot, n = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(dev_enc), 128):
                b = collate([{"input_ids": x} for x in dev_enc[i:i + 128]])
                tot += float(mlm_loss(b)) * len(b["input_ids"])
                n += len(b["input_ids"])
        torch.set_rng_state(state)
        model.train()
        return tot / max(1, n)

    t0, step = time.time(), 0
    order: list[int] = []
    if 0 in saves:
        save(0)
    first = dev_loss()
    log["loss"].append({"step": 0, "dev_loss": first, "s": 0.0})
    print(f"step 0: masked-word loss on held-out sentences {first:.3f} (chance {math.log(len(tok)):.3f})",
          flush=True)
    model.train()
    while time.time() - t0 < a.minutes * 60:
        if not order:
            order = list(range(len(enc)))
            rng.shuffle(order)
        idx, order = order[:a.batch], order[a.batch:]
        b = collate([{"input_ids": enc[i]} for i in idx])
        for grp in opt.param_groups:
            grp["lr"] = a.lr * min(1.0, (step + 1) / warmup)
        loss = mlm_loss(b)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step in saves:
            save(step)
        if step % 500 == 0:
            dl = dev_loss()
            log["loss"].append({"step": step, "dev_loss": dl, "s": round(time.time() - t0, 1)})
            print(f"step {step}: held-out masked-word loss {dl:.3f} ({time.time() - t0:.0f} s)", flush=True)
    if step not in log["saved"]:
        save(step)
    dl = dev_loss()
    log["loss"].append({"step": step, "dev_loss": dl, "s": round(time.time() - t0, 1)})
    log["steps"] = step
    log["seconds"] = round(time.time() - t0, 1)
    (out / "log.json").write_text(json.dumps(log, indent=1))
    print(f"done: {step} steps in {log['seconds']:.0f} s, held-out masked-word loss {first:.3f} -> {dl:.3f}",
          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
