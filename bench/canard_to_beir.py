"""Turn CANARD (QuAC follow-ups with human standalone rewrites) into a conversational BEIR set.

CANARD (Elgohary et al., EMNLP 2019, CC BY-SA 4.0) holds, for each question of a QuAC dialog
about one section of a Wikipedia article, the dialog before it (the article and section
titles, then question, answer, question, answer...) and a person's rewrite of the question
that needs no dialog ("When did they disband?" -> "When did Zappa and the Mothers of
Invention disband?"). Its files carry no section text, so each dialog's document is what the
dialog quoted of its section: the teacher's answers are verbatim excerpts of it, in order
(QuAC's "CANNOTANSWER", written "I don't know.", left out). docs/retrieval.md says where
the file comes from.

    python bench/canard_to_beir.py CANARD_DEV.json OUT_DIR [--per-dialog 2] [--seed 7] [--no-topic]

Each dialog is a document; `--per-dialog` of its questions after the first (seeded) are
queries, judged relevant to their dialog's document. A query's line in queries.jsonl also
holds `rewrite` (the human standalone question) and `history`: the conversation before it
as [role, text] pairs, opened by the user naming the topic ("Frank Zappa: Disbandment", as a
person starting a conversation would; --no-topic leaves it out) and then the dialog's
questions and answers.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections import defaultdict
from pathlib import Path

UNANSWERED = "I don't know."  # CANARD's spelling of QuAC's CANNOTANSWER


def convert(source: Path, out: Path, per_dialog: int, seed: int, topic: bool) -> dict[str, int]:
    dialogs: dict[str, list[dict]] = defaultdict(list)
    for item in json.loads(source.read_text(encoding="utf-8")):
        dialogs[item["QuAC_dialog_id"]].append(item)
    corpus, queries = [], []
    for dialog_id, items in sorted(dialogs.items()):
        items.sort(key=lambda i: i["Question_no"])
        # The longest history holds every answer but the last question's.
        history = max((i["History"] for i in items), key=len)
        title, section, exchanges = history[0], history[1], history[2:]
        # dict: an answer given twice is quoted once; order kept
        answers = dict.fromkeys(a.strip() for a in exchanges[1::2] if a.strip() != UNANSWERED)
        text = f"{section}\n\n" + " ".join(answers)
        corpus.append({"_id": dialog_id, "title": title, "text": text})
        followups = [i for i in items if i["Question_no"] >= 2]
        for item in random.Random(f"{seed}-{dialog_id}").sample(
            followups, min(per_dialog, len(followups))
        ):
            turns = [["user", f"{title}: {section}"]] if topic else []
            before = item["History"][2:]
            for n, text in enumerate(before):
                turns.append(["user" if n % 2 == 0 else "assistant", text])
            queries.append(
                {
                    "_id": f"{dialog_id}#{item['Question_no']}",
                    "text": item["Question"].strip(),
                    "rewrite": item["Rewrite"].strip(),
                    "history": turns,
                    "doc": dialog_id,
                }
            )
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for doc in corpus:
            handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for query in queries:
            line = {k: v for k, v in query.items() if k != "doc"}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for query in queries:
            handle.write(f"{query['_id']}\t{query['doc']}\t1\n")
    return {"documents": len(corpus), "queries": len(queries)}


# --smoke: one dialog of three questions, in CANARD's shape.
SMOKE = [
    {
        "QuAC_dialog_id": "C_1",
        "Question_no": n,
        "Question": question,
        "Rewrite": rewrite,
        "History": ["Norvale", "Lighthouse", *history],
    }
    for n, question, rewrite, history in (
        (1, "Who keeps the lighthouse?", "Who keeps the Norvale lighthouse?", []),
        (2, "What does he eat?", "What does the Norvale keeper eat?",
         ["Who keeps the lighthouse?", "Ada Brann keeps it."]),
        (3, "Since when?", "Since when has Ada Brann kept the lighthouse?",
         ["Who keeps the lighthouse?", "Ada Brann keeps it.", "What does he eat?",
          "Porridge every morning."]),
    )
]  # fmt: skip


def smoke() -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="canard-smoke-") as scratch:
        source = Path(scratch) / "dev.json"
        source.write_text(json.dumps(SMOKE), encoding="utf-8")
        return convert(source, Path(scratch) / "out", 2, 7, True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="convert a tiny built-in dialog")
    if parser.parse_known_args()[0].smoke:
        print(json.dumps(smoke()))
        return
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-dialog", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--topic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="open each conversation with the user naming the topic (--no-topic: the first "
        "question opens it, as in QuAC, where the student was shown the titles)",
    )
    args = parser.parse_args()
    print(json.dumps(convert(args.source, args.out, args.per_dialog, args.seed, args.topic)))


if __name__ == "__main__":
    main()
