"""One rule for every output path of the command line: parents created, a bad path exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.cli import main
from sentinel.outputs import OutputPathError, output_file, output_folder


def test_missing_parents_are_created(tmp_path: Path) -> None:
    assert output_file(tmp_path / "a" / "b" / "x.csv", "--out").parent.is_dir()
    assert output_folder(tmp_path / "c" / "d", "--out").is_dir()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root, "is a folder"),
        (lambda root: root / "file" / "x.csv", "exists and is not a folder"),
        (lambda root: Path("/dev/null/x.csv"), "/dev/null"),
    ],
    ids=["a-folder", "under-a-file", "dev-null"],
)
def test_a_path_that_cannot_be_a_file_is_refused_naming_the_option(tmp_path: Path, make, message) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match=r"^--out: ") as refused:
        output_file(make(tmp_path), "--out")
    assert message in str(refused.value)


@pytest.mark.parametrize("target", ["/dev/null/x", "file"])
def test_demo_with_an_unwritable_out_exits_2_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    # GIVEN an output folder that cannot exist (under /dev/null, or an existing file)
    (tmp_path / "file").write_text("x")
    out = Path(target) if target.startswith("/") else tmp_path / target
    # WHEN the demo is asked to write there THEN it exits 2 naming --out, and claims nothing
    assert main(["demo", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "--out" in captured.err
    assert "summary" not in captured.out + captured.err
