"""``python -m apeopt`` runs the CLI."""

from apeopt.cli import main

if __name__ == "__main__":
    main()
