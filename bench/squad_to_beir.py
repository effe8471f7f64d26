"""Turn a SQuAD-style reading-comprehension file into a BEIR retrieval set.

Each paragraph is a document; each question is a query whose one relevant document is the
paragraph it was written about (the construction of the ARCD and MIRACL-style sets). Used
for the CJK sets in docs/retrieval.md: CMRC 2018 (Chinese) and JSQuAD (Japanese), both
CC BY-SA 4.0, from their public repositories.

    python bench/squad_to_beir.py SQUAD.json OUT_DIR [--queries 300] [--seed 7]

A sample of the questions is kept (seeded), at most one per paragraph, so no document is
judged for two queries; every paragraph stays in the corpus.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

# --smoke: two paragraphs, one question each.
SMOKE_SQUAD = {
    "data": [
        {
            "title": "Tea",
            "paragraphs": [
                {
                    "context": "Green tea is steamed soon after picking.",
                    "qas": [{"id": "t1", "question": "When is green tea steamed?",
                             "answers": [{"text": "soon after picking", "answer_start": 21}]}],
                },
                {
                    "context": "Black tea is oxidised before it is dried.",
                    "qas": [{"id": "t2", "question": "What happens before black tea is dried?",
                             "answers": [{"text": "oxidised", "answer_start": 12}]}],
                },
            ],
        }
    ]
}  # fmt: skip


def convert(source: Path, out: Path, queries: int, seed: int) -> dict[str, int]:
    data = json.loads(source.read_text(encoding="utf-8"))["data"]
    corpus, questions = [], []
    for article in data:
        for n, paragraph in enumerate(article["paragraphs"]):
            doc_id = paragraph.get("id") or f"{article.get('id', article['title'])}-{n}"
            context = paragraph["context"]
            title = article.get("title", "")
            # JSQuAD writes "title [SEP] text".
            if " [SEP] " in context:
                title, context = context.split(" [SEP] ", 1)
            corpus.append({"_id": doc_id, "title": title, "text": context})
            if paragraph["qas"]:
                qa = random.Random(f"{seed}-{doc_id}").choice(paragraph["qas"])
                questions.append((qa["id"], qa["question"].strip(), doc_id))
    random.Random(seed).shuffle(questions)
    questions = sorted(questions[:queries])
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for doc in corpus:
            handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for query_id, text, _ in questions:
            handle.write(json.dumps({"_id": query_id, "text": text}, ensure_ascii=False) + "\n")
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for query_id, _, doc_id in questions:
            handle.write(f"{query_id}\t{doc_id}\t1\n")
    return {"documents": len(corpus), "queries": len(questions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, nargs="?")
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="convert a tiny built-in file")
    args = parser.parse_args()
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="squad-smoke-") as scratch:
            source = Path(scratch) / "squad.json"
            source.write_text(json.dumps(SMOKE_SQUAD))
            print(json.dumps(convert(source, Path(scratch) / "beir", args.queries, args.seed)))
        return
    if args.source is None or args.out is None:
        parser.error("name the SQuAD file and the output folder")
    print(json.dumps(convert(args.source, args.out, args.queries, args.seed)))


if __name__ == "__main__":
    main()
