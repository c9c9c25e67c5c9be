#!/usr/bin/env python
import os
import sys

HELP_FLAGS = {"-h", "--help", "help"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")
    if HELP_FLAGS & set(sys.argv[1:]) or len(sys.argv) == 1:
        # Reading a command's help needs the settings to load, not a secret: nothing is signed or served.
        os.environ.setdefault("SECRET_KEY", "help-only-not-a-secret")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
