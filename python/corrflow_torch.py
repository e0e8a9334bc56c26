"""PyTorch bridge for corrflow: write an ``nn.Sequential`` MLP in corrflow's model format, read
one back, and write a data set corrflow reads.

No corrflow build is needed. NumPy and ``safetensors`` are required; PyTorch only for
``export``/``load`` (the array-level ``export_arrays``/``load_arrays`` and ``write_dataset``
work with NumPy alone).

The model format (``src/net/model_io.rs``): a safetensors file with F64 tensors
``hidden1.weight``, ``hidden1.bias``, ..., ``hiddenL.*``, ``readout.weight``, ``readout.bias``
(weights (out, in) as ``nn.Linear``; a missing bias is a bias-free layer), and the metadata
``format`` = ``corrflow-mlp``, ``widths`` = ``"4,16,3"``, ``activation`` = one name for every
hidden layer or a comma-separated name per hidden layer. A normaliser before the first layer is
either folded into it (W' = W/sigma, b' = b - W (mu/sigma)) or recorded as the metadata key
``corrflow.preprocess`` = ``{"normalize_mean": "m1,m2,...", "normalize_std": "s1,s2,..."}``
(the record ``corrflow train`` writes) for corrflow to apply to the data.

Example::

    import corrflow_torch
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    ...train...
    corrflow_torch.export(model, "iris.safetensors")
    corrflow_torch.write_dataset(x_train, y_train, "iris_train")  # iris_train_x.npy, _y.npy
"""

import json

import numpy as np
from safetensors.numpy import load_file, save_file
from safetensors import safe_open

FORMAT_TAG = "corrflow-mlp"
PREPROCESS_KEY = "corrflow.preprocess"


def _torch():
    try:
        import torch  # noqa: F401
        from torch import nn  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "corrflow_torch.export/load need PyTorch; export_arrays/load_arrays and "
            "write_dataset work with NumPy alone"
        ) from e
    import torch

    return torch


def _module_classes():
    """The Erf and Quadratic modules (corrflow activations PyTorch has no module for)."""
    torch = _torch()
    nn = torch.nn

    class Erf(nn.Module):
        """phi(h) = erf(h)."""

        def forward(self, h):
            return torch.erf(h)

    class Quadratic(nn.Module):
        """phi(h) = h + alpha h^2 (the activation of Fischer et al. 2022)."""

        def __init__(self, alpha):
            super().__init__()
            self.alpha = float(alpha)

        def forward(self, h):
            return h + self.alpha * h * h

        def extra_repr(self):
            return f"alpha={self.alpha}"

    return Erf, Quadratic


def Erf():
    """An ``nn.Module`` computing erf(h), which ``export`` writes as corrflow's ``erf``."""
    return _module_classes()[0]()


def Quadratic(alpha):
    """An ``nn.Module`` computing h + alpha h^2, written as corrflow's ``quad:ALPHA``."""
    return _module_classes()[1](alpha)


def _activation_name(module):
    """corrflow's spelling of an activation module, or None when ``module`` is not one."""
    torch = _torch()
    nn = torch.nn
    kind = type(module).__name__
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.LeakyReLU):
        return f"leaky_relu:{float(module.negative_slope)!r}"
    if isinstance(module, nn.Tanh):
        return "tanh"
    if isinstance(module, nn.Sigmoid):
        return "sigmoid"
    if isinstance(module, nn.GELU):
        if module.approximate != "none":
            raise ValueError(
                "GELU(approximate='tanh') is not corrflow's gelu (the exact h*Phi(h)); "
                "use nn.GELU()"
            )
        return "gelu"
    if isinstance(module, nn.SiLU):
        return "silu"
    if isinstance(module, nn.Softplus):
        if float(module.beta) != 1.0:
            raise ValueError(f"Softplus(beta={module.beta}): corrflow's softplus has beta = 1")
        return "softplus"
    if isinstance(module, nn.Identity):
        return "linear"
    if kind == "Erf":
        return "erf"
    if kind == "Quadratic":
        return f"quad:{float(module.alpha)!r}"
    return None


def _normaliser(module):
    """(mean, std) of a normalising module (e.g. torchvision's ``transforms.Normalize``)."""
    if hasattr(module, "mean") and hasattr(module, "std") and not hasattr(module, "weight"):
        return module.mean, module.std
    return None


def _flatten(model):
    torch = _torch()
    for m in model.children() if isinstance(model, torch.nn.Sequential) else [model]:
        if isinstance(m, torch.nn.Sequential):
            yield from _flatten(m)
        else:
            yield m


def export(model, path, preprocess=None, fold=True, metadata=None):
    """Write ``model`` (an ``nn.Sequential`` of ``Linear`` layers, with or without bias, and
    activations) to ``path`` in corrflow's format.

    Accepted activations: ReLU, LeakyReLU, Tanh, Sigmoid, GELU (exact), SiLU, Softplus (beta=1),
    Identity, and this module's Erf and Quadratic. Two Linear layers in a row get the identity
    between them; ``Flatten`` and ``Dropout`` are skipped (corrflow evaluates the network as
    ``model.eval()`` does); a final ``Softmax``/``LogSoftmax`` is left out (it does not change
    the arg max corrflow classifies by).

    ``preprocess``: ``(mean, std)`` (scalars or one value per input feature) of a normaliser
    x -> (x - mean)/std applied before the first layer; a leading module with ``mean`` and
    ``std`` attributes (torchvision's ``Normalize``) is taken the same way. With ``fold`` it is
    folded into the first layer; else it is recorded as ``corrflow.preprocess``.
    ``metadata``: extra string metadata (e.g. ``{"task": "iris"}``).
    """
    torch = _torch()
    modules = list(_flatten(model))
    if modules and _normaliser(modules[0]) is not None:
        if preprocess is not None:
            raise ValueError("the model starts with a normaliser and preprocess= is given too")
        preprocess = _normaliser(modules[0])
        modules = modules[1:]
    while modules and isinstance(modules[-1], (torch.nn.Softmax, torch.nn.LogSoftmax)):
        modules = modules[:-1]
    weights, biases, activations = [], [], []
    pending = None  # an activation seen after the last Linear
    for k, m in enumerate(modules):
        if isinstance(m, (torch.nn.Flatten, torch.nn.Dropout)):
            continue
        if isinstance(m, torch.nn.Linear):
            if weights:
                activations.append(pending or "linear")
            elif pending is not None:
                raise ValueError(f"module {k} ({pending}) comes before the first Linear layer")
            pending = None
            weights.append(m.weight.detach().double().cpu().numpy())
            biases.append(None if m.bias is None else m.bias.detach().double().cpu().numpy())
            continue
        name = _activation_name(m)
        if name is None:
            raise ValueError(
                f"module {k} ({type(m).__name__}) is neither Linear nor an activation corrflow "
                "knows (ReLU, LeakyReLU, Tanh, Sigmoid, GELU, SiLU, Softplus, Identity, Erf, "
                "Quadratic)"
            )
        if pending is not None:
            raise ValueError(f"module {k} ({name}) follows another activation ({pending})")
        pending = name
    if pending is not None:
        raise ValueError(f"the model ends with an activation ({pending}); its last layer must "
                         "be the Linear read-out")
    export_arrays(weights, biases, activations, path, preprocess, fold, metadata)


def export_arrays(weights, biases, activations, path, preprocess=None, fold=True, metadata=None):
    """NumPy-level ``export``: ``weights[l]`` (out, in), ``biases[l]`` (out,) or None for a
    bias-free layer, ``activations`` one corrflow name per hidden layer (len(weights) - 1)."""
    weights = [np.asarray(w, dtype=np.float64) for w in weights]
    biases = [None if b is None else np.asarray(b, dtype=np.float64) for b in biases]
    if not weights or len(biases) != len(weights) or len(activations) != len(weights) - 1:
        raise ValueError(
            f"{len(weights)} weights, {len(biases)} biases, {len(activations)} activations: "
            "need one bias (or None) per weight and one activation per hidden layer"
        )
    for l in range(1, len(weights)):
        if weights[l].shape[1] != weights[l - 1].shape[0]:
            raise ValueError(
                f"layer {l + 1} expects {weights[l].shape[1]} inputs but layer {l} gives "
                f"{weights[l - 1].shape[0]}"
            )
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    if preprocess is not None:
        d = weights[0].shape[1]
        mean, std = (np.broadcast_to(np.asarray(v, dtype=np.float64).reshape(-1), (d,)).copy()
                     for v in preprocess)
        if np.any(std <= 0) or not np.all(np.isfinite(std)) or not np.all(np.isfinite(mean)):
            raise ValueError("preprocess std must be finite and > 0, mean finite")
        if fold:
            # W (x - mu)/sigma + b = (W/sigma) x + (b - W mu/sigma)
            w = weights[0] / std[None, :]
            b = biases[0] if biases[0] is not None else np.zeros(w.shape[0])
            biases[0] = b - w @ mean
            weights[0] = w
        else:
            meta[PREPROCESS_KEY] = json.dumps({"normalize_mean": _comma_list(mean),
                                               "normalize_std": _comma_list(std)})
    depth = len(weights) - 1
    tensors = {}
    for l, (w, b) in enumerate(zip(weights, biases)):
        name = "readout" if l == depth else f"hidden{l + 1}"
        tensors[f"{name}.weight"] = np.ascontiguousarray(w)
        if b is not None:
            tensors[f"{name}.bias"] = np.ascontiguousarray(b)
    widths = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    meta["format"] = FORMAT_TAG
    meta["widths"] = ",".join(str(n) for n in widths)
    if depth == 0:
        meta["activation"] = "linear"
    elif len(set(activations)) == 1:
        meta["activation"] = activations[0]
    else:
        meta["activation"] = ",".join(activations)
    save_file(tensors, str(path), metadata=meta)


def load_arrays(path):
    """(weights, biases, activations, metadata) of a corrflow model file, NumPy only; a
    bias-free layer's bias is None."""
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
    if meta.get("format") != FORMAT_TAG:
        raise ValueError(f"{path}: metadata 'format' is {meta.get('format')!r}, expected "
                         f"{FORMAT_TAG!r} (write models with corrflow_torch.export)")
    tensors = load_file(str(path))
    widths = [int(v) for v in meta["widths"].split(",")]
    depth = len(widths) - 2
    names = meta["activation"].split(",")
    activations = names * depth if len(names) == 1 else names
    weights, biases = [], []
    for l in range(depth + 1):
        name = "readout" if l == depth else f"hidden{l + 1}"
        weights.append(tensors[f"{name}.weight"].astype(np.float64))
        b = tensors.get(f"{name}.bias")
        biases.append(None if b is None else b.astype(np.float64))
    return weights, biases, activations, meta


def _module_for(name):
    torch = _torch()
    nn = torch.nn
    if name.startswith(("leaky_relu:", "leaky:")):
        return nn.LeakyReLU(float(name.split(":", 1)[1]))
    if name.startswith(("quad:", "quadratic:")):
        return Quadratic(float(name.split(":", 1)[1]))
    table = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "leaky": nn.LeakyReLU,
             "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "silu": nn.SiLU,
             "swish": nn.SiLU, "softplus": nn.Softplus, "linear": nn.Identity,
             "identity": nn.Identity, "erf": Erf}
    if name not in table:
        raise ValueError(f"unknown corrflow activation {name!r}")
    return table[name]()


def load(path, dtype=None):
    """A corrflow model file as an ``nn.Sequential`` (float64 unless ``dtype`` is given).
    Recorded preprocessing (``corrflow.preprocess``) is not part of the returned model; it is in
    ``load_arrays(path)[3]``."""
    torch = _torch()
    dtype = dtype or torch.float64
    weights, biases, activations, _ = load_arrays(path)
    layers = []
    for l, (w, b) in enumerate(zip(weights, biases)):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            if b is not None:
                lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if l < len(activations):
            layers.append(_module_for(activations[l]))
    return torch.nn.Sequential(*layers)


def write_dataset(x, y, path_prefix):
    """Write features ``x`` (N, ...) and integer labels ``y`` (N,) as ``{path_prefix}_x.npy``
    (float64) and ``{path_prefix}_y.npy`` (int64): what ``--train-x``/``--train-y`` (and the
    test ones) read. ``x``/``y`` may be NumPy arrays, torch tensors, or ``x`` a torch
    ``Dataset`` of (features, label) pairs with ``y`` None. Returns the two paths."""
    if y is None:
        pairs = [x[k] for k in range(len(x))]
        x = np.stack([np.asarray(_numpy(p[0]), dtype=np.float64) for p in pairs])
        y = np.asarray([int(_numpy(p[1])) for p in pairs], dtype=np.int64)
    x = np.asarray(_numpy(x), dtype=np.float64)
    y = np.asarray(_numpy(y))
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"labels of shape {y.shape} for {len(x)} samples: need shape ({len(x)},)")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(y == np.round(y)):
            raise ValueError("labels must be integers")
    if np.any(y < 0):
        raise ValueError("labels must be >= 0")
    if not np.all(np.isfinite(x)):
        raise ValueError("features must be finite")
    px, py = f"{path_prefix}_x.npy", f"{path_prefix}_y.npy"
    np.save(px, np.ascontiguousarray(x))
    np.save(py, y.astype(np.int64))
    return px, py


def _comma_list(values):
    """Values as the comma list of corrflow's normaliser record (repr: exact round trip)."""
    return ",".join(repr(float(v)) for v in values)


def _numpy(v):
    if hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    return v
