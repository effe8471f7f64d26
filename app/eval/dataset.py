"""BEIR datasets: corpus.jsonl, queries.jsonl and qrels/test.tsv (with or without a header)."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Dataset:
    name: str
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]  # id -> text, judged queries only
    qrels: dict[str, dict[str, int]]  # query id -> document id -> graded relevance
    digest: str  # changes when the corpus file changes

    def document_text(self, doc_id: str) -> str:
        title, text = self.corpus[doc_id]
        return f"{title}\n\n{text}" if title else text


def load_dataset(directory: Path) -> Dataset:
    """Read a BEIR dataset; only queries with at least one relevant document are kept."""
    corpus_path = directory / "corpus.jsonl"
    missing = [
        p for p in (corpus_path, directory / "queries.jsonl", directory / "qrels" / "test.tsv")
        if not p.is_file()
    ]  # fmt: skip
    if missing:
        raise FileNotFoundError(
            f"{directory} is not a BEIR dataset: missing {', '.join(str(p) for p in missing)}"
        )
    corpus = {}
    for line in corpus_path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            doc = json.loads(line)
            corpus[str(doc["_id"])] = (doc.get("title") or "", doc.get("text") or "")
    qrels: dict[str, dict[str, int]] = {}
    with (directory / "qrels" / "test.tsv").open(encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # the header row, or a blank line
            relevance = int(row[2])
            if relevance > 0 and row[1] in corpus:
                qrels.setdefault(row[0], {})[row[1]] = relevance
    queries = {}
    for line in (directory / "queries.jsonl").read_text(encoding="utf-8").split("\n"):
        if line.strip():
            query = json.loads(line)
            if str(query["_id"]) in qrels:
                queries[str(query["_id"])] = query["text"]
    digest = hashlib.sha256(corpus_path.read_bytes()).hexdigest()
    return Dataset(
        directory.resolve().name,
        corpus,
        queries,
        {q: r for q, r in qrels.items() if q in queries},
        digest,
    )
