"""Import ARC's ``mlp_kprop`` package (github.com/alignment-research-center/mlp_cumulant_propagation)
from its own checkout at run time; nothing of it is copied into corrflow.

The peer targets Python >= 3.12 and uses PEP 695 type-alias statements (``type X = ...``,
``type X[T] = ...``), which Python 3.11 cannot parse. The only torch here is built for 3.11, so
this finder compiles the peer's modules after rewriting each such statement, at the start of a
line, into a plain assignment (``X = ...``; a type parameter ``T`` becomes a ``TypeVar``
defined just before). Aliases are used in annotations only, so behaviour is unchanged; every
other line is compiled as written.
"""

import importlib.abc
import importlib.machinery
import re
import sys
from pathlib import Path

_ALIAS = re.compile(r"^type (\w+)(?:\[([\w, ]+)\])? = ", re.M)


def _rewrite(source: str) -> str:
    def plain(m):
        params = [p.strip() for p in (m.group(2) or "").split(",") if p.strip()]
        typevars = "".join(
            f'from typing import TypeVar as _TV; {p} = _TV("{p}"); ' for p in params
        )
        return f"{typevars}{m.group(1)} = "

    return _ALIAS.sub(plain, source)


class _Loader(importlib.machinery.SourceFileLoader):
    def source_to_code(self, data, path, *, _optimize=-1):
        return compile(_rewrite(data.decode("utf-8")), path, "exec", dont_inherit=True)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, src: Path):
        self.src = src

    def find_spec(self, name, path=None, target=None):
        if name != "mlp_kprop" and not name.startswith("mlp_kprop."):
            return None
        rel = Path(*name.split("."))
        for candidate, is_pkg in ((rel / "__init__.py", True), (rel.with_suffix(".py"), False)):
            file = self.src / candidate
            if file.is_file():
                loader = _Loader(name, str(file))
                spec = importlib.machinery.ModuleSpec(name, loader, origin=str(file), is_package=is_pkg)
                spec.has_location = True
                if is_pkg:
                    spec.submodule_search_locations = [str(file.parent)]
                return spec
        if (self.src / rel).is_dir():  # namespace package (the peer has no __init__.py)
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
            spec.submodule_search_locations = [str(self.src / rel)]
            return spec
        return None


def install(peer_root: str) -> None:
    """Makes ``import mlp_kprop`` load the peer from ``peer_root`` (its checkout, holding src/);
    a second call keeps the first root."""
    src = Path(peer_root) / "src"
    if not (src / "mlp_kprop" / "kprop_harmonic.py").is_file():
        raise SystemExit(
            f"--peer {peer_root}: expected the ARC checkout with src/mlp_kprop/kprop_harmonic.py "
            "(export it: git -C <mirror>/repo archive HEAD | tar -x -C <dir>)"
        )
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder(src))
