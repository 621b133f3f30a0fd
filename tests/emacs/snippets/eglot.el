;; deepseek-lsp for Python buffers (any major mode works the same way)
(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs '(python-mode . ("deepseek-lsp"))))
(add-hook 'python-mode-hook #'eglot-ensure)
