"""Where a deployed function finds its code, derived from template.yaml — the one place that knows.

Lambda (python3.12) imports from the function's folder, then from each layer's ``/opt/python`` and
``/opt/python/lib/python3.12/site-packages``. ``sam build`` fills ``/opt/python`` differently by layer
kind: with ``Metadata.BuildMethod: python3.x`` it copies the *contents* of ``ContentUri`` into
``python/`` (and pip-installs ``requirements.txt`` there); without a build method the ``ContentUri``
folder is zipped as is, so only its own ``python/`` subfolder lands on the path.

The tests, the demo and ``sentinel`` put on ``sys.path`` exactly the source folders that become
those directories — nothing else — so code that would not import once deployed does not import here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentinel.template import PROJECT_ROOT, Template, TemplateError

LAMBDA_RUNTIME = "python3.12"
#: Lambda's search path for a layer, relative to /opt (AWS Lambda docs, "Layer paths for each runtime").
LAYER_SEARCH_DIRS = ("python", f"python/lib/{LAMBDA_RUNTIME}/site-packages")


@dataclass(frozen=True)
class LayerSource:
    logical_id: str
    content_uri: Path
    build_method: str | None

    @property
    def built_by_sam(self) -> bool:
        return bool(self.build_method and self.build_method.startswith("python"))

    def python_source(self) -> Path | None:
        """The source folder whose contents become the layer's ``/opt/python``, if any."""
        folder = self.content_uri if self.built_by_sam else self.content_uri / "python"
        return folder if folder.is_dir() else None


def layer_ids(template: Template, logical_id: str) -> list[str]:
    """SAM concatenates Globals' layers (first) with the function's own."""
    globals_layers = template.document.get("Globals", {}).get("Function", {}).get("Layers", [])
    own = template.resource(logical_id).get("Properties", {}).get("Layers", [])
    ids: list[str] = []
    for entry in [*globals_layers, *own]:
        if not (isinstance(entry, dict) and "Ref" in entry):
            raise TemplateError(f"{logical_id}: only this template's layers (!Ref) are supported: {entry!r}")
        ids.append(entry["Ref"])
    return ids


def layers_of(template: Template, logical_id: str) -> list[LayerSource]:
    layers = []
    for layer_id in layer_ids(template, logical_id):
        resource: dict[str, Any] = template.resource(layer_id)
        layers.append(
            LayerSource(
                logical_id=layer_id,
                content_uri=PROJECT_ROOT / resource["Properties"]["ContentUri"],
                build_method=resource.get("Metadata", {}).get("BuildMethod"),
            )
        )
    return layers


def layers_of_stack(template: Template) -> list[LayerSource]:
    """Every layer the template's functions use, once each."""
    layers: dict[str, LayerSource] = {}
    for logical_id in template.function_ids():
        layers.update({layer.logical_id: layer for layer in layers_of(template, logical_id)})
    return list(layers.values())


def function_source_path(template: Template, logical_id: str) -> list[Path]:
    """Source folders mirroring the deployed function's import path, in Lambda's order."""
    path = [template.function(logical_id).code_uri]
    path += [src for layer in layers_of(template, logical_id) if (src := layer.python_source())]
    return path


def runtime_source_path(template: Template | None = None) -> list[Path]:
    """The layer folders every function of the stack shares (where ``anomaly_sentinel`` lives)."""
    template = template or Template()
    shared: list[Path] | None = None
    for logical_id in template.function_ids():
        folders = function_source_path(template, logical_id)[1:]
        shared = folders if shared is None else [p for p in shared if p in folders]
    return shared or []


def use_build_layout(template: Template | None = None) -> list[Path]:
    """Make the stack's shared layer code importable the way Lambda lays it out (idempotent)."""
    folders = runtime_source_path(template)
    for folder in reversed(folders):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    return folders
