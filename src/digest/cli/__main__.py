"""`python -m digest.cli …` works like `python -m digest …` and `digest …`."""

from digest.cli import main

if __name__ == "__main__":  # pragma: no cover
    main(prog_name="digest")
