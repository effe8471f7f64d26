"""The browser scripts are native ES modules that fit together without a build step: every page
loads modules only, every import names a module and an export that exist, and the progress
stages the page names are the ones the ingestion worker sends."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
SCRIPTS = sorted(STATIC.rglob("*.js"))

IMPORT = re.compile(r'^import\s+(?:\{([^}]*)\}\s+from\s+)?"([^"]+)";', re.MULTILINE)
EXPORT = re.compile(
    r"^export\s+(?:async\s+)?(?:function\*?|const|let|class)\s+([\w$]+)", re.MULTILINE
)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>")


def test_every_page_loads_its_scripts_as_modules():
    tags = []
    for template in (ROOT / "templates").glob("*.html"):
        for attributes in SCRIPT_TAG.findall(template.read_text()):
            tags.append((template.name, attributes))
            assert 'type="module"' in attributes, f"{template.name}: a classic script"
            source = re.search(r"path='([^']+)'", attributes)
            assert source and (STATIC / source.group(1)).is_file(), (template.name, attributes)
    assert len(tags) >= 8  # base.html's and each page's own


def test_every_import_names_a_module_and_exports_that_exist():
    exports = {path: set(EXPORT.findall(path.read_text())) for path in SCRIPTS}
    wrong = []
    for path in SCRIPTS:
        text = path.read_text()
        assert '"use strict"' not in text, f"{path.name}: modules are strict already"
        for names, target in IMPORT.findall(text):
            module = (path.parent / target).resolve()
            if module not in exports:
                wrong.append(f"{path.relative_to(STATIC)} imports a missing {target}")
                continue
            for name in filter(None, (n.strip() for n in names.split(","))):
                if name.split(" as ")[0].strip() not in exports[module]:
                    wrong.append(f"{path.relative_to(STATIC)}: {target} exports no {name}")
    assert not wrong, "\n".join(wrong)


def test_no_script_is_a_grab_bag():
    for path in SCRIPTS:
        lines = path.read_text().count("\n")
        assert lines < 400, f"{path.relative_to(STATIC)} has {lines} lines: split it by concern"


def test_the_page_names_every_stage_the_worker_sends():
    stages_js = (STATIC / "stages.js").read_text()
    table = stages_js[stages_js.index("STAGES = {") : stages_js.index("};")]
    named = set(re.findall(r"^\s+(\w+):", table, re.MULTILINE))
    sent = set()
    for module in (ROOT / "app").rglob("*.py"):
        sent |= set(re.findall(r'\bstage="(\w+)"', module.read_text()))
    assert "embedding" in sent  # app/ingest/worker.py's progress while embedding
    assert sent <= named, f"stages the page does not name: {sorted(sent - named)}"
