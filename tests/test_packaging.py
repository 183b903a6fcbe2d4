"""The wheel ships the schema files, the recipes and the dataset card, and the installed
package finds them without the source tree."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_package_data_and_uses_it(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "wheel").glob("tc139k-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in (ROOT / "schemas").rglob("*.json"):  # the --json shapes too, in schemas/cli/
        assert f"tc139k/_schemas/{schema.relative_to(ROOT / 'schemas').as_posix()}" in names
    for recipe in (ROOT / "pipelines").glob("*.yaml"):
        assert f"tc139k/_pipelines/{recipe.name}" in names
    assert "tc139k/DATASET_CARD.md" in names
    for init in (ROOT / "tc139k").rglob("__init__.py"):  # every subpackage, e.g. a new stage
        assert init.relative_to(ROOT).as_posix() in names, init
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import tc139k, tc139k.schemas as s, tc139k.pipeline.run as p, tc139k.shards.card as c\n"
        "print(tc139k.__file__)\n"
        "print(s.load('shard.v1').id, sorted(s.available()))\n"
        "print(p.load('sample').path)\n"
        "print('tc139k:counts' in c.card_template())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    ).stdout.splitlines()
    assert out[0].startswith(str(site))
    assert out[1].startswith("shard.v1") and "qa.v1" in out[1]
    assert out[2].startswith(str(site)) and out[2].endswith("sample.yaml")
    assert out[3] == "True"
