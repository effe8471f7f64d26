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
from pathlib import Path


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
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(convert(args.source, args.out, args.queries, args.seed)))


if __name__ == "__main__":
    main()
