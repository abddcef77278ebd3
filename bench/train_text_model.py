#!/usr/bin/env python
"""Train the crisis text model on the labelled corpus and write the shipped model file.

    .venv/bin/python bench/train_text_model.py           # writes backend/crisis/default_phrases/text_model.tsv
    .venv/bin/python bench/train_text_model.py --check   # exit 1 if the file is not what training gives

Learns from every labelled row of ``tests/crisis/corpus/`` except the frozen
``held_out`` split and the sets kept out of it (``crisis_eval.model_examples``,
``NOT_LEARNED``), with the settings of
``backend.crisis.text_model_training.Settings``. Training is deterministic, so the file
changes only when the corpus, the settings or the normalisation do; run this after any
of them changes (a test fails until it is run). ``bench/crisis_eval.py --cross``
measures the model on sets it was not trained on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.crisis.language import CATEGORIES
from backend.crisis.text_model import MODEL_FILE
from backend.crisis.text_model_training import Settings, serialise, train
from bench.crisis_eval import FROZEN, NOT_LEARNED, model_examples, read_all_rows


def shipped_model_text() -> str:
    """The model file as training on the corpus gives it."""
    examples = model_examples(read_all_rows())
    settings = Settings()
    comment = [
        "The crisis text model (backend/crisis/text_model.py). Generated: do not edit; run",
        "bench/train_text_model.py. Learned from "
        f"{sum(e.label for e in examples)} crisis and {sum(not e.label for e in examples)} ordinary messages "
        f"of tests/crisis/corpus/ (all but {', '.join((FROZEN, *NOT_LEARNED))}),",
        f"alerting at probability {settings.alert_probability}. Rows: feature, alert weight, "
        "then one weight per category.",
    ]
    return serialise(train(examples, CATEGORIES, settings), comment=comment)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the file instead of writing it")
    args = parser.parse_args()
    text = shipped_model_text()
    if args.check:
        if MODEL_FILE.read_text(encoding="utf-8") != text:
            sys.exit(f"{MODEL_FILE} is not what training gives: run bench/train_text_model.py")
        print(f"{MODEL_FILE.name} is what training gives")
        return
    MODEL_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {MODEL_FILE} ({len(text.splitlines())} lines)")


if __name__ == "__main__":
    main()
