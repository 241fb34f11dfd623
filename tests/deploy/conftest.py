import sys
from pathlib import Path

# The checks import render.py from this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))
