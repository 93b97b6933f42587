"""Runs one folder's pytest suite for CTest: exit 77 (CTest's skip) when pytest is missing, and
pytest's own status otherwise (its "no tests collected" counts as a skip too)."""
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("pytest") is None:
    print("pytest is not installed (scripts/setup.sh installs it): skipped")
    sys.exit(77)
status = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *sys.argv[1:]])
sys.exit(77 if status == 5 else status)
