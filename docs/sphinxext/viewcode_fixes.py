"""Correct the anchors of viewcode's ``[docs]`` links (Sphinx issue #6651).

``sphinx.ext.viewcode`` builds every ``[docs]`` link of a source page from one
prefix per source module: the public module of the first object documented
from it. ``heads/_rebalance.py`` holds objects documented under two public
paths, ``sklearn_lt.TauNormClassifier`` and ``sklearn_lt.heads.tau_normalize``,
so the link of the second kind pointed at ``#sklearn_lt.tau_normalize``, an
anchor that its page does not have. Each link whose anchor is not one of the
linked object's is pointed at the anchor the Python domain recorded for it.
"""

import posixpath
import re

_BACKLINK = re.compile(
    r'(<div class="viewcode-block" id="(?P<name>[^"]+)">\s*'
    r'<a class="viewcode-back" href="(?P<url>[^"#]*))#(?P<anchor>[^"]*)"'
)


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
    app.connect("html-page-context", _fix_backlinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
