"""Tests in a real Emacs (eglot, lsp-mode), see conftest.py."""
