"""The offline ``modelplane`` command and the input reading it shares with the review.

Uses layers 1 and 2 only (never ``pulumi``): ``main`` parses the command line, ``inputs`` reads
``models/`` and ``stacks/`` into rendered stacks, ``codeowners`` writes ``.github/CODEOWNERS``.
"""
