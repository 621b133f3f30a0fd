;; deepseek-lsp as an add-on: it runs beside your language server (pylsp, pyright...)
(with-eval-after-load 'lsp-mode
  (lsp-register-client
   (make-lsp-client :new-connection (lsp-stdio-connection '("deepseek-lsp"))
                    :activation-fn (lsp-activate-on "python")
                    :add-on? t
                    :server-id 'deepseek-lsp)))
(add-hook 'python-mode-hook #'lsp-deferred)
