"""Lambda weight: no SageMaker SDK, pandas or numpy in anything shipped to Lambda."""

import ast
from pathlib import Path

import pytest

from sentinel.layout import function_source_path
from sentinel.template import PROJECT_ROOT, Template

HEAVY = {"sagemaker", "pandas", "numpy", "scipy", "pyspark", "matplotlib", "moto"}


def _shipped_sources() -> list[Path]:
    template = Template()
    roots = {folder for lid in template.function_ids() for folder in function_source_path(template, lid)}
    return sorted(p for root in roots for p in root.rglob("*.py"))


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", _shipped_sources(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_shipped_code_imports_no_heavy_package(path):
    assert _top_level_imports(path) & HEAVY == set()


def test_layer_requirements_pin_no_heavy_package():
    lines = (PROJECT_ROOT / "layers/common/requirements.txt").read_text(encoding="utf-8").splitlines()
    packages = {line.split("[")[0].split("=")[0].strip().lower() for line in lines if line and line[0] != "#"}
    assert packages & HEAVY == set()
    assert all("==" in line for line in lines if line and line[0] != "#"), "layer dependencies are pinned"


def test_every_function_is_scanned():
    scanned = {p.parent.name for p in _shipped_sources()}
    assert {"start_pipeline", "score_capture", "monitoring_alert"} <= scanned


@pytest.mark.parametrize("logical_id", Template().function_ids())
def test_pydantic_skips_its_plugin_scan_in_every_function(logical_id, monkeypatch):
    # GIVEN the function's environment from the template (no pydantic plugin ships in the layer)
    from pydantic.plugin import _loader

    environment = Template().function(logical_id).environment
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", environment.get("PYDANTIC_DISABLE_PLUGINS", ""))
    monkeypatch.setattr(_loader, "_plugins", None)
    scanned = []
    monkeypatch.setattr(_loader, "entry_points", lambda **kwargs: scanned.append(kwargs) or [])
    # WHEN pydantic looks for plugins, as it does when the first model is built at cold start
    plugins = _loader.get_plugins()
    # THEN it reads no package's entry points: the cold start does not scan every installed package
    assert (list(plugins), scanned) == ([], [])
