"""Order of the gallery examples: from the data to the methods to deployment.

sphinx-gallery imports this by name (a string in ``conf.py``), so that the
configuration stays picklable.
"""

ORDER = [
    "plot_samplers_pipeline.py",
    "plot_decoupling_digits.py",
    "plot_weight_norms.py",
    "plot_tau_sweep.py",
    "plot_lort_logits_magnitude.py",
    "plot_gpu_tensors.py",
]


class ExampleOrder:
    """Sort key: the position in ``ORDER``; unlisted examples come last, by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in ORDER:
            return (ORDER.index(filename), filename)
        return (len(ORDER), filename)

    def __repr__(self):
        return "ExampleOrder"
