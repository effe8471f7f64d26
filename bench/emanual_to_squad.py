"""Turn an E-Manual QA manual (Nandy et al., EMNLP 2021 Findings) into a SQuAD 2.0-shaped
file for `python -m app eval-answers`, or some of its questions into a BEIR queries.jsonl.

The data is in the public GitHub repository abhi1nandy2/EMNLP-2021-Findings, `data/`: a
manual's sections (`*_manual_corpus.json`: {"section_N": {"title", "text": [lines],
"section_hierarchy"?}}) and 50 expert questions (`*_50_questions.csv`: question_id,
question, section_path, section_link, answer), each answered by a passage of the manual.

    python bench/emanual_to_squad.py squad CORPUS.json QUESTIONS.csv OUT.json
    python bench/emanual_to_squad.py queries QUESTIONS.csv OUT.jsonl --ids 12,40

Each section is one article of one paragraph: the title is its section path ("Settings >
Display > Screen timeout", where the corpus gives the hierarchy), the text its lines as the
manual gives them. The Galaxy S10 corpus was taken from HTML, one block a line: its lines
become paragraphs. The TV remote's was taken from a PDF, cut at every bold word and icon:
its lines stay lines (the app reads a single line break as wrapping, as in a PDF's text).
Each question goes with the section its path ends in (the first, else with the first
section: only the loaded set of questions matters to the eval). `queries` writes the chosen
questions as absent ones (another manual's questions the loaded one cannot answer).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path
from typing import Any


def sections(corpus: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(section path, text) for every section with text."""
    titles = {key: " ".join(str(v.get("title", "")).split()) for key, v in corpus.items()}
    out = []
    for key, section in corpus.items():
        lines = [str(line) for line in section.get("text", [])]
        chain = str(section.get("section_hierarchy") or key).split(">")
        path = " > ".join(titles[k] for k in chain if titles.get(k)) or titles[key]
        # HTML blocks (a hierarchy is given) are paragraphs; a PDF's lines only wrap.
        joiner = "\n\n" if section.get("section_hierarchy") else "\n"
        text = joiner.join(lines).strip()
        if text:
            out.append((path, text))
    return out


def read_questions(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def to_squad(corpus: dict[str, dict[str, Any]], questions: list[dict[str, str]]) -> dict:
    parts = sections(corpus)
    qas: list[list[dict[str, Any]]] = [[] for _ in parts]
    for row in questions:
        wanted = " ".join(row["section_path"].split(">")[-1].split()).lower()
        home = next((i for i, (p, _) in enumerate(parts) if p.lower().endswith(wanted)), 0)
        qas[home].append({
            "id": f"emanual-{row['question_id']}",
            "question": row["question"].strip(),
            "answers": [{"text": row["answer"].strip(), "answer_start": -1}],
            "is_impossible": False,
        })  # fmt: skip
    # Sections of the same path (the TV manual repeats titles) are one article's paragraphs.
    articles: dict[str, list[dict[str, Any]]] = {}
    for (path, text), qa in zip(parts, qas, strict=True):
        articles.setdefault(path, []).append({"context": text, "qas": qa})
    data = [{"title": path, "paragraphs": paragraphs} for path, paragraphs in articles.items()]
    return {"version": "v2.0", "data": data}


# --smoke: a manual of two HTML sections and a PDF one, and two questions.
SMOKE_CORPUS = {
    "section_0": {"title": "Settings", "text": ["Settings"], "section_hierarchy": "section_0"},
    "section_1": {
        "title": "Screen timeout",
        "text": ["Screen timeout", "From Settings, tap Display > Screen timeout."],
        "section_hierarchy": "section_0>section_1",
    },
    "section_2": {"title": "Ambient Mode", "text": ["When you press the", "button, the",
                                                    "Ambient Mode", "screen appears."]},
}  # fmt: skip
SMOKE_QUESTIONS = [
    {"question_id": "1", "question": "How do I change the screen timeout?",
     "section_path": "Settings>Screen timeout",
     "answer": "From Settings, tap Display > Screen timeout."},
    {"question_id": "2", "question": "What is Ambient Mode?",
     "section_path": "Quick Guides>Ambient Mode", "answer": "When you press the button"},
]  # fmt: skip


def convert(corpus: Path, questions: Path, out: Path) -> dict[str, int]:
    data = to_squad(json.loads(corpus.read_text(encoding="utf-8")), read_questions(questions))
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return {
        "sections": sum(len(a["paragraphs"]) for a in data["data"]),
        "questions": sum(len(p["qas"]) for a in data["data"] for p in a["paragraphs"]),
    }


def write_queries(questions: Path, out: Path, ids: set[str]) -> dict[str, int]:
    rows = [r for r in read_questions(questions) if r["question_id"] in ids]
    if missing := ids - {r["question_id"] for r in rows}:
        raise SystemExit(f"no question_id {', '.join(sorted(missing))} in {questions}")
    lines = [json.dumps({"_id": f"emanual-{r['question_id']}", "text": r["question"].strip()})
             for r in rows]  # fmt: skip
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"queries": len(rows)}


def smoke() -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="emanual-smoke-") as scratch:
        root = Path(scratch)
        (root / "corpus.json").write_text(json.dumps(SMOKE_CORPUS))
        with (root / "questions.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*SMOKE_QUESTIONS[0], "section_link"])
            writer.writeheader()
            writer.writerows(SMOKE_QUESTIONS)
        counts = convert(root / "corpus.json", root / "questions.csv", root / "out.json")
        counts |= write_queries(root / "questions.csv", root / "absent.jsonl", {"2"})
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="convert a tiny built-in manual")
    sub = parser.add_subparsers(dest="mode")
    squad = sub.add_parser("squad", help="a manual and its questions as SQuAD 2.0 JSON")
    squad.add_argument("corpus", type=Path)
    squad.add_argument("questions", type=Path)
    squad.add_argument("out", type=Path)
    queries = sub.add_parser("queries", help="chosen questions as a BEIR queries.jsonl")
    queries.add_argument("questions", type=Path)
    queries.add_argument("out", type=Path)
    queries.add_argument("--ids", required=True, help="comma-separated question_id values")
    args = parser.parse_args()
    if args.smoke:
        print(json.dumps(smoke()))
    elif args.mode == "squad":
        print(json.dumps(convert(args.corpus, args.questions, args.out)))
    elif args.mode == "queries":
        print(json.dumps(write_queries(args.questions, args.out, set(args.ids.split(",")))))
    else:
        parser.error("name a mode: squad or queries (or --smoke)")


if __name__ == "__main__":
    main()
