# Sourced by scripts/demo and scripts/test: makes `uv` and the project's environment available on a
# machine that has nothing but Python 3.11+. Safe to run again: every step checks first.
set -euo pipefail
export UV_PYTHON_DOWNLOADS=never
# trust the machine's certificate store (closed networks often inspect TLS with their own CA)
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-true}" UV_NATIVE_TLS="${UV_NATIVE_TLS:-true}"
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  if ! python3 -m uv --version >/dev/null 2>&1; then
    echo "hoinghi: installing uv with pip" >&2
    python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv
  fi
  UV=(python3 -m uv)
fi
"${UV[@]}" sync --locked --quiet
