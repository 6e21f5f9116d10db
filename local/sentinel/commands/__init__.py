"""Sub-commands of ``sentinel``: each module defines ``register(subparsers)``.

``register`` adds a parser and sets ``run=<callable(args) -> int>`` as its default. A command
fails with a message naming the bad argument (``parser.error``) and returns a non-zero code when
its work failed.
"""
