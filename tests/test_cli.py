"""The `hoinghi` command as an operator meets it: bad settings give one clear line, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HOINGHI = str(Path(sys.executable).parent / "hoinghi")
SECRET = "s" * 40


def hoinghi(*args: str, env: dict[str, str] | None = None, stdin: str = "", cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOINGHI_SECRET_KEY": SECRET}
    return subprocess.run([HOINGHI, *args], env=base | (env or {}), input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.mark.parametrize(("env", "says"), [
    ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL must start with sqlite:/// or postgresql://"),
    ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a database URL"),
    ({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "cannot use the database at postgresql://"),
    ({"HOINGHI_SECRET_KEY": "short"}, "HOINGHI_SECRET_KEY must be at least 32 characters"),
    ({"HOINGHI_PORT": "eighty"}, "setting port: 'eighty' is not a valid int"),
    ({"REDIS_URL": "http://x"}, "REDIS_URL must start with redis://"),
])
def test_bad_settings_fail_in_one_line(env: dict[str, str], says: str, tmp_path: Path) -> None:
    result = hoinghi("serve", env={"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"} | env)
    assert result.returncode == 2
    assert result.stderr.startswith("hoinghi: ") and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_toml_settings_file_and_its_errors(tmp_path: Path) -> None:
    config = tmp_path / "hoinghi.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path}/db.sqlite"\nsecret_key = "{SECRET}"\nbogus = 1\n')
    result = hoinghi("--config", str(config), "db", "upgrade", env={"HOINGHI_SECRET_KEY": ""})
    assert result.returncode == 2 and "unknown keys bogus" in result.stderr
    config.write_text(f'database_url = "sqlite:///{tmp_path}/db.sqlite"\nsecret_key = "{SECRET}"\n')
    result = hoinghi("--config", str(config), "db", "upgrade", env={"HOINGHI_SECRET_KEY": ""})
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout and (tmp_path / "db.sqlite").exists()


def test_user_add_then_sign_in_works(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite"}
    assert hoinghi("db", "upgrade", env=env).returncode == 0
    short = hoinghi("user", "add", "quantri", "--role", "admin", "--password-stdin", env=env, stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    missing = hoinghi("user", "add", "btg", "--role", "organiser", "--unit", "NOPE", env=env, stdin="mat-khau-dai\n")
    assert missing.returncode == 2 and "no unit with code NOPE" in missing.stderr
    made = hoinghi("user", "add", "quantri", "--role", "admin", "--name", "Quản trị hệ thống", "--password-stdin",
                   env=env, stdin="mat-khau-dai\n")
    assert made.returncode == 0 and "quantri (admin) created" in made.stdout
    again = hoinghi("user", "add", "quantri", "--role", "admin", "--password-stdin", env=env, stdin="mat-khau-dai\n")
    assert again.returncode == 2 and "taken" in again.stderr
