"""Build the wheel, install it into a fresh virtual environment, run `minimind list` there.

The curriculum and data must travel inside the wheel (the corpus generator must not): the command
runs outside the clone.
"""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_install_finds_the_curriculum(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                    str(ROOT)], check=True)
    wheel = next((tmp_path / "dist").glob("minimind_notes-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if "/sample/" in n or "tools/" in n or "corpus" in n]  # the generator stays out
    assert "minimind_notes/data/phrasing.py" in names  # what run time needs of it
    assert "minimind_notes/serve/static/index.html" in names  # `minimind serve`'s chat page
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / ("Scripts" if sys.platform == "win32" else "bin")
    py = bin_dir / "python"
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # Reuse this environment's torch & co. instead of downloading them again.
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    out = subprocess.run([bin_dir / "minimind", "list"], capture_output=True, text=True,
                         cwd=tmp_path, env={"MINIMIND_HOME": str(tmp_path / "home"), "PATH": str(bin_dir)})
    assert out.returncode == 0, out.stderr
    assert "normalization" in out.stdout
    where = subprocess.run([py, "-c", "from minimind_notes.content import content_root; print(content_root())"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert "_content" in where and str(ROOT) not in where
