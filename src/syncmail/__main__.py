"""``python -m syncmail``: the same command as the ``syncmail`` script."""

from __future__ import annotations

from syncmail.cli import main

if __name__ == "__main__":
    main()
