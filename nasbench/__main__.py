"""``python -m nasbench …``: the same as the ``nasbench`` command and ``python cli.py …``."""

from nasbench.cli.commands import main

raise SystemExit(main())
