"""Regenerate the study tables of the README (and docs) from ``sklearn-lt study``'s output.

The tables sit between marker comments::

    <!-- study-table: begin ... -->
    ...what `sklearn-lt study` prints (the run time left out)...
    <!-- study-table: end -->

in Markdown files (reStructuredText files take ``.. study-table: begin`` and
``.. study-table: end`` comment lines around a literal block). The study
runs as the README's command does (digits-LT, 5 seeds, one torch thread, at
which it is deterministic), so the suite can check that the files agree
(``tests/test_study.py``).

    python docs/generate_tables.py            # rewrite the tables
    python docs/generate_tables.py --check    # exit 1 where a table differs
"""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Every file holding a generated study table.
FILES = (ROOT / "README.md",)
# The command whose output the tables are (and the run_study call it makes).
COMMAND = "sklearn-lt study"
STUDY = {"data": "digits", "seeds": 5, "threads": 1}

_MARKERS = {
    ".md": (r"<!-- study-table: begin[^\n]*-->\n", r"<!-- study-table: end -->"),
    ".rst": (r"\.\. study-table: begin[^\n]*\n", r"\.\. study-table: end"),
}


def run():
    """The README's study: ``run_study`` as ``sklearn-lt study`` runs it, nothing written."""
    from sklearn_lt.study import run_study

    return run_study(**STUDY, out=None, verbose=0)


def block(result, suffix):
    """The table as it goes between the markers of a ``suffix`` file."""
    from sklearn_lt.study import format_table

    table = format_table(result, timing=False)
    if suffix == ".rst":
        return "\n::\n\n" + "".join(f"    {line}\n" if line else "\n" for line in
                                  table.splitlines()) + "\n"
    return f"```\n{table}\n```\n"


def replace(text, new_block, suffix, name="file"):
    """``text`` with the block between its markers replaced by ``new_block``."""
    begin, end = _MARKERS[suffix]
    pattern = re.compile(f"({begin})(.*?)({end})", re.S)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"{name}: expected one pair of study-table markers.")
    return pattern.sub(lambda m: m.group(1) + new_block + m.group(3), text)


def updated(result, files=FILES):
    """``{path: (current text, regenerated text)}`` of every file with a table."""
    texts = {}
    for path in files:
        text = path.read_text()
        texts[path] = (text, replace(text, block(result, path.suffix), path.suffix, path.name))
    return texts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 where a table differs from the study's output")
    args = parser.parse_args(argv)
    stale = []
    for path, (old, new) in updated(run()).items():
        if old != new:
            stale.append(path.name)
            if not args.check:
                path.write_text(new)
    verb = "differs from" if args.check else "rewritten from"
    for name in stale:
        print(f"{name}: study table {verb} `{COMMAND}`'s output")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
