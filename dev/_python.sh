# Shared by dev/ scripts: find a Python >= 3.11 and create .venv with it.
ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    local candidate python=""
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
      if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
         && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        python=$candidate
        break
      fi
    done
    if [ -z "$python" ]; then
      echo "mailer needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
      exit 2
    fi
    "$python" -m venv .venv
  fi
}
