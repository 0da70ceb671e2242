"""``python -m torchrig`` is the same as the ``torchrig`` command."""

from torchrig.cli import main

if __name__ == "__main__":
    main()
