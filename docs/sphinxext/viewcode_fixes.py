"""Two fixes to ``sphinx.ext.viewcode``'s source pages of sklearn_lt.

1. Sources located with :mod:`ast`. Sphinx 9.0's own source parser fails on a
   dict display with ``**`` unpacking (``{**Base._parameter_constraints,
   ...}``, scikit-learn's idiom for extending constraints: a ``ValueError``
   from ``zip(..., strict=True)``); viewcode then drops the module's source
   page silently and its module index links to a page that does not exist.
   The ``viewcode-find-source`` event hands viewcode the code and the line
   span of every class, function and method instead.

2. Anchors of the ``[docs]`` links (Sphinx issue #6651). viewcode builds
   every ``[docs]`` link of a source page from one prefix per source module:
   the public module of the first object documented from it.
   ``heads/_rebalance.py`` holds objects documented under two public paths,
   ``sklearn_lt.TauNormClassifier`` and ``sklearn_lt.heads.tau_normalize``, so
   the link of the second kind pointed at ``#sklearn_lt.tau_normalize``, an
   anchor its page does not have. Each link whose anchor is not one of the
   linked object's is pointed at the anchor the Python domain recorded for it.
"""

import ast
import importlib.util
import posixpath
import re
from pathlib import Path

_BACKLINK = re.compile(
    r'(<div class="viewcode-block" id="(?P<name>[^"]+)">\s*'
    r'<a class="viewcode-back" href="(?P<url>[^"#]*))#(?P<anchor>[^"]*)"'
)


def _find_source(app, modname):
    """``(code, {dotted name: (kind, first line, last line)})`` of a sklearn_lt module."""
    if modname != "sklearn_lt" and not modname.startswith("sklearn_lt."):
        return None  # Sphinx's own parser
    spec = importlib.util.find_spec(modname)
    if spec is None or not (spec.origin or "").endswith(".py"):
        return None
    code = Path(spec.origin).read_text(encoding="utf-8")
    tags = {}

    def visit(body, prefix):
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = prefix + node.name
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                kind = "class" if isinstance(node, ast.ClassDef) else "def"
                tags[name] = (kind, first, node.end_lineno)
                if isinstance(node, ast.ClassDef):
                    visit(node.body, name + ".")

    visit(ast.parse(code).body, "")
    return code, tags


def _fix_backlinks(app, pagename, templatename, context, doctree):
    if not pagename.startswith("_modules/") or "body" not in context:
        return
    objects = app.env.get_domain("py").objects
    suffix = app.builder.out_suffix

    def fix(match):
        name, url = match["name"], match["url"]
        target = posixpath.normpath(posixpath.join(posixpath.dirname(pagename), url))
        docname = target.removesuffix(suffix)
        anchors = {
            entry.node_id
            for fullname, entry in objects.items()
            if entry.docname == docname and (fullname == name or fullname.endswith("." + name))
        }
        if match["anchor"] in anchors or len(anchors) != 1:
            return match[0]
        return f'{match[1]}#{anchors.pop()}"'

    context["body"] = _BACKLINK.sub(fix, context["body"])


def setup(app):
    app.setup_extension("sphinx.ext.viewcode")
    app.connect("viewcode-find-source", _find_source)
    app.connect("html-page-context", _fix_backlinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
