"""deepseek-lsp: DeepSeek in any editor, over LSP."""

__version__ = "0.1.0"
