"""``python -m contrarec`` (also the torchrun entry point)."""

from contrarec.cli import main

main()
