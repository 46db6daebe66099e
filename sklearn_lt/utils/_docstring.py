"""Shared docstring entries, filled in by substitution (imbalanced-learn's convention)."""

import dataclasses
import textwrap

__all__ = ["REFERENCES", "DocEntry", "DocText", "Substitution"]


@dataclasses.dataclass(frozen=True)
class DocEntry:
    """One entry of a numpydoc section (a parameter, an attribute), written once.

    Shared by several docstrings through :class:`Substitution`, which indents
    it to the column of its ``%(key)s`` placeholder: the entry is written
    without indentation, whatever the depth of the docstrings it goes to.

    Parameters
    ----------
    name : str
        The documented name, e.g. ``"cv"``, or names that share the entry
        (``"coef, intercept"``).
    type : str
        Its type, e.g. ``"int, cross-validation generator or iterable"``.
    description : str
        The text under the name, without indentation (it is dedented).
    default : str or None, default=None
        The default as the docs write it (``'"auto"'``, ``"1e-5"``, ``"None"``),
        appended to the type as ``default=...``; ``None`` writes none (the
        estimators that share the entry differ).

    See Also
    --------
    Substitution : Fills the placeholders.

    Examples
    --------
    >>> from sklearn_lt.utils._docstring import DocEntry
    >>> n_epochs = DocEntry("n_epochs", "int", "Passes over the data.")
    >>> print(n_epochs.override(default="30").text())
    n_epochs : int, default=30
        Passes over the data.
    """

    name: str
    type: str
    description: str
    default: str | None = None

    def override(self, **fields):
        """The entry with some fields changed, e.g. one estimator's default.

        Parameters
        ----------
        **fields
            New values of ``name``, ``type``, ``description`` or ``default``.

        Returns
        -------
        entry : DocEntry
            A new entry; this one is unchanged.
        """
        return dataclasses.replace(self, **fields)

    def text(self, indent=0):
        """The entry as numpydoc reads it, its first line not indented.

        Parameters
        ----------
        indent : int, default=0
            The column of the entry's first line in the docstring: the
            description goes 4 columns further.

        Returns
        -------
        text : str
        """
        header = f"{self.name} : {self.type}"
        if self.default is not None:
            header += f", default={self.default}"
        description = textwrap.dedent(self.description).strip("\n")
        if not description:
            return header
        return header + "\n" + textwrap.indent(description, " " * (indent + 4))


class DocText(str):
    """Shared text of several lines, indented by :class:`Substitution` as its placeholder.

    For what is not one entry of a section, e.g. a reference of a References
    section. Written without indentation (it is dedented); the lines after
    the first keep their indentation relative to it.

    Parameters
    ----------
    text : str
        The text.

    Examples
    --------
    >>> from sklearn_lt.utils._docstring import DocText, Substitution
    >>> KANG = DocText(".. [Kang2020] B. Kang et al. Decoupling. ICLR 2020.")
    >>> @Substitution(kang=KANG)
    ... def crt():
    ...     '''Classifier re-training [Kang2020]_.
    ...
    ...     References
    ...     ----------
    ...     %(kang)s
    ...     '''
    >>> print(crt.__doc__.splitlines()[-2].strip())
    .. [Kang2020] B. Kang et al. Decoupling. ICLR 2020.
    """

    def __new__(cls, text):
        return super().__new__(cls, textwrap.dedent(text).strip("\n"))


def _filled(value, indent):
    """``value`` in place of a placeholder at column ``indent``."""
    if isinstance(value, DocEntry):
        return value.text(indent)
    if isinstance(value, DocText):
        return textwrap.indent(value, " " * indent)[indent:]
    if isinstance(value, (tuple, list)):  # several entries, one under the other
        return ("\n" + " " * indent).join(_filled(entry, indent) for entry in value)
    return value  # text, inserted as it is


# The papers of the heads, for their References sections (as in the
# user guide's references page; cite one as ``[Kang2020]_`` in the text).
REFERENCES = {
    "kang2020": DocText(
        """
        .. [Kang2020] B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng and
           Y. Kalantidis. "Decoupling Representation and Classifier for
           Long-Tailed Recognition." ICLR 2020. arXiv:1910.09217."""
    ),
    "lort2024": DocText(
        """
        .. [LORT2024] H. Lu, S. Sun, Y. Xie, L. Zhang, X. Yang and J. Yan.
           "Rethinking Classifier Re-Training in Long-Tailed Recognition: A
           Simple Logits Retargeting Approach." 2024. arXiv:2403.00250."""
    ),
    "menon2021": DocText(
        """
        .. [Menon2021] A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit
           and S. Kumar. "Long-Tail Learning via Logit Adjustment." ICLR 2021."""
    ),
    "cao2019": DocText(
        """
        .. [Cao2019] K. Cao, C. Wei, A. Gaidon, N. Arechiga and T. Ma. "Learning
           Imbalanced Datasets with Label-Distribution-Aware Margin Loss."
           NeurIPS 2019."""
    ),
    "cui2019": DocText(
        """
        .. [Cui2019] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie.
           "Class-Balanced Loss Based on Effective Number of Samples." CVPR 2019."""
    ),
    "lin2017": DocText(
        """
        .. [Lin2017] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollar.
           "Focal Loss for Dense Object Detection." ICCV 2017."""
    ),
    "alshammari2022": DocText(
        """
        .. [Alshammari2022] S. Alshammari, Y.-X. Wang, D. Ramanan and S. Kong.
           "Long-Tailed Recognition via Weight Balancing." CVPR 2022."""
    ),
    "ren2020": DocText(
        """
        .. [Ren2020] J. Ren, C. Yu, S. Sheng, X. Ma, H. Zhao, S. Yi and H. Li.
           "Balanced Meta-Softmax for Long-Tailed Visual Recognition."
           NeurIPS 2020."""
    ),
    "gidaris2018": DocText(
        """
        .. [Gidaris2018] S. Gidaris and N. Komodakis. "Dynamic Few-Shot Visual
           Learning without Forgetting." CVPR 2018."""
    ),
}


class _AtColumn:
    """The entries of a :class:`Substitution`, filled in at one column."""

    def __init__(self, entries, indent):
        self.entries = entries
        self.indent = indent

    def __getitem__(self, key):
        return _filled(self.entries[key], self.indent)


class Substitution:
    """Decorator filling a docstring's ``%(key)s`` placeholders with shared text.

    Parameters shared by several estimators are written once and substituted
    where they are documented, so their descriptions cannot drift apart. A
    :class:`DocEntry` (or a list of them) and a :class:`DocText` are indented
    to the column of their placeholder; other text is inserted as it is. An
    estimator that differs from the shared entry in one field (its default,
    say) passes ``entry.override(default=...)`` under the same key; lines
    written under a placeholder, indented as a description, continue the
    entry's. The papers of :data:`REFERENCES` are always there, for
    References sections: ``%(kang2020)s``. A literal percent sign in a
    decorated docstring is written ``%%``.

    Parameters
    ----------
    *shared : mapping of str to DocEntry, list of DocEntry, DocText or str
        Shared entries by placeholder key (a later mapping overrides an
        earlier one).
    **entries : DocEntry, list of DocEntry, DocText or str
        Entries by placeholder key, ahead of those of ``shared``.

    See Also
    --------
    DocEntry : One shared entry.
    DocText : Shared text of several lines.

    Examples
    --------
    >>> from sklearn_lt.utils._docstring import DocEntry, Substitution
    >>> @Substitution(unit="seconds")
    ... def wait(t):
    ...     '''Wait ``t`` %(unit)s.'''
    >>> wait.__doc__
    'Wait ``t`` seconds.'

    An entry at the column of its placeholder, with this function's default:

    >>> SHARED = {"t": DocEntry("t", "float", "Time to wait.")}
    >>> @Substitution(SHARED, t=SHARED["t"].override(default="1.0"))
    ... def pause(t=1.0):
    ...     '''Pause.
    ...
    ...     Parameters
    ...     ----------
    ...     %(t)s
    ...         Up to a minute.
    ...     '''
    >>> print(pause.__doc__)
    Pause.
    <BLANKLINE>
        Parameters
        ----------
        t : float, default=1.0
            Time to wait.
            Up to a minute.
    <BLANKLINE>
    """

    def __init__(self, *shared, **entries):
        self.entries = dict(REFERENCES)
        for mapping in (*shared, entries):
            self.entries.update(mapping)

    def __call__(self, obj):
        if obj.__doc__:
            lines = obj.__doc__.split("\n")
            # Line by line: each placeholder is filled at the column of its line.
            obj.__doc__ = "\n".join(
                line % _AtColumn(self.entries, len(line) - len(line.lstrip(" ")))
                for line in lines
            )
        return obj
