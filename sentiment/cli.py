"""``revmon sentiment ...``: classify JSON lines, evaluate on a labelled file, retrain the head.

The lead mounts ``app`` under the main Typer app; every command also works standalone with
``python -m sentiment.cli``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from sentiment.classifier import load_classifier, parse_jsonl, read_jsonl
from sentiment.encoder import Precision
from sentiment.training import (
    NEAR_DUPLICATE,
    SCREEN_SETS,
    evaluate,
    format_table,
    screen,
    train_head,
    train_shipped,
)

app = typer.Typer(help="Multilingual review sentiment: classify, evaluate, retrain.")

ModelOpt = typer.Option(
    None, "--model", help="HF model name/path or ENCODER::HEAD; default bundled"
)
PrecisionOpt = typer.Option(
    "auto", "--precision", help="auto (bf16 on AMX CPUs, else fp32), fp32 or bf16"
)


@app.command()
def classify(
    model: str | None = ModelOpt,
    batch_size: int = typer.Option(32, min=1),
    precision: Precision = PrecisionOpt,
) -> None:
    """Read JSON lines {"text": ...} on stdin; write label, score, probs per line, in order."""
    rows = parse_jsonl(sys.stdin, "stdin")
    clf = load_classifier(model, precision=precision)
    for pred in clf.predict([r["text"] for r in rows], batch_size):
        out = {"label": pred.label, "score": pred.score, "probs": pred.probs}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


@app.command("eval")
def eval_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="labelled JSON lines"),
    model: str | None = ModelOpt,
    batch_size: int = typer.Option(32, min=1),
    precision: Precision = PrecisionOpt,
) -> None:
    """Print accuracy and per-class F1, overall and per language, as a Markdown table."""
    rows = read_jsonl(file)  # a bad line fails here, before minutes of model loading
    clf = load_classifier(model, precision=precision)
    typer.echo(f"model: {clf.model_id}  version: {clf.version}  precision: {clf.precision}")
    typer.echo(format_table(evaluate(clf, rows, batch_size)))


@app.command()
def train(
    extra: list[Path] = typer.Option([], "--extra", exists=True, help="more labelled JSONL"),
    out: Path | None = typer.Option(None, "--out", help="head file (default: user cache)"),
    model: str | None = ModelOpt,
) -> None:
    """Refit the head on the shipped set plus --extra files (saved where the loader finds it)."""
    pairs = [(r["text"], r["label"]) for f in extra for r in read_jsonl(f)]
    typer.echo(json.dumps(train_head(pairs, out=out, model=model), indent=2))


@app.command("train-adapter")
def train_adapter_cmd(
    out_dir: Path = typer.Option(Path(__file__).with_name("data"), "--out-dir"),
    epochs: int | None = typer.Option(None, "--epochs", min=1),
    seed: int | None = typer.Option(None, "--seed"),
) -> None:
    """Regenerate the shipped LoRA adapter and head from train.jsonl (minutes on CPU)."""
    result = train_shipped(out_dir, epochs=epochs, seed=seed, log=typer.echo)
    typer.echo(json.dumps(result, indent=2))


@app.command("screen")
def screen_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON lines with text"),
    against: str = typer.Option("all", "--against", help="shipped sets: all, train or held-out"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write the kept lines here"),
    threshold: float | None = typer.Option(None, min=0.0, max=1.0, help="cosine; default 0.92"),
) -> None:
    """List the lines that repeat or paraphrase a shipped review; -o keeps the others.

    Run it on a new held-out set (against all) or new training data (against held-out)
    before it joins the shipped files. The threshold is set on the base encoder.
    """
    from sentiment.e5convert import ensure_converted
    from sentiment.encoder import load_encoder

    if against not in SCREEN_SETS:
        raise typer.BadParameter(f"choose one of {', '.join(SCREEN_SETS)}", param_hint="--against")
    rows = read_jsonl(file)
    texts = [str(r.get("text") or "") for r in rows]
    # screening a shipped file against the sets would find every line in itself
    paths = [p for p in SCREEN_SETS[against] if p.resolve() != file.resolve()]
    reference = [r["text"] for p in paths for r in read_jsonl(p)]
    base = load_encoder(str(ensure_converted(None)))
    dropped = screen(texts, reference, base, NEAR_DUPLICATE if threshold is None else threshold)
    for d in dropped:
        typer.echo(
            f"item {d.index + 1}: {d.reason} ({d.cosine:.3f}) "
            f"{json.dumps(texts[d.index], ensure_ascii=False)} ~ "
            f"{json.dumps(d.closest, ensure_ascii=False)}"
        )
    repeats = sum(d.reason == "repeat" for d in dropped)
    typer.echo(
        f"screened {len(rows)} against {len(reference)} ({against}): {repeats} repeats, "
        f"{len(dropped) - repeats} paraphrases, {len(rows) - len(dropped)} kept"
    )
    if out is not None:
        gone = {d.index for d in dropped}
        with open(out, "w", encoding="utf-8") as f:
            for i, row in enumerate(rows):
                if i not in gone:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    app()
