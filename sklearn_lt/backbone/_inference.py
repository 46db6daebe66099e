"""What a trained stage one answers: features, the joint classifier's predictions.

:class:`JointInferenceMixin` gives a skorch network whose module is a
:class:`JointNet` scikit-learn's ``transform``/``predict_proba``/``predict``/
``score``, batch by batch through skorch's ``forward_iter``, in the array
type the ``output`` parameter asks for, and the counts the network saved.
"""

import torch
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import _check_feature_names

from ..heads import SoftmaxClassifier
from ..utils import to_numpy
from ._networks import JointNet

__all__ = ["JointInferenceMixin"]


class JointInferenceMixin:
    """``transform`` and the joint classifier's answers for a skorch network of a ``JointNet``.

    The host provides skorch's ``module_``, ``forward_iter``, ``get_dataset``,
    ``check_is_fitted``, ``classes_`` and the ``device`` and ``output``
    parameters.
    """

    def _joint_net(self):
        module = self.module_
        while not isinstance(module, JointNet):
            inner = getattr(module, "module", None) or getattr(module, "_orig_mod", None)
            if inner is None:
                raise TypeError(f"module_ is not a JointNet: {type(self.module_).__name__}")
            module = inner
        return module

    def _joint_classifier(self):
        fc = self._joint_net().fc
        return SoftmaxClassifier.from_weights(
            fc.weight.detach().cpu().numpy().copy(),
            fc.bias.detach().cpu().numpy().copy(),
            classes=self.classes_,
            class_counts=self.class_counts_,
        )

    def _network_device(self):
        if self.device is not None:
            return torch.device(self.device)
        for tensor in self.module_.parameters():
            return tensor.device
        return torch.device("cpu")

    def _output_type(self, X):
        """Whether ``output`` asks for tensors for ``X``, and the device they are gathered on."""
        as_torch = self.output == "torch" or (
            self.output == "auto" and isinstance(X, torch.Tensor)
        )
        return as_torch, self._network_device() if as_torch else torch.device("cpu")

    def _forward_all(self, X, *, features):
        """Logits (or features) of every row of ``X``, in the type ``output`` asks for."""
        self.check_is_fitted()
        _check_feature_names(self, X, reset=False)
        dataset = self.get_dataset(X)
        as_torch, device = self._output_type(X)
        net = self._joint_net()
        out, start, before = None, 0, net.return_features
        net.return_features = features
        try:
            for part in self.forward_iter(dataset, training=False, device=device):
                part = part[0] if isinstance(part, tuple) else part
                if out is None:
                    out = part.new_empty((len(dataset), *part.shape[1:]))
                out[start : start + len(part)] = part
                start += len(part)
        finally:
            net.return_features = before
        return out, as_torch

    def transform(self, X):
        """Penultimate features of the backbone, computed batch by batch in eval mode.

        Parameters
        ----------
        X : array-like, torch.Tensor or torch.utils.data.Dataset
            Images as in ``fit`` (of the fitted shape).

        Returns
        -------
        features : ndarray or torch.Tensor of shape (N, ``feature_dim_``), float32
            A tensor on the network's device when ``output="torch"`` (or
            ``"auto"`` with tensor input), else numpy.
        """
        out, as_torch = self._forward_all(X, features=True)
        return out if as_torch else out.numpy()

    def predict_proba(self, X):
        """Class probabilities of the joint classifier (softmax of its logits).

        Parameters
        ----------
        X : array-like, torch.Tensor or torch.utils.data.Dataset
            Images as in ``fit`` (of the fitted shape).

        Returns
        -------
        proba : ndarray or torch.Tensor of shape (N, n_classes)
            In the type given by ``output``.
        """
        logits, as_torch = self._forward_all(X, features=False)
        proba = self._get_predict_nonlinearity()(logits)
        return proba if as_torch else to_numpy(proba)

    def predict(self, X):
        """Labels predicted by the joint classifier (from ``classes_``).

        Parameters
        ----------
        X : array-like, torch.Tensor or torch.utils.data.Dataset
            Images as in ``fit`` (of the fitted shape).

        Returns
        -------
        y_pred : ndarray or torch.Tensor of shape (N,)
            A tensor (on the network's device) when ``output`` asks for torch
            and the labels are numbers.
        """
        proba = self.predict_proba(X)
        classes = self.classes_
        if isinstance(proba, torch.Tensor):
            best = proba.argmax(dim=1)
            if classes.dtype.kind in "biuf":
                return torch.as_tensor(classes, device=best.device)[best]
            return classes[best.cpu().numpy()]
        return classes[proba.argmax(axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of the joint classifier on ``X``, ``y`` (numpy or torch, any mix).

        Parameters
        ----------
        X : array-like, torch.Tensor or torch.utils.data.Dataset
            Images as in ``fit`` (of the fitted shape).
        y : array-like of shape (N,)
            True labels.
        sample_weight : array-like of shape (N,), default=None
            Weights of the samples.

        Returns
        -------
        score : float
        """
        return accuracy_score(
            to_numpy(y), to_numpy(self.predict(X)), sample_weight=sample_weight
        )

    # ------------------------------------------------------ fitted attributes
    @property
    def class_counts_(self):
        self.check_is_fitted()
        return self._joint_net().class_counts.detach().cpu().numpy().copy()

    @property
    def _n_features_out(self):
        self.check_is_fitted()
        return self.feature_dim_
