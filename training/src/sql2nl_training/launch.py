"""Entry point for the processes ``sql2nl train --gpus N`` starts through torchrun (runs the CLI)."""

from sql2nl.cli import main

if __name__ == "__main__":
    main()
