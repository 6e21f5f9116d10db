"""The README and the reference stay true: every parameter documented, every command shown still
parses, the cost estimate is what the code computes today."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from sentinel import cost
from sentinel.cli import build_parser
from sentinel.template import PROJECT_ROOT, Template

README = PROJECT_ROOT / "README.md"
REFERENCE = PROJECT_ROOT / "docs" / "REFERENCE.md"
SHOWN = (README, REFERENCE)

#: The AWS CLI's own commands (not API operations): only the sub-command is checked.
AWS_CLI_COMMANDS = {
    "s3": {"cp", "mv", "rm", "sync", "ls", "mb", "rb", "presign"},
    "cloudformation": {"deploy"},
}
#: Options the AWS CLI accepts on every operation.
AWS_GLOBAL_OPTIONS = {"query", "output", "region", "profile", "endpoint-url", "no-cli-pager", "debug"}
#: SAM CLI sub-commands; sam lives in its own virtualenv (.venv-sam), so its options are not parsed here.
SAM_COMMANDS = {"build", "deploy", "delete", "validate", "local", "sync", "logs"}


def commands(path: Path) -> list[tuple[int, str]]:
    """``(line, command)`` for every command in the file's bash code blocks (continuations joined,
    comments dropped; a ``NAME=$(command)`` assignment yields the command inside)."""
    found: list[tuple[int, str]] = []
    block: str | None = None
    pending, start = "", 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if line.startswith("```"):
            block = line[3:].strip() if block is None else None
            continue
        if block not in ("bash", "sh", "shell") or not line:
            continue
        if not pending:
            start = number
        pending += line
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        text, pending = pending, ""
        if assignment := re.fullmatch(r"[A-Z_]+=\$\((.*)\)", text):
            text = assignment.group(1)
        if not text.startswith("#"):
            found.append((start, text))
    return found


def makefile_targets() -> set[str]:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))


def check_sentinel(argv: list[str]) -> None:
    code: object = 0
    try:
        build_parser().parse_args(argv)  # parse only: nothing runs
    except SystemExit as exc:  # --help exits 0, a usage error 2
        code = exc.code
    assert code == 0, f"sentinel {' '.join(argv)} does not parse"


def check_aws(argv: list[str]) -> None:
    service, operation, *options = argv
    if operation in AWS_CLI_COMMANDS.get(service, ()):
        return
    assert service != "s3", f"aws s3 has no command {operation}"  # its API is `aws s3api`
    model = botocore.session.get_session().get_service_model(service)
    by_cli_name = {xform_name(name, "-"): name for name in model.operation_names}
    assert operation in by_cli_name, f"aws {service} has no operation {operation}"
    shape = model.operation_model(by_cli_name[operation]).input_shape
    accepted = {xform_name(member, "-") for member in (shape.members if shape else {})}
    for option in (o[2:] for o in options if o.startswith("--")):
        assert option in accepted | AWS_GLOBAL_OPTIONS, f"aws {service} {operation} has no --{option}"


def check_python(argv: list[str]) -> None:
    if argv[0] == "-m":
        assert importlib.util.find_spec(argv[1]) is not None, f"no module {argv[1]}"
    elif argv[0] != "-c":
        assert (PROJECT_ROOT / argv[0]).is_file(), f"no script {argv[0]}"


def check(command: str) -> None:
    program, *argv = shlex.split(command, comments=True)
    name = program.rsplit("/", 1)[-1]
    if name == "make":
        missing = {target for target in argv if "=" not in target} - makefile_targets()
        assert not missing, f"the Makefile has no target {missing}"
    elif name == "sentinel":
        check_sentinel(argv)
    elif name == "aws":
        check_aws(argv)
    elif name == "sam":
        assert argv[0] in SAM_COMMANDS, f"sam has no command {argv[0]}"
    elif name == "python":
        check_python(argv)
    else:
        raise AssertionError(f"a command this test does not know how to check: {command}")


@pytest.mark.parametrize(
    "command",
    [pytest.param(command, id=f"{path.name}:{line}") for path in SHOWN for line, command in commands(path)],
)
def test_every_command_the_docs_show_still_parses(command):
    check(command)


def test_the_docs_show_commands_of_every_kind_the_check_knows():
    # GIVEN the commands of README.md and docs/REFERENCE.md
    shown = [
        shlex.split(command, comments=True)[0].rsplit("/", 1)[-1] for p in SHOWN for _, command in commands(p)
    ]
    # THEN the check above is not vacuous: it met sentinel, make, aws and sam commands
    assert {"sentinel", "make", "aws", "sam"} <= set(shown)


@pytest.mark.parametrize(
    "command",
    [
        "sentinel score data.csv --no-such-option",
        "sentinel frobnicate",
        "make no-such-target",
        "aws sagemaker create-model --no-such-option x",
        "aws sagemaker no-such-operation",
        "python -m sentinel.no_such_module",
    ],
)
def test_a_command_that_no_longer_parses_is_caught(command, capsys):
    with pytest.raises(AssertionError):
        check(command)


def test_every_template_parameter_is_in_the_reference_configuration_table():
    reference = REFERENCE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Za-z0-9]+)` \|", reference, flags=re.MULTILINE))
    declared = set(Template().document["Parameters"])
    assert declared - documented == set(), "parameters missing from the reference's configuration table"
    assert documented - declared == set(), "the reference documents parameters the template does not have"


def test_the_readme_cost_estimate_is_what_sentinel_cost_computes_today():
    # GIVEN the estimate README.md shows and the one the code computes from the template, the
    # pipeline definition and the price tables
    # THEN they are the same text (regenerate the block with `sentinel cost`)
    assert cost.readme_block() == cost.report()


def test_ci_runs_the_readme_test_command():
    assert "make test" in Path(PROJECT_ROOT / ".ci/run").read_text(encoding="utf-8")
