"""`python -m bot` runs the `trustacks` command line."""

from bot.cli import main

if __name__ == "__main__":
    main()
