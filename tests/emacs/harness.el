;;; harness.el --- a real Emacs driven by tests/emacs through emacsclient  -*- lexical-binding: t -*-

;; Started by conftest.py as `emacs -nw -Q -l harness.el FILE` in a tmux pane (a real terminal,
;; the real command loop: idle timers run, prompts are read from the keyboard). Environment:
;;   DS_TEST_CLIENT   eglot or lsp-mode
;;   DS_TEST_SNIPPET  the README's setup snippet for that client (tests/emacs/snippets/*.el),
;;                    loaded as it is, like a user's init file
;;   DS_TEST_SOCKET   the emacsclient socket the test evaluates through
;;   DS_TEST_STUB     lsp-mode: the command line of the stand-in "main" Python server
;;
;; The harness only installs the packages (as Debian's elpa-* packages are activated), records
;; what the user would see (prompts, menus, *Messages*, *Warnings*) and offers the test a few
;; read-only views. Every action goes through the client's own commands.

(require 'cl-lib)
(require 'json)
(require 'server)
(require 'package)

(defvar ds-test-client (intern (getenv "DS_TEST_CLIENT")))

;; The packages, from Debian's elpa-* folders. eglot alone (as `apt-get install elpa-eglot'
;; leaves it: no markdown-mode, so eglot asks for plain text hovers); lsp-mode with its
;; dependencies, markdown-mode among them.
(setq package-directory-list '("/usr/share/emacs/site-lisp/elpa")
      package-user-dir (expand-file-name "elpa" user-emacs-directory)
      package-load-list (if (eq ds-test-client 'eglot)
                            '((eglot t) (project t) (xref t) (seq t))
                          '(all)))
(package-initialize)

(setq inhibit-startup-screen t
      make-backup-files nil
      auto-save-default nil
      create-lockfiles nil)

(when (eq ds-test-client 'lsp-mode)
  ;; General lsp-mode settings of a quiet test session (nothing deepseek-specific): no session
  ;; file outside the test's home, no snippet support (yasnippet is not installed, lsp-mode
  ;; would warn about it), no questions about the project root.
  (setq lsp-session-file (expand-file-name "lsp-session" user-emacs-directory)
        lsp-enable-snippet nil
        lsp-keep-workspace-alive nil
        lsp-auto-guess-root nil
        lsp-restart 'ignore)
  (require 'lsp-mode))

(when (eq ds-test-client 'lsp-mode)    ; a form of its own: `setf' needs lsp-mode loaded
  (setf (lsp-session-folders (lsp-session)) (list (file-truename default-directory)))
  ;; The stand-in for the user's Python server (pylsp), deepseek-lsp is the add-on beside it.
  (lsp-register-client
   (make-lsp-client :new-connection (lsp-stdio-connection (split-string (getenv "DS_TEST_STUB")))
                    :major-modes '(python-mode)
                    :priority 10
                    :server-id 'stub-pyls)))

;; The README's snippet, as a user's init file holds it.
(load (getenv "DS_TEST_SNIPPET") nil t)

;;; What the user sees

(defvar ds-test-prompts nil "Every y-or-n-p prompt, oldest first.")
(defvar ds-test-menus nil "Every completing-read menu the test answered: (PROMPT . TITLES), oldest first.")
(defvar ds-test-pick nil "The title the next completing-read menu is answered with.")

(define-advice y-or-n-p (:around (orig prompt) ds-test-count)
  "Count the prompts; the answer comes from the keyboard (the test types it)."
  (setq ds-test-prompts (append ds-test-prompts (list (substring-no-properties prompt))))
  (funcall orig prompt))

(define-advice completing-read (:around (orig prompt collection &rest args) ds-test-pick)
  "Answer a menu with `ds-test-pick' when the test has set it, recording the offered titles."
  (if (not ds-test-pick)
      (apply orig prompt collection args)
    (let ((titles (all-completions "" collection (nth 0 args))))
      (setq ds-test-menus (append ds-test-menus (list (cons prompt titles))))
      (prog1 ds-test-pick (setq ds-test-pick nil)))))

(defun ds-test-json (value)
  "VALUE as JSON, base64 (so emacsclient's printing cannot mangle it)."
  (base64-encode-string (encode-coding-string (json-encode value) 'utf-8) t))

(defun ds-test--buffer-text (name)
  (let ((buf (get-buffer name)))
    (if buf (with-current-buffer buf (buffer-substring-no-properties (point-min) (point-max))) "")))

(defun ds-test-file-buffer ()
  (or (cl-find-if #'buffer-file-name (buffer-list)) (error "no file buffer")))

(defun ds-test-connected ()
  "The file's buffer is managed by the client (and, for lsp-mode, both servers run)."
  (with-current-buffer (ds-test-file-buffer)
    (pcase ds-test-client
      ('eglot (and (bound-and-true-p eglot--managed-mode) (eglot-current-server) t))
      ('lsp-mode (and (bound-and-true-p lsp-mode)
                      (= 2 (length (cl-remove-if-not
                                    (lambda (w) (eq (lsp--workspace-status w) 'initialized))
                                    (lsp-workspaces))))
                      t)))))

(defun ds-test-state ()
  "Everything the tests check, in one JSON object."
  (with-current-buffer (ds-test-file-buffer)
    `(("text" . ,(buffer-substring-no-properties (point-min) (point-max)))
      ("modified" . ,(if (buffer-modified-p) t :json-false))
      ("prompts" . ,(vconcat ds-test-prompts))
      ("menus" . ,(vconcat (mapcar (lambda (m) (vconcat (cdr m))) ds-test-menus)))
      ("minibufferPrompt" . ,(and (active-minibuffer-window) (minibuffer-prompt)
                                  (substring-no-properties (minibuffer-prompt))))
      ("messages" . ,(ds-test--buffer-text "*Messages*"))
      ("warnings" . ,(ds-test--buffer-text "*Warnings*")))))

(defun ds-test--select-lines (first last)
  "Select whole lines FIRST to LAST (1-based), as with C-SPC and C-n."
  (goto-char (point-min))
  (forward-line (1- first))
  (push-mark (point) t t)
  (forward-line (1+ (- last first)))
  (activate-mark))

(defun ds-test-code-action (first last title)
  "Select lines FIRST to LAST and pick TITLE in the client's code action menu."
  (with-current-buffer (ds-test-file-buffer)
    (ds-test--select-lines first last)
    (setq ds-test-pick title)
    (pcase ds-test-client
      ('eglot (call-interactively #'eglot-code-actions))
      ('lsp-mode (call-interactively #'lsp-execute-code-action)))
    (deactivate-mark)
    t))

(defun ds-test-status ()
  "The server's `deepseek.status' (its running jobs), asked through the client."
  (with-current-buffer (ds-test-file-buffer)
    (pcase ds-test-client
      ('eglot (jsonrpc-request (eglot-current-server) :workspace/executeCommand
                               '(:command "deepseek.status" :arguments [])))
      ('lsp-mode (lsp-request "workspace/executeCommand"
                              '(:command "deepseek.status" :arguments []))))))

(defun ds-test-jobs ()
  "How many jobs the server still runs."
  (length (let ((status (ds-test-status)))
            (if (hash-table-p status) (gethash "jobs" status) (plist-get status :jobs)))))

(defvar ds-test-hover nil "The last hover text the client rendered, or :none.")

(defun ds-test-hover-at (line column)
  "Ask the client's own hover at LINE (1-based), COLUMN, as the user would see it."
  (with-current-buffer (ds-test-file-buffer)
    (goto-char (point-min))
    (forward-line (1- line))
    (move-to-column column)
    (setq ds-test-hover nil)
    (pcase ds-test-client
      ('eglot
       ;; eldoc's hover source in eglot: what the echo area / eldoc buffer would show
       (eglot-hover-eldoc-function
        (lambda (info &rest _) (setq ds-test-hover (if info (substring-no-properties info) :none)))))
      ('lsp-mode
       ;; `lsp-describe-thing-at-point' (C-c l h h): every server's hover, merged
       (lsp-describe-thing-at-point)
       (setq ds-test-hover (ds-test--buffer-text "*lsp-help*"))))
    t))

(defun ds-test-raw-hover (line column)
  "The raw textDocument/hover result of deepseek-lsp at LINE (1-based), COLUMN (eglot)."
  (with-current-buffer (ds-test-file-buffer)
    (goto-char (point-min))
    (forward-line (1- line))
    (move-to-column column)
    (jsonrpc-request (eglot-current-server) :textDocument/hover (eglot--TextDocumentPositionParams))))

(defun ds-test-server-pids ()
  "The process ids of the language servers this Emacs started (the test ends them)."
  (vconcat (delq nil (mapcar (lambda (p) (and (process-command p) (process-id p))) (process-list)))))

(setq server-name (getenv "DS_TEST_SOCKET"))
(server-start)

;;; harness.el ends here
