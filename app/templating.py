"""The Jinja2 environment for the web UI."""

from pathlib import Path

from starlette.templating import Jinja2Templates

ROOT = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=ROOT / "templates")
STATIC_DIR = ROOT / "static"
