"""A non-editable install resolves corpus names from any directory (builders ship inside the package)."""

import os
import subprocess
import sys
import zipfile

from conftest import REPO


def test_wheel_ships_builders_and_cards_and_loads_from_elsewhere(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(REPO)], check=True)
    wheel = next((tmp_path / "dist").glob("kelly_hf-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for corpus in ("harmony",):
        assert f"kelly_hf/builders/{corpus}/{corpus}.py" in names
        assert f"kelly_hf/builders/{corpus}/README.md" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    (elsewhere / "data" / "chord_progressions.json").write_text('[["C", "G", "Am", "F"], ["Dm", "G7", "C", "C"]]')
    script = (
        "import kelly_hf, sys\n"
        "assert kelly_hf.__file__.startswith(sys.argv[1]), kelly_hf.__file__\n"
        "a = kelly_hf.load_dataset('harmony', data_dir='data', cache_dir='cache')\n"
        "b = kelly_hf.load_dataset('builders/harmony', data_dir='data', cache_dir='cache')\n"
        "print(sum(map(len, a.values())), sum(map(len, b.values())))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-c", script, str(target)], cwd=elsewhere, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.split() == ["2", "2"]
