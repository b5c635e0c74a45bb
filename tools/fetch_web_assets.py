"""Gather the JavaScript the book's pages load, so that the website needs no CDN.

`npm ci` installs the versions pinned in package-lock.json: requirejs, the ipywidgets embedder
(@jupyter-widgets/html-manager) and MathJax. anywidget's front-end comes from the installed
Python package, so it always matches the anywidget that saved the widget states. Everything
lands in book/_static_js/js/; Sphinx copies book/_static_js/ into the site root
(`html_extra_path`), which serves it as the site's js/ folder. Run before building the book:

    python tools/fetch_web_assets.py
"""

import importlib.resources
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
EXTRA_PATH = ROOT / "book" / "_static_js"
SITE_JS = EXTRA_PATH / "js"
FONT_SUFFIXES = {".woff2", ".woff", ".ttf", ".eot", ".svg"}

# The embedder asks requirejs for a widget's module ("anywidget") and falls back to a CDN only
# when requirejs cannot load it, so this maps that module to the copy next to this script. The
# modules bundled in embed-amd.js find their fonts next to their requirejs address, which is
# page-relative unless mapped to the html-manager folder too.
WIDGETS_SETUP_JS = """\
// Serve anywidget's front-end and the embedder's fonts from this folder, not from a CDN.
(function () {
  const here = (path) => new URL(path, document.currentScript.src).href;
  requirejs.config({
    paths: {
      anywidget: here("anywidget/index"),
      // Modules defined inside embed-amd.js: their addresses only locate their fonts.
      "@jupyter-widgets/base": here("html-manager/base"),
      "@jupyter-widgets/base7": here("html-manager/base7"),
      "@jupyter-widgets/controls": here("html-manager/controls"),
      "@jupyter-widgets/controls7": here("html-manager/controls7"),
      "@jupyter-widgets/html-manager": here("html-manager/index"),
      "@jupyter-widgets/html-manager/dist": here("html-manager"),
    },
  });
})();
"""


def main() -> None:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm not found: install Node.js (https://nodejs.org) to fetch the web assets")
    subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=ROOT, check=True)
    if EXTRA_PATH.exists():
        shutil.rmtree(EXTRA_PATH)
    SITE_JS.mkdir(parents=True)

    shutil.copy2(NODE_MODULES / "requirejs" / "require.js", SITE_JS / "require.js")
    # embed-amd.js renders the saved widget states; the fonts are those its CSS refers to.
    manager = NODE_MODULES / "@jupyter-widgets" / "html-manager" / "dist"
    (SITE_JS / "html-manager").mkdir()
    for path in manager.iterdir():
        if path.name == "embed-amd.js" or path.suffix in FONT_SUFFIXES:
            shutil.copy2(path, SITE_JS / "html-manager" / path.name)
    # The whole es5 tree, since MathJax loads fonts and TeX extensions on demand.
    shutil.copytree(NODE_MODULES / "mathjax" / "es5", SITE_JS / "mathjax")

    anywidget_js = importlib.resources.files("anywidget") / "nbextension" / "index.js"
    (SITE_JS / "anywidget").mkdir()
    (SITE_JS / "anywidget" / "index.js").write_bytes(anywidget_js.read_bytes())
    (SITE_JS / "widgets-setup.js").write_text(WIDGETS_SETUP_JS, encoding="utf-8")
    print(f"web assets ready in {SITE_JS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
