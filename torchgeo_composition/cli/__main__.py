"""``python -m torchgeo_composition.cli``: the ``torchgeo-composition`` command."""

import sys

from torchgeo_composition.cli import main

if __name__ == "__main__":
    sys.exit(main())
