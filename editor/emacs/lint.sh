#!/bin/sh
# Lint llm-flows.el: byte-compile with warnings as errors, checkdoc, and
# package-lint (Debian's elpa-package-lint).  Prints every finding and exits
# non-zero if there is any.  Usage: editor/emacs/lint.sh   (EMACS=... to pick one)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
emacs=${EMACS:-emacs}
elpa=/usr/share/emacs/site-lisp/elpa
if ! ls -d "$elpa"/package-lint-[0-9]* >/dev/null 2>&1; then
  echo "lint.sh: package-lint is not installed (apt-get install elpa-package-lint)" >&2
  exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cp "$here/llm-flows.el" "$out/"
cat >"$out/lint-run.el" <<'ELISP'
;;; lint-run.el --- lint llm-flows.el -*- lexical-binding: t; -*-
(require 'bytecomp)
(require 'checkdoc)
(dolist (dir (directory-files "/usr/share/emacs/site-lisp/elpa" t "^\\(package-lint\\|let-alist\\)-[0-9]"))
  (add-to-list 'load-path dir))
(require 'package-lint)
(require 'cl-lib)
(let ((file (expand-file-name "llm-flows.el" (getenv "LINT_DIR")))
      (failed nil))
  ;; 1. Byte-compile: any warning is an error.
  (let ((byte-compile-error-on-warn t))
    (unless (byte-compile-file file)
      (setq failed t)))
  ;; 2. checkdoc: every finding is printed and counts.
  (with-current-buffer (find-file-noselect file)
    (let ((checkdoc-autofix-flag 'never)
          (checkdoc-spellcheck-documentation-flag nil))
      (checkdoc-current-buffer t)))
  (when-let ((log (get-buffer "*Style Warnings*")))
    (with-current-buffer log
      (goto-char (point-min))
      (while (re-search-forward "^[^ \n]+:[0-9]+: .*$" nil t)
        (message "checkdoc: %s" (match-string 0))
        (setq failed t))))
  ;; 3. package-lint, with the one documented exception to the prefix
  ;; rule (the user command `llm-correct-region') and offline knowledge
  ;; of GNU ELPA's jsonrpc (built into Emacs 28, so no archive is needed).
  ;; Debian's package-lint 0.16 predates Emacs 28 and calls any
  ;; dependency on it "uninstallable in all released Emacs versions":
  ;; that one message is not a finding.
  (let ((package-lint--allowed-prefix-mappings
         (cons '("llm-flows" . ("llm-correct-region"))
               package-lint--allowed-prefix-mappings))
        (package-archive-contents
         (list (list 'jsonrpc (package-desc-create :name 'jsonrpc :version '(1 0 14)
                                                   :archive "gnu")))))
    (with-current-buffer (find-file-noselect file)
      (emacs-lisp-mode)
      (dolist (finding (cl-remove-if
                        (lambda (finding)
                          (string-prefix-p "This makes the package uninstallable in all released"
                                           (nth 3 finding)))
                        (package-lint-buffer)))
        (message "package-lint: llm-flows.el:%d:%d: %s: %s"
                 (nth 0 finding) (nth 1 finding) (nth 2 finding) (nth 3 finding))
        (setq failed t))))
  (kill-emacs (if failed 1 0)))
ELISP
LINT_DIR="$out" "$emacs" --batch -Q -L "$out" -l "$out/lint-run.el"
echo "lint.sh: llm-flows.el is clean (byte-compile, checkdoc, package-lint)"
