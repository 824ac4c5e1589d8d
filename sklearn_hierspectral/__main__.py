"""``python -m sklearn_hierspectral``: run the default scaling study."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
