"""`python -m deepseek_lsp` is the `deepseek-lsp` command."""

import sys

from .cli import main

sys.exit(main())
