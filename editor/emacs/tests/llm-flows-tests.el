;;; llm-flows-tests.el --- ERT tests of llm-flows.el against the real daemon -*- lexical-binding: t; -*-

;;; Commentary:

;; Run by editor/emacs/tests/test_emacs_ert.py, which points
;; `llm-flows-server-command' at the real `llm-flows serve' and
;; LLM_FLOWS_CONFIG at a config whose default model is the scripted
;; test model: replacements teh->the, buyed->bought, alot->a lot,
;; wierd->weird, recieve->receive, after a short delay; text with HANG
;; never gets an answer, text with FAIL fails.
;;
;; The tests do what a user does, in the order a user does it, and
;; check what the user sees: the buffer's text, point, the echo area
;; (*Messages*), overlays and what one `undo' does.  Waiting is done
;; with `accept-process-output' loops with a deadline, never sleeps.

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'llm-flows)

(defconst llm-flows-test-deadline 20
  "Seconds any wait may take before the test fails.")

(defun llm-flows-test-wait (what predicate)
  "Process the daemon's output until PREDICATE is true; fail naming WHAT."
  (let ((deadline (+ (float-time) llm-flows-test-deadline)))
    (while (and (not (funcall predicate)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (unless (funcall predicate)
      (ert-fail (format "timed out waiting for %s; messages:\n%s"
                        what (with-current-buffer (messages-buffer) (buffer-string)))))))

(defun llm-flows-test-settle (buffer)
  "Wait until BUFFER has no pending flow."
  (llm-flows-test-wait "the flows to finish"
                       (lambda () (null (llm-flows-pending buffer)))))

(defun llm-flows-test-wait-state (state)
  "Wait until the oldest pending flow is in STATE."
  (llm-flows-test-wait (format "a flow in state %s" state)
                       (lambda () (equal (plist-get (car (llm-flows-pending)) :state) state))))

(defun llm-flows-test-wait-id ()
  "Wait until the daemon has acknowledged the oldest pending flow; return its id."
  (llm-flows-test-wait "the daemon's id" (lambda () (plist-get (car (llm-flows-pending)) :id)))
  (plist-get (car (llm-flows-pending)) :id))

(defun llm-flows-test-server-state (id)
  "The state the daemon reports for flow ID (a synchronous request, tests only)."
  (let ((rows (plist-get (jsonrpc-request (llm-flows--connection) 'flow/list nil) :flows)))
    (plist-get (cl-find id (append rows nil) :key (lambda (row) (plist-get row :id))
                        :test #'equal)
               :state)))

(defmacro llm-flows-test-with-buffer (text &rest body)
  "Run BODY in a fresh `text-mode' buffer holding TEXT, with undo on.
BODY sees the buffer as `buffer'; point is at its start."
  (declare (indent 1))
  `(let ((buffer (generate-new-buffer "notes.txt")))
     (unwind-protect
         (with-current-buffer buffer
           (text-mode)
           (buffer-enable-undo)
           (insert ,text)
           (setq buffer-undo-list nil)
           (goto-char (point-min))
           ,@body)
       (let ((kill-buffer-query-functions nil))
         (kill-buffer buffer)))))

(defun llm-flows-test-command (command &optional function)
  "Run FUNCTION (or COMMAND) as the command loop runs COMMAND."
  (undo-auto--add-boundary)
  (let ((this-command command) (real-this-command command))
    (run-hooks 'pre-command-hook)
    (funcall (or function command))
    (setq last-command command
          real-last-command real-this-command)
    (run-hooks 'post-command-hook)))

(defun llm-flows-test-type (string)
  "Type STRING at point, one `self-insert-command' per character."
  (dolist (char (string-to-list string))
    (let ((last-command-event char))
      (llm-flows-test-command #'self-insert-command
                              (lambda () (self-insert-command 1))))))

(defun llm-flows-test-edit (regexp replacement)
  "Replace the first match of REGEXP with REPLACEMENT, as one command."
  (llm-flows-test-command
   'llm-flows-test-edit
   (lambda ()
     (save-excursion
       (goto-char (point-min))
       (should (re-search-forward regexp nil t))
       (replace-match replacement t t)))))

(defun llm-flows-test-undo ()
  "Press \\`C-/' once."
  (llm-flows-test-command #'undo))

(defun llm-flows-test-before-merged (function)
  "Call FUNCTION once, just before the next `flow/merge' answer is handled."
  (let (once)
    (setq once (lambda (&rest _)
                 (advice-remove 'llm-flows--on-merged once)
                 (funcall function)))
    (advice-add 'llm-flows--on-merged :before once)))

(defmacro llm-flows-test-echo (&rest body)
  "Run BODY; return what it wrote to the echo area (the *Messages* log)."
  (declare (indent 0))
  `(let ((start (with-current-buffer (messages-buffer) (point-max))))
     ,@body
     (with-current-buffer (messages-buffer)
       (buffer-substring-no-properties start (point-max)))))

(defun llm-flows-test-proposals ()
  "The proposals shown in the current buffer: (YOUR-TEXT . SHOWN-PROPOSAL)."
  (mapcar (lambda (overlay)
            (cons (buffer-substring-no-properties (overlay-start overlay) (overlay-end overlay))
                  (substring-no-properties (overlay-get overlay 'after-string))))
          (llm-flows--proposals)))

(defun llm-flows-test-pending-overlays ()
  "The overlays that mark pending regions in the current buffer."
  (cl-remove-if-not (lambda (overlay) (eq (overlay-get overlay 'face) 'llm-flows-pending))
                    (overlays-in (point-min) (point-max))))

(defun llm-flows-test-lighter ()
  "The mode line's llm-flows text in the current buffer."
  ;; `format-mode-line' gives "" in batch mode: evaluate the lighter's form.
  (eval (cadr (cadr (assq 'llm-flows-mode minor-mode-alist))) t))

;;;; The public interface

(defconst llm-flows-test-commands
  '(llm-correct-region llm-flows-rewrite-region llm-flows-cancel llm-flows-cancel-all
    llm-flows-list llm-flows-accept llm-flows-reject llm-flows-accept-all
    llm-flows-reject-all llm-flows-next llm-flows-previous)
  "The commands the issue names, which external checks rely on.")

(ert-deftest llm-flows-test-options-in-their-group ()
  "The options have their documented defaults, in the `llm-flows' group."
  (let ((members (mapcar #'car (get 'llm-flows 'custom-group))))
    (pcase-dolist (`(,option ,default) '((llm-flows-server-command ("llm-flows" "serve"))
                                         (llm-flows-model nil)
                                         (llm-flows-timeout 120)
                                         (llm-flows-review nil)))
      (should (memq option members))
      (should (custom-variable-p option))
      (should (equal (eval (car (get option 'standard-value)) t) default)))))

(ert-deftest llm-flows-test-commands-are-autoloaded ()
  "The package's autoloads define every command, interactive, and `llm-flows-pending'."
  (let* ((dir (make-temp-file "llm-flows-autoloads" t))
         (output (expand-file-name "llm-flows-autoloads.el" dir))
         (forms nil))
    (unwind-protect
        (progn
          (copy-file (locate-library "llm-flows.el") (file-name-as-directory dir))
          (make-directory-autoloads dir output)
          (with-temp-buffer
            (insert-file-contents output)
            (condition-case nil
                (while t (push (read (current-buffer)) forms))
              (end-of-file nil))))
      (delete-directory dir t))
    (let ((autoloads (cl-loop for form in forms
                              when (eq (car-safe form) 'autoload)
                              collect (cons (cadr (nth 1 form)) (nth 4 form)))))
      (dolist (command llm-flows-test-commands)
        (should (equal (assq command autoloads) (cons command t)))
        (should (commandp command)))
      (should (assq 'llm-flows-pending autoloads)))))

;;;; The main experience

(ert-deftest llm-flows-test-typing-while-pending ()
  "Typing inside and outside the region is kept; point stays; one undo."
  (llm-flows-test-with-buffer "Intro.\nI buyed a new car and teh dog liked it.\nOutro."
    (let ((beg (line-beginning-position 2)) (end (line-end-position 2)))
      (llm-correct-region beg end))
    (should (equal (length (llm-flows-pending buffer)) 1))
    (should (llm-flows-test-pending-overlays))
    (should (equal (llm-flows-test-lighter) " LLM:1"))
    ;; Type inside the region, then outside it, then put point after "dog".
    (search-forward "new ")
    (llm-flows-test-type "red ")
    (goto-char (point-max))
    (llm-flows-test-type " Bye")
    (search-backward "dog")
    (forward-word)
    (llm-flows-test-settle buffer)
    (should (equal (buffer-string)
                   "Intro.\nI bought a new red car and the dog liked it.\nOutro. Bye"))
    (should (looking-back "the dog" (line-beginning-position)))
    (should-not (llm-flows-test-pending-overlays))
    (should (equal (llm-flows-test-lighter) ""))
    ;; One undo reverts the correction and nothing the user typed.
    (llm-flows-test-undo)
    (should (equal (buffer-string)
                   "Intro.\nI buyed a new red car and teh dog liked it.\nOutro. Bye"))))

(ert-deftest llm-flows-test-mark-markers-and-overlays-stay ()
  "Point, mark, other markers and overlays stay with their text."
  (llm-flows-test-with-buffer "I buyed a car and teh dog liked it alot."
    (let* ((dog (progn (search-forward "dog") (match-beginning 0)))
           (marker (copy-marker dog))
           (overlay (make-overlay dog (match-end 0))))
      (set-marker (mark-marker) (progn (search-forward "liked") (match-beginning 0)))
      (goto-char (point-min))
      (search-forward "car")
      (llm-correct-region (point-min) (point-max))
      (llm-flows-test-settle buffer)
      (should (equal (buffer-string) "I bought a car and the dog liked it a lot."))
      (should (looking-back "a car" (point-min)))
      (should (equal (buffer-substring (mark) (+ (mark) 5)) "liked"))
      (should (equal (buffer-substring marker (+ marker 3)) "dog"))
      (should (equal (buffer-substring (overlay-start overlay) (overlay-end overlay)) "dog")))))

(ert-deftest llm-flows-test-typing-after-merge-is-its-own-undo-step ()
  "Characters typed right after a correction do not join its undo step."
  (llm-flows-test-with-buffer "I buyed it."
    (llm-correct-region (point-min) (point-max))
    (goto-char (point-max))
    (llm-flows-test-type " ab")
    (llm-flows-test-settle buffer)
    (should (equal (buffer-string) "I bought it. ab"))
    (llm-flows-test-type "cd")
    (should (equal (buffer-string) "I bought it. abcd"))
    (llm-flows-test-undo)
    (should (equal (buffer-string) "I bought it. ab"))
    (let ((last-command 'undo))
      (llm-flows-test-undo))
    (should (equal (buffer-string) "I buyed it. ab"))))

(ert-deftest llm-flows-test-applied-after-the-current-command ()
  "A result that arrives during a command waits until the command ends."
  (llm-flows-test-with-buffer "teh end."
    (llm-correct-region (point-min) (point-max))
    (let ((this-command 'some-long-command))
      (llm-flows-test-wait "the merge result"
                           (lambda () (memq (car llm-flows--flows) llm-flows--deferred)))
      (should (equal (buffer-string) "teh end.")))
    (run-hooks 'post-command-hook)
    (should (equal (buffer-string) "the end."))
    (should-not (llm-flows-pending buffer))))

;; The daemon answers `flow/merge' with offsets into the text it was
;; sent; typing after the request moves them, or makes an edit unsafe.
(ert-deftest llm-flows-test-typing-while-the-merge-is-in-flight ()
  "Edits made between `flow/merge' and its answer move or skip model edits."
  (llm-flows-test-with-buffer "I buyed a new car and we all went out to see teh dog."
    (llm-correct-region (point-min) (point-max))
    ;; Type in the window between sending `flow/merge' and handling its
    ;; answer: just before the answer is handled (polling for the
    ;; "merging" state misses a window this short).
    (llm-flows-test-before-merged
     (lambda ()
       (with-current-buffer buffer
         (should (equal (plist-get (car (llm-flows-pending)) :state) "merging"))
         (llm-flows-test-type "Well, ")
         (search-forward "teh")
         (llm-flows-test-type "re"))))
    (let ((echo (llm-flows-test-echo (llm-flows-test-settle buffer))))
      (should (string-match-p "1 edit applied; 1 edit skipped where you typed meanwhile"
                              echo)))
    (should (equal (buffer-string)
                   "Well, I bought a new car and we all went out to see tehre dog."))
    (should (looking-back "tehre" (line-beginning-position)))))

(ert-deftest llm-flows-test-outcome-survives-the-m-x-hint ()
  "After M-x llm-correct-region the echo area ends with the outcome.
M-x's \"You can run the command ... with M-x llm-c RET\" hint puts
back the message it covered when it ends: the stale \"started\"
line, over an outcome that arrived within those seconds."
  (llm-flows-test-with-buffer "The teh end."
    (transient-mark-mode 1)
    (push-mark (point-max) t t)
    (let* ((suggest-key-bindings 1)
           (echo (llm-flows-test-echo
                   (llm-flows-test-command
                    'execute-extended-command
                    (lambda () (execute-extended-command nil "llm-correct-region"
                                                         "llm-correct-region")))
                   (llm-flows-test-settle buffer)
                   ;; As long as the hint would show and put back what it covered.
                   (llm-flows-test-wait "the hint's time to pass"
                                        (let ((end (+ (float-time) 2.5)))
                                          (lambda () (> (float-time) end)))))))
      (should (equal (buffer-string) "The the end."))
      (should-not (string-match-p "You can run the command" echo))
      (should (string-match-p "correct in notes.txt: 1 edit applied\n*\\'" echo)))))

(ert-deftest llm-flows-test-rewrite ()
  "A rewrite with an instruction lands like a correction."
  (llm-flows-test-with-buffer "Please rewrite teh sentence."
    (llm-flows-rewrite-region (point-min) (point-max) "Make it formal")
    (llm-flows-test-settle buffer)
    (should (equal (buffer-string) "Please rewrite the sentence."))))

(ert-deftest llm-flows-test-daemon-that-cannot-start ()
  "A daemon command that does not exist is a clear error; the text stays."
  (llm-flows-test-with-buffer "Some teh text."
    (let* ((llm-flows-server-command '("/nonexistent/llm-flows" "serve"))
           (llm-flows--connection nil)
           (err (should-error (llm-correct-region (point-min) (point-max))
                              :type 'user-error)))
      (should (string-match-p "cannot start the daemon .*: no such program \"/nonexistent/llm-flows\""
                              (cadr err))))
    (should (equal (buffer-string) "Some teh text."))
    (should-not (llm-flows-pending))
    (should-not (llm-flows-test-pending-overlays))))

;;;; Conflicts and review

(defconst llm-flows-test-five-errors
  "I buyed a car. It was wierd. Then teh dog came. We liked it alot. Did you recieve it?"
  "A text with five errors the scripted model corrects.")

(ert-deftest llm-flows-test-conflict-accepted-and-rejected ()
  "Where the user edited, the model's proposal waits for accept or reject."
  (llm-flows-test-with-buffer llm-flows-test-five-errors
    (llm-correct-region (point-min) (point-max))
    (llm-flows-test-edit "teh" "my")
    (llm-flows-test-edit "alot" "lots")
    (let ((echo (llm-flows-test-echo (llm-flows-test-settle buffer))))
      (should (string-match-p "3 edits applied; 2 proposals to review" echo)))
    (should (equal (buffer-string)
                   "I bought a car. It was weird. Then my dog came. We liked it lots. Did you receive it?"))
    (should (equal (llm-flows-test-proposals) '(("my" . "[the]") ("lots" . "[a lot]"))))
    (should (equal (llm-flows-test-lighter) " LLM?2"))
    ;; The echo area says C-c C-c accepts: so it does with point right
    ;; after the word just typed, and at its start, not only inside it.
    (goto-char (point-min))
    (search-forward "lots")
    (dolist (pos (list (match-end 0) (match-beginning 0)))
      (goto-char pos)
      (should (eq (key-binding (kbd "C-c C-c")) #'llm-flows-accept))
      (should (eq (key-binding (kbd "C-c C-k")) #'llm-flows-reject)))
    (goto-char (point-min))
    (should-not (eq (key-binding (kbd "C-c C-c")) #'llm-flows-accept))
    (goto-char (point-min))
    (llm-flows-test-command #'llm-flows-next)
    (should (looking-at "my dog"))
    (llm-flows-test-command #'llm-flows-accept)
    (llm-flows-test-command #'llm-flows-next)
    (should (looking-at "lots"))
    (llm-flows-test-command #'llm-flows-reject)
    (should (equal (buffer-string)
                   "I bought a car. It was weird. Then the dog came. We liked it lots. Did you receive it?"))
    (should-not (llm-flows-test-proposals))
    (should (equal (llm-flows-test-lighter) ""))
    (should-error (llm-flows-next) :type 'user-error)))

(ert-deftest llm-flows-test-review-shows-every-edit-first ()
  "With `llm-flows-review', nothing changes until the user accepts."
  (llm-flows-test-with-buffer "I buyed teh car yesterday, and we all liked alot of it very much."
    (let ((llm-flows-review t))
      (llm-correct-region (point-min) (point-max))
      (llm-flows-test-settle buffer))
    (should (equal (buffer-string)
                   "I buyed teh car yesterday, and we all liked alot of it very much."))
    (should (equal (llm-flows-test-proposals)
                   '(("buyed" . "[bought]") ("teh" . "[the]") ("alot" . "[a lot]"))))
    (llm-flows-test-command #'llm-flows-accept-all)
    (should (equal (buffer-string)
                   "I bought the car yesterday, and we all liked a lot of it very much."))
    (should-not (llm-flows-test-proposals))
    (llm-flows-test-undo)
    (should (equal (buffer-string)
                   "I buyed teh car yesterday, and we all liked alot of it very much."))))

;;;; Results that never arrive or never apply

(ert-deftest llm-flows-test-dropped-result-says-why ()
  "When the user rewrote the region meanwhile, the result is dropped."
  (llm-flows-test-with-buffer "I buyed a car and teh dog liked it alot."
    (llm-correct-region (point-min) (point-max))
    (llm-flows-test-edit "buyed a car and teh dog liked it alot"
                         "sold my old bicycle because nobody rode it")
    (let ((echo (llm-flows-test-echo (llm-flows-test-settle buffer))))
      (should (string-match-p "correct in notes.txt.*: dropped: ." echo)))
    (should (equal (buffer-string) "I sold my old bicycle because nobody rode it."))))

(ert-deftest llm-flows-test-failure-says-why ()
  "A failing model changes nothing and the echo area says why."
  (llm-flows-test-with-buffer "FAIL teh test."
    (llm-correct-region (point-min) (point-max))
    (let ((echo (llm-flows-test-echo (llm-flows-test-settle buffer))))
      (should (string-match-p "correct in notes.txt.*scripted failure" echo)))
    (should (equal (buffer-string) "FAIL teh test."))
    (should-not (llm-flows-test-pending-overlays))))

(ert-deftest llm-flows-test-read-only-buffer ()
  "A buffer made read-only meanwhile is left as it is, and the user is told."
  (llm-flows-test-with-buffer "A teh read-only buffer."
    (llm-correct-region (point-min) (point-max))
    (setq buffer-read-only t)
    (let ((echo (llm-flows-test-echo (llm-flows-test-settle buffer))))
      (should (string-match-p "correct in notes.txt.*: nothing applied: Buffer is read-only"
                              echo)))
    (should (equal (buffer-string) "A teh read-only buffer."))))

(ert-deftest llm-flows-test-cancel ()
  "Cancelling clears the region's marks and the daemon drops the flow."
  (llm-flows-test-with-buffer "HANG on teh line."
    (llm-correct-region (point-min) (point-max))
    (let ((id (llm-flows-test-wait-id)))
      (should (string-match-p "cancelled" (llm-flows-test-echo
                                             (llm-flows-test-command #'llm-flows-cancel))))
      (should-not (llm-flows-pending))
      (should-not (llm-flows-test-pending-overlays))
      (llm-flows-test-wait "the daemon to cancel"
                           (lambda () (equal (llm-flows-test-server-state id) "cancelled"))))
    (should (equal (buffer-string) "HANG on teh line."))
    (should-error (llm-flows-cancel) :type 'user-error)))

(ert-deftest llm-flows-test-cancel-before-the-daemon-answers ()
  "A flow cancelled before its id arrives is cancelled in the daemon too."
  (llm-flows-test-with-buffer "HANG again teh."
    (llm-correct-region (point-min) (point-max))
    (llm-flows-cancel-all)
    (should-not (llm-flows-pending))
    (llm-flows-test-wait
     "the daemon to cancel"
     (lambda ()
       (let ((rows (append (plist-get (jsonrpc-request (llm-flows--connection) 'flow/list nil)
                                      :flows)
                           nil)))
         (and rows (cl-every (lambda (row) (equal (plist-get row :state) "cancelled"))
                             rows)))))))

(ert-deftest llm-flows-test-killing-the-buffer-cancels ()
  "Killing a buffer cancels its flows."
  (let ((buffer (generate-new-buffer "doomed.txt")) id)
    (with-current-buffer buffer
      (insert "HANG teh end.")
      (llm-correct-region (point-min) (point-max))
      (setq id (llm-flows-test-wait-id)))
    (kill-buffer buffer)
    (should-not (llm-flows-pending))
    (llm-flows-test-wait "the daemon to cancel"
                         (lambda () (equal (llm-flows-test-server-state id) "cancelled")))))

;;;; Several flows, deleted regions, a dying daemon

(ert-deftest llm-flows-test-two-flows-in-one-buffer ()
  "Two flows at once in one buffer both apply, each as its own undo step."
  (llm-flows-test-with-buffer "First teh line.\nSecond buyed line."
    (llm-correct-region (point-min) (line-end-position))
    (llm-correct-region (line-beginning-position 2) (point-max))
    (should (equal (llm-flows-test-lighter) " LLM:2"))
    (goto-char (point-max))
    (llm-flows-test-type " Yes.")
    (llm-flows-test-settle buffer)
    (should (equal (buffer-string) "First the line.\nSecond bought line. Yes."))
    (should (eobp))
    (llm-flows-test-undo)
    (let ((last-command 'undo))
      (llm-flows-test-undo))
    (should (equal (buffer-string) "First teh line.\nSecond buyed line. Yes."))))

(ert-deftest llm-flows-test-flows-in-two-buffers ()
  "Flows in two buffers each land in their own buffer."
  (llm-flows-test-with-buffer "One teh."
    (let ((other (generate-new-buffer "other.txt")))
      (unwind-protect
          (progn
            (with-current-buffer other
              (insert "Two buyed.")
              (llm-correct-region (point-min) (point-max)))
            (llm-correct-region (point-min) (point-max))
            (should (equal (length (llm-flows-pending)) 2))
            (llm-flows-test-wait "both flows" (lambda () (null (llm-flows-pending))))
            (should (equal (buffer-string) "One the."))
            (should (equal (with-current-buffer other (buffer-string)) "Two bought.")))
        (kill-buffer other)))))

(ert-deftest llm-flows-test-region-deleted-while-pending ()
  "Deleting the whole region drops its flow; nothing comes back later."
  (llm-flows-test-with-buffer "Keep this. Delete teh rest."
    (let ((beg (progn (search-forward "Delete") (match-beginning 0))))
      (llm-correct-region beg (point-max))
      (let ((echo (llm-flows-test-echo
                    (llm-flows-test-command
                     'kill-region (lambda () (delete-region beg (point-max)))))))
        (should (string-match-p "dropped: the region was deleted" echo))))
    (should-not (llm-flows-pending))
    (should-not (llm-flows-test-pending-overlays))
    (llm-flows-test-type "More text teh.")
    ;; A second flow proves the daemon went on; the first never lands.
    (llm-correct-region (point-min) (point-max))
    (llm-flows-test-settle buffer)
    (should (equal (buffer-string) "Keep this. More text the."))))

(defun llm-flows-test-last-message (process)
  "The last line of *Messages* once PROCESS, the daemon, has been fully handled.
jsonrpc's sentinel writes its own \"[jsonrpc] Server exited\" line;
the user must see llm-flows' account of the flows last."
  (llm-flows-test-wait "the daemon's death to be handled"
                       (lambda () (and (not (process-live-p process))
                                       (null llm-flows--connection))))
  (with-current-buffer (messages-buffer)
    (goto-char (point-max))
    (skip-chars-backward "\n")
    (buffer-substring-no-properties (line-beginning-position) (point))))

(ert-deftest llm-flows-test-daemon-killed-while-pending ()
  "A dead daemon's flows are reported lost; the next command starts a new one."
  (llm-flows-test-with-buffer "HANG teh daemon."
    (llm-correct-region (point-min) (point-max))
    (llm-flows-test-wait-id)
    (let ((process (jsonrpc--process llm-flows--connection)))
      (signal-process process 'SIGKILL)
      (llm-flows-test-settle buffer)
      ;; The last word is ours, not jsonrpc's, and it says how the daemon
      ;; ended rather than quoting an unrelated log line.
      (should (equal (llm-flows-test-last-message process)
                     (concat "[llm-flows] the daemon stopped (killed by signal 9); "
                             "1 pending flow lost (correct in notes.txt); "
                             "the next command starts a new daemon")))
      (should-not (llm-flows-test-pending-overlays))
      (should (equal (llm-flows-test-lighter) ""))
      (erase-buffer)
      (insert "A new teh daemon.")
      (llm-correct-region (point-min) (point-max))
      (should-not (eq (jsonrpc--process llm-flows--connection) process))
      (llm-flows-test-settle buffer)
      (should (equal (buffer-string) "A new the daemon.")))))

(ert-deftest llm-flows-test-daemon-told-to-stop ()
  "A daemon stopped with SIGTERM cancels its flows: the user is told who did."
  (llm-flows-test-with-buffer "HANG teh daemon."
    (llm-correct-region (point-min) (point-max))
    (llm-flows-test-wait-id)
    (let* ((process (jsonrpc--process llm-flows--connection))
           (echo (llm-flows-test-echo
                   (signal-process process 'SIGTERM)
                   (llm-flows-test-settle buffer))))
      (should (string-match-p "correct in notes.txt: cancelled by the daemon: " echo))
      (should (equal (llm-flows-test-last-message process)
                     (concat "[llm-flows] the daemon stopped (exit status 0) "
                             "and cancelled 1 flow (correct in notes.txt); "
                             "the next command starts a new daemon"))))
    (should (equal (buffer-string) "HANG teh daemon."))))

(ert-deftest llm-flows-test-daemon-fails-to-start ()
  "A daemon that exits on a bad config: its error reaches the echo area."
  (let* ((config (make-temp-file "llm-flows-bad" nil ".toml" "default_model = [\n"))
         (process-environment (cons (concat "LLM_FLOWS_CONFIG=" config)
                                    process-environment)))
    (unwind-protect
        (llm-flows-test-with-buffer "Keep teh text."
          (llm-correct-region (point-min) (point-max))
          (let ((process (jsonrpc--process llm-flows--connection)))
            (llm-flows-test-settle buffer)
            (should (string-match-p
                     (concat "\\`\\[llm-flows\\] the daemon stopped (exit status 1: Error: "
                             (regexp-quote config) ":1: invalid TOML: .*); "
                             "1 pending flow lost (correct in notes.txt); "
                             "the next command starts a new daemon\\'")
                     (llm-flows-test-last-message process))))
          (should (equal (buffer-string) "Keep teh text."))
          (should-not (llm-flows-test-pending-overlays)))
      (delete-file config))))

;;;; Text

(ert-deftest llm-flows-test-non-ascii ()
  "Emoji, CJK and combining characters keep their places."
  (llm-flows-test-with-buffer "Café 😀 teh 日本語 buyed 👍🏽 e\u0301 alot. 漢字も end"
    (llm-correct-region (point-min) (point-max))
    (search-forward "漢字")
    (llm-flows-test-type "と🎉")
    (llm-flows-test-settle buffer)
    (should (equal (buffer-string)
                   "Café 😀 the 日本語 bought 👍🏽 e\u0301 a lot. 漢字と🎉も end"))
    (should (looking-back "と🎉" (line-beginning-position)))))

(ert-deftest llm-flows-test-any-major-mode ()
  "A comment in a programming mode is corrected in place."
  (llm-flows-test-with-buffer ";; This buyed nothing.\n(setq x \"teh\")\n"
    (emacs-lisp-mode)
    (llm-correct-region (point-min) (line-end-position))
    (llm-flows-test-settle buffer)
    (should (equal (buffer-string) ";; This bought nothing.\n(setq x \"teh\")\n"))))

(ert-deftest llm-flows-test-org-mode ()
  "An Org outline is corrected in place; its structure stays."
  (llm-flows-test-with-buffer "* Teh heading\n- an item I buyed\n#+begin_src sh\necho teh\n#+end_src\n"
    (org-mode)
    (llm-correct-region (point-min) (line-end-position 2))
    (llm-flows-test-settle buffer)
    (should (equal (buffer-string)
                   "* Teh heading\n- an item I bought\n#+begin_src sh\necho teh\n#+end_src\n"))
    (should (org-at-heading-p))))

(ert-deftest llm-flows-test-string-in-code ()
  "A string literal in a programming mode is corrected, the code around it kept."
  (llm-flows-test-with-buffer "msg = \"I buyed teh car\"  # teh comment\n"
    (python-mode)
    (search-forward "\"")
    (llm-correct-region (point) (1- (search-forward "\"")))
    (llm-flows-test-settle buffer)
    (should (equal (buffer-string) "msg = \"I bought the car\"  # teh comment\n"))
    (when (require 'markdown-mode nil t)
      (erase-buffer)
      (insert "# Title\n\nSome teh *text*.\n")
      (markdown-mode)
      (llm-correct-region (point-min) (point-max))
      (llm-flows-test-settle buffer)
      (should (equal (buffer-string) "# Title\n\nSome the *text*.\n")))))

(ert-deftest llm-flows-test-buffer-without-undo ()
  "A buffer with undo disabled gets the correction, without an error."
  (llm-flows-test-with-buffer "No undo for teh log."
    (buffer-disable-undo)
    (llm-correct-region (point-min) (point-max))
    (let ((echo (llm-flows-test-echo (llm-flows-test-settle buffer))))
      (should (string-match-p "1 edit applied" echo)))
    (should (equal (buffer-string) "No undo for the log."))
    (should (eq buffer-undo-list t))))

(ert-deftest llm-flows-test-bad-input-keeps-text ()
  "An empty region or a blank instruction is refused with a clear error."
  (llm-flows-test-with-buffer "Some text."
    (should (equal (cadr (should-error (llm-correct-region 3 3) :type 'user-error))
                   "[llm-flows] the region is empty"))
    (should-error (llm-flows-rewrite-region (point-min) (point-max) " ") :type 'user-error)
    (should-error (call-interactively #'llm-correct-region) :type 'user-error)
    (let ((buffer-read-only t))
      (should (equal (cadr (should-error (llm-correct-region 1 5) :type 'user-error))
                     "[llm-flows] the buffer is read-only: nothing could apply")))
    (should (equal (buffer-string) "Some text."))
    (should-not (llm-flows-pending))))

(ert-deftest llm-flows-test-list ()
  "The list of flows shows each pending flow's state, buffer and text."
  (llm-flows-test-with-buffer "HANG listed teh."
    (llm-correct-region (point-min) (point-max))
    (llm-flows-test-wait-state "running")
    (save-window-excursion
      (llm-flows-list)
      (should (string-match-p "correct +running +[0-9]+s +notes.txt +HANG listed teh\\."
                              (buffer-string))))
    (llm-flows-cancel-all)))

(ert-deftest llm-flows-test-list-shows-how-flows-ended ()
  "After the echo area moved on, the list still says how recent flows ended."
  (llm-flows-test-with-buffer "I buyed it.\nFAIL here."
    (llm-correct-region (point-min) (line-end-position))
    (llm-flows-test-settle buffer)
    (llm-correct-region (line-beginning-position 2) (point-max))
    (llm-flows-test-settle buffer)
    (save-window-excursion
      (llm-flows-list)
      (let ((table (buffer-string)))
        (should (string-match-p "correct +ended +[0-9]+s +notes.txt +failed (model): " table))
        (should (string-match-p "correct +ended +[0-9]+s +notes.txt +1 edit applied" table))))))

(provide 'llm-flows-tests)
;;; llm-flows-tests.el ends here
