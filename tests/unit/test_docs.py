"""The README stays true to the template: every parameter is documented in its table."""

import re
from pathlib import Path

from sentinel.template import PROJECT_ROOT, Template


def test_every_template_parameter_is_in_the_readme_configuration_table():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Za-z0-9]+)` \|", readme, flags=re.MULTILINE))
    declared = set(Template().document["Parameters"])
    assert declared - documented == set(), "parameters missing from README's configuration table"
    assert documented - declared == set(), "README documents parameters the template does not have"


def test_ci_runs_the_readme_test_command():
    assert "make test" in Path(PROJECT_ROOT / ".ci/run").read_text(encoding="utf-8")
