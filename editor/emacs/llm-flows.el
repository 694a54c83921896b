;;; llm-flows.el --- LLM corrections that merge with what you type -*- lexical-binding: t; -*-

;; Copyright (C) 2025 llm-flows developers

;; Author: llm-flows developers
;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (jsonrpc "1.0.14"))
;; Keywords: convenience, wp
;; URL: https://github.com/llm-flows/llm-flows
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Select a region, run `llm-correct-region', and keep typing, inside
;; the region too.  A few seconds later the model's corrections are
;; merged word by word with what you typed meanwhile: none of your
;; keystrokes is lost, point and mark stay where they were, and one
;; `undo' reverts the whole correction and nothing else.  A result
;; that arrives too late, fails, or finds the text changed too much is
;; dropped, and the echo area says why.
;;
;; The merging happens in the llm-flows daemon (`llm-flows serve',
;; from the Python package llm-flows), which this package starts on
;; first use and shares between all buffers.  It talks to it with the
;; built-in `jsonrpc' library, without ever waiting for a model.
;;
;; Commands:
;;
;;   `llm-correct-region'        correct the region (BEG END)
;;   `llm-flows-rewrite-region'  rewrite the region following an INSTRUCTION
;;   `llm-flows-cancel'          cancel the flow at point, or the newest one
;;   `llm-flows-cancel-all'      cancel every pending flow
;;   `llm-flows-list'            a table of pending flows
;;   `llm-flows-next', `llm-flows-previous'      move between proposals
;;   `llm-flows-accept', `llm-flows-reject'      take or leave the one at point
;;   `llm-flows-accept-all', `llm-flows-reject-all'
;;
;; A model hunk that touches text you edited while it was pending is a
;; conflict: your text stays, and the model's proposal is shown next
;; to it for you to accept or reject (inside it, \\`C-c C-c' accepts
;; and \\`C-c C-k' rejects).  With `llm-flows-review' set, every
;; proposed edit is shown that way before anything changes.
;;
;; Options (M-x customize-group RET llm-flows): `llm-flows-server-command',
;; `llm-flows-model', `llm-flows-timeout', `llm-flows-review'.
;;
;; `llm-flows-pending' returns the flows not yet finished, for use in
;; your own code.  While a flow is pending its region has a subtle
;; background and the mode line shows how many are pending ("LLM:2")
;; and how many proposals wait for review ("LLM?1").
;;
;; Setup:
;;
;;   (use-package llm-flows
;;     :load-path "/path/to/llm-flows/editor/emacs"
;;     :commands (llm-correct-region llm-flows-rewrite-region)
;;     :custom (llm-flows-server-command '("llm-flows" "serve")))

;;; Code:

(require 'cl-lib)
(require 'jsonrpc)
(require 'seq)
(require 'subr-x)

(defgroup llm-flows nil
  "Run LLM corrections and rewrites on regions while you keep typing."
  :group 'convenience
  :prefix "llm-flows-"
  :link '(url-link :tag "Homepage" "https://github.com/llm-flows/llm-flows"))

(defcustom llm-flows-server-command '("llm-flows" "serve")
  "Command line that starts the llm-flows daemon.
The first element is the program, the rest its arguments.  The
daemon must speak the llm-flows protocol on its standard input and
output.  The daemon starts on first use; a change here applies the
next time it starts."
  :type '(repeat string))

(defcustom llm-flows-model nil
  "Model for new flows: a model id or alias known to the daemon.
nil means the daemon's default model (see `llm-flows models')."
  :type '(choice (const :tag "The daemon's default" nil) string))

(defcustom llm-flows-timeout 120
  "Seconds a flow may take before the daemon gives up on it.
A flow that times out is dropped and never changes the buffer.
nil means the daemon's default."
  :type '(choice (const :tag "The daemon's default" nil) number))

(defcustom llm-flows-review nil
  "Non-nil means show every proposed edit for review first.
Each edit then appears as a proposal next to your text, to accept
with `llm-flows-accept' or reject with `llm-flows-reject'.  nil
means apply the edits at once; only conflicts wait for review."
  :type 'boolean)

(defface llm-flows-pending
  '((((class color) (min-colors 88) (background light)) :background "#f3f3fa")
    (((class color) (min-colors 88) (background dark)) :background "#25252f")
    (t :underline (:style wave)))
  "Face of a region whose flow is pending.")

(defface llm-flows-conflict
  '((t :inherit warning :underline t))
  "Face of your text where the model proposes something else.")

(defface llm-flows-proposal
  '((t :inherit success :weight bold))
  "Face of the model's proposal shown next to your text.")

(defconst llm-flows--version "0.1.0"
  "Version sent to the daemon in `initialize'.")

(defconst llm-flows--request-timeout 30
  "Seconds to wait for the daemon's answer to a request.
Every request is answered at once (the models run in the
background), so only a stuck daemon ever reaches this.")

(cl-defstruct (llm-flows--flow (:constructor llm-flows--flow-create)
                               (:copier nil))
  "One model call on a region, from start until its result is applied."
  id kind buffer beg end overlay (state "starting") created connection
  origin changes result)

(defconst llm-flows--daemon-cancelled "cancelled by the daemon"
  "How a flow the daemon cancelled (as it stopped) ended.")

(defvar llm-flows--connection nil
  "The connection to the running daemon, or nil.")

(defvar llm-flows--flows nil
  "Unfinished flows in all buffers, newest first.")

(defvar llm-flows--deferred nil
  "Flows whose result waits for the current command to finish.")

(defvar llm-flows--ended nil
  "The last flows that ended, newest first, as (FLOW . OUTCOME).
`llm-flows-list' shows them, for the message that scrolled away.")

(defconst llm-flows--ended-max 5
  "How many ended flows `llm-flows-list' shows.")

(defvar llm-flows-mode-map
  (let ((map (make-sparse-keymap)))
    ;; Not an overlay `keymap': that applies only strictly inside the
    ;; text, never right after the word just typed nor at an empty
    ;; proposal.  Elsewhere these keys keep the major mode's meaning.
    (pcase-dolist (`(,key . ,command) '(("C-c C-c" . llm-flows-accept)
                                        ("C-c C-k" . llm-flows-reject)
                                        ("C-c C-n" . llm-flows-next)
                                        ("C-c C-p" . llm-flows-previous)))
      (define-key map (kbd key)
        `(menu-item "" ,command :filter llm-flows--on-proposal)))
    map)
  "Keys of `llm-flows-mode', active on a proposal and at its edges.")

;;;; The daemon

(defun llm-flows--connection ()
  "Return the connection to the daemon; start the daemon if needed."
  (unless (and llm-flows--connection (jsonrpc-running-p llm-flows--connection))
    (setq llm-flows--connection (llm-flows--start-daemon)))
  llm-flows--connection)

(defun llm-flows--start-daemon ()
  "Start `llm-flows-server-command' and greet it; return the connection."
  (unless (and (consp llm-flows-server-command)
               (executable-find (car llm-flows-server-command)))
    (user-error "[llm-flows] cannot start the daemon %S: no such program %S %s"
                llm-flows-server-command (car-safe llm-flows-server-command)
                "(install llm-flows, or set `llm-flows-server-command')"))
  (let* ((default-directory (if (file-remote-p default-directory)
                                (expand-file-name "~/")
                              default-directory))
         (conn
          (condition-case err
              (make-instance
               'jsonrpc-process-connection
               :name "llm-flows"
               :events-buffer-scrollback-size 100000
               :notification-dispatcher #'llm-flows--dispatch
               :on-shutdown #'llm-flows--on-shutdown
               :process (lambda ()
                          (make-process
                           :name "llm-flows" :command llm-flows-server-command
                           :connection-type 'pipe :coding 'utf-8-emacs-unix
                           :noquery t
                           :stderr (get-buffer-create "*llm-flows stderr*"))))
            (error
             (when-let ((stderr (get-buffer "*llm-flows stderr*")))
               (kill-buffer stderr))
             (user-error "[llm-flows] cannot start the daemon %S: %s"
                         llm-flows-server-command (error-message-string err))))))
    (condition-case err
        (jsonrpc-async-request
         conn 'initialize
         (list :client (list :name "llm-flows.el" :version llm-flows--version))
         :success-fn #'ignore
         :error-fn (lambda (err)
                     ;; -1 is "Server died": `llm-flows--on-shutdown' says more.
                     (unless (eql (plist-get err :code) -1)
                       (message "[llm-flows] the daemon refused to start: %s"
                                (plist-get err :message))))
         :timeout llm-flows--request-timeout
         :timeout-fn (lambda () (message "[llm-flows] the daemon does not answer")))
      (error
       (user-error "[llm-flows] the daemon %S exited at once: %s"
                   llm-flows-server-command
                   (or (llm-flows--last-line (jsonrpc-stderr-buffer conn))
                       (error-message-string err)))))
    conn))

(defun llm-flows--request (flow method params on-success)
  "Send METHOD with PARAMS for FLOW; call ON-SUCCESS with the result.
An error or a timeout finishes FLOW with a message saying why."
  (jsonrpc-async-request
   (llm-flows--flow-connection flow) method params
   :success-fn on-success
   :error-fn (lambda (err) (llm-flows--on-error flow method err))
   :timeout llm-flows--request-timeout
   :timeout-fn (lambda ()
                 (llm-flows--finish flow "dropped: the daemon did not answer %s"
                                    method))))

(defun llm-flows--on-error (flow method err)
  "Finish FLOW after the daemon answered METHOD with ERR."
  ;; Code -1 is jsonrpc's "Server died": `llm-flows--on-shutdown'
  ;; reports every lost flow at once.
  (unless (eql (plist-get err :code) -1)
    (llm-flows--finish flow "%s failed: %s" method (plist-get err :message))))

(defun llm-flows--dispatch (_conn method params)
  "Handle the daemon's notification METHOD with PARAMS."
  (condition-case err
      (let* ((id (plist-get params :id))
             (flow (and id (cl-find id llm-flows--flows
                                    :key #'llm-flows--flow-id :test #'equal))))
        ;; The daemon answers `flow/start' before it notifies about the
        ;; flow, so an unknown id is a flow this client has forgotten.
        (when flow
          (pcase method
            ('flow/progress
             (setf (llm-flows--flow-state flow) (plist-get params :state))
             (force-mode-line-update t))
            ('flow/ready (llm-flows--on-ready flow))
            ('flow/failed
             ;; A flow the user cancelled is forgotten before this comes:
             ;; a cancelled one here was the daemon's doing (shutting down).
             (let* ((error (plist-get params :error))
                    (code (plist-get error :code)))
               (llm-flows--finish flow (if (equal code "cancelled")
                                           (concat llm-flows--daemon-cancelled ": %2$s")
                                         "failed (%s): %s")
                                  code (plist-get error :message)))))))
    (error (message "[llm-flows] cannot handle %s: %s"
                    method (error-message-string err)))))

(defun llm-flows--on-shutdown (conn)
  "Say that the daemon behind CONN stopped, and what became of its flows.
jsonrpc calls this after its own \"[jsonrpc] Server exited\" line, so
this message is the one left in the echo area: it names the flows
lost (pending, now unmarked) and those the daemon cancelled as it
stopped (already reported one by one)."
  (when (eq conn llm-flows--connection)
    (setq llm-flows--connection nil))
  (let ((lost (cl-remove-if-not
               (lambda (flow) (eq (llm-flows--flow-connection flow) conn))
               llm-flows--flows))
        (cancelled (cl-loop for (flow . outcome) in llm-flows--ended
                            when (and (eq (llm-flows--flow-connection flow) conn)
                                      (string-prefix-p llm-flows--daemon-cancelled outcome))
                            collect flow)))
    (dolist (flow lost)
      (llm-flows--remove flow)
      (llm-flows--remember flow "lost: the daemon stopped"))
    (message "[llm-flows] the daemon stopped (%s)%s%s; the next command starts a new daemon"
             (llm-flows--exit-description conn)
             (if cancelled
                 (format " and cancelled %s (%s)"
                         (llm-flows--count (length cancelled) "flow" "flows")
                         (mapconcat #'llm-flows--describe cancelled ", "))
               "")
             (if lost
                 (format "; %s lost (%s)"
                         (llm-flows--count (length lost) "pending flow" "pending flows")
                         (mapconcat #'llm-flows--describe lost ", "))
               ""))))

(defun llm-flows--exit-description (conn)
  "How the daemon behind CONN ended, such as \"killed by signal 9\".
A daemon that failed on its own has its last line of output added:
the reason, where a signal or a clean exit leaves only log lines."
  (let* ((process (jsonrpc--process conn))
         (status (process-exit-status process)))
    (cond ((eq (process-status process) 'signal) (format "killed by signal %d" status))
          ((zerop status) "exit status 0")
          (t (let ((last (llm-flows--last-line (jsonrpc-stderr-buffer conn))))
               (format "exit status %d%s" status (if last (concat ": " last) "")))))))

(defun llm-flows--last-line (buffer)
  "The last non-blank line of BUFFER, or nil."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (save-excursion
        (goto-char (point-max))
        (when (re-search-backward "[^ \t\n]" nil t)
          (buffer-substring-no-properties (line-beginning-position)
                                          (line-end-position)))))))

;;;; Flows

(defun llm-flows--describe (flow)
  "A short description of FLOW for messages, such as \"correct in notes.txt\"."
  (let ((buffer (llm-flows--flow-buffer flow)))
    (format "%s in %s" (llm-flows--flow-kind flow)
            (if (buffer-live-p buffer) (buffer-name buffer) "a killed buffer"))))

(defun llm-flows--start (kind beg end &optional instruction)
  "Start flow KIND on the text between BEG and END, with INSTRUCTION."
  (let ((beg (min beg end)) (end (max beg end)))
    (when (= beg end)
      (user-error "[llm-flows] the region is empty"))
    (when buffer-read-only
      (user-error "[llm-flows] the buffer is read-only: nothing could apply"))
    (let* ((text (buffer-substring-no-properties beg end))
           (flow (llm-flows--flow-create
                  :kind kind :buffer (current-buffer)
                  :beg (copy-marker beg) :end (copy-marker end t)
                  :created (float-time) :connection (llm-flows--connection)))
           (overlay (make-overlay beg end nil nil t)))
      (overlay-put overlay 'face 'llm-flows-pending)
      (overlay-put overlay 'llm-flows-flow flow)
      (overlay-put overlay 'priority -50)
      (setf (llm-flows--flow-overlay flow) overlay)
      (llm-flows-mode 1)
      (push flow llm-flows--flows)
      (condition-case err
          (llm-flows--request
           flow 'flow/start
           (llm-flows--start-params kind text instruction)
           (lambda (result) (llm-flows--on-started flow (plist-get result :id))))
        (error
         (llm-flows--remove flow)
         (user-error "[llm-flows] cannot send this region: %s"
                     (error-message-string err))))
      (when (region-active-p)
        (deactivate-mark))
      (add-hook 'post-command-hook #'llm-flows--cancel-key-hint)
      (message "[llm-flows] %s started; keep typing" (llm-flows--describe flow)))))

(defvar execute-extended-command--binding-timer)

(defun llm-flows--cancel-key-hint ()
  "Cancel the key hint of `execute-extended-command' for a flow's start.
Two seconds after a command it ran, it shows \"You can run the
command ... with ...\" for two seconds and then puts back the message
it covered: the stale \"started\" line, hiding the flow's outcome if
that arrived meanwhile.  Runs once, after the command."
  (remove-hook 'post-command-hook #'llm-flows--cancel-key-hint)
  (when (timerp (bound-and-true-p execute-extended-command--binding-timer))
    (cancel-timer execute-extended-command--binding-timer)))

(defun llm-flows--start-params (kind text instruction)
  "The `flow/start' parameters for flow KIND on TEXT with INSTRUCTION."
  (append (list :flow kind :text text)
          (and llm-flows-model (list :model llm-flows-model))
          (and instruction (list :instruction instruction))
          (and llm-flows-timeout (list :timeout llm-flows-timeout))
          (and buffer-file-name (list :uri (concat "file://" buffer-file-name)))))

(defun llm-flows--on-started (flow id)
  "Record the daemon's ID for FLOW, or cancel it if FLOW is gone."
  (if (not (memq flow llm-flows--flows))
      (llm-flows--send-cancel (llm-flows--flow-connection flow) id)
    (setf (llm-flows--flow-id flow) id
          (llm-flows--flow-state flow) "queued")
    (force-mode-line-update t)))

(defun llm-flows--on-ready (flow)
  "Ask the daemon to merge FLOW's result into the region's text now."
  (with-current-buffer (llm-flows--flow-buffer flow)
    (save-restriction
      (widen)
      (let ((beg (llm-flows--flow-beg flow)))
        (setf (llm-flows--flow-state flow) "merging"
              (llm-flows--flow-origin flow) (marker-position beg)
              (llm-flows--flow-changes flow) nil)
        (llm-flows--request
         flow 'flow/merge
         (list :id (llm-flows--flow-id flow)
               :current (buffer-substring-no-properties
                         beg (llm-flows--flow-end flow)))
         (lambda (result) (llm-flows--on-merged flow result)))))))

(defun llm-flows--on-merged (flow result)
  "Apply the merge RESULT for FLOW, after the current command if any."
  (when (memq flow llm-flows--flows)
    (if (equal (plist-get result :status) "dropped")
        (llm-flows--finish flow "dropped: %s"
                           (or (plist-get result :reason) "the text changed too much"))
      (setf (llm-flows--flow-result flow) result)
      (if (not this-command)
          (llm-flows--apply flow)
        (setq llm-flows--deferred (append llm-flows--deferred (list flow)))
        (add-hook 'post-command-hook #'llm-flows--apply-deferred)))))

(defun llm-flows--apply-deferred ()
  "Apply the results that arrived while a command was running."
  (remove-hook 'post-command-hook #'llm-flows--apply-deferred)
  (let ((flows llm-flows--deferred))
    (setq llm-flows--deferred nil)
    (dolist (flow flows)
      (with-demoted-errors "[llm-flows] %S"
        (llm-flows--apply flow)))))

(defun llm-flows--apply (flow)
  "Apply FLOW's merge result: show its proposals, then make its edits.
Offsets in the result are code points into the text sent to
`flow/merge'; the changes made since then move them along, and an
edit that touches such a change is skipped."
  (when (memq flow llm-flows--flows)
    (llm-flows--remove flow)
    (with-current-buffer (llm-flows--flow-buffer flow)
      (save-restriction
        (widen)
        (let* ((result (llm-flows--flow-result flow))
               (origin (llm-flows--flow-origin flow))
               (changes (reverse (llm-flows--flow-changes flow)))
               (skipped 0) proposals edits)
          (seq-doseq (hunk (plist-get result :conflicts))
            (if-let ((range (llm-flows--map-range origin hunk changes)))
                (push (cons range (plist-get hunk :theirs)) proposals)
              (cl-incf skipped)))
          (seq-doseq (hunk (plist-get result :edits))
            (if-let ((range (llm-flows--map-range origin hunk changes)))
                (push (cons range (plist-get hunk :text))
                      (if llm-flows-review proposals edits))
              (cl-incf skipped)))
          ;; Proposals first, then the edits from the last to the first,
          ;; so that every offset stays valid.
          (pcase-dolist (`((,beg . ,end) . ,theirs) proposals)
            (llm-flows--propose beg end theirs))
          (force-mode-line-update)
          (llm-flows--report
           flow (condition-case err
                    ;; jsonrpc's process filter binds `inhibit-read-only' to t.
                    (let ((inhibit-read-only nil))
                      (llm-flows--replace-in-one-step edits)
                      (llm-flows--summary (length edits) (length proposals) skipped))
                  (error (concat "nothing applied: " (error-message-string err))))))))))

(defun llm-flows--summary (applied proposed skipped)
  "A sentence about APPLIED edits, PROPOSED ones and SKIPPED ones."
  (let ((parts
         (delq nil
               (list (and (> applied 0) (llm-flows--count applied "edit applied"
                                                          "edits applied"))
                     (and (> proposed 0)
                          (concat (llm-flows--count proposed "proposal" "proposals")
                                  " to review (C-c C-c accepts, C-c C-k rejects)"))
                     (and (> skipped 0)
                          (concat (llm-flows--count skipped "edit" "edits")
                                  " skipped where you typed meanwhile"))))))
    (if parts (string-join parts "; ") "no changes proposed")))

(defun llm-flows--count (n singular plural)
  "N followed by SINGULAR or PLURAL."
  (format "%d %s" n (if (= n 1) singular plural)))

(defun llm-flows--map-range (origin hunk changes)
  "The buffer range (BEG . END) now covered by HUNK, or nil.
HUNK's :start and :end count from ORIGIN at the time of the merge
request; CHANGES, oldest first, are (BEG OLD-END DELTA) made since.
nil means a change touched the hunk."
  (let ((beg (+ origin (plist-get hunk :start)))
        (end (+ origin (plist-get hunk :end))))
    (cl-loop for (cbeg cend delta) in changes
             if (and (<= beg cend) (<= cbeg end)) return nil
             else if (> beg cend) do (setq beg (+ beg delta) end (+ end delta))
             finally return (cons beg end))))

(defun llm-flows--finish (flow format &rest args)
  "Forget FLOW and say why with FORMAT and ARGS, if it is still pending."
  (when (memq flow llm-flows--flows)
    (llm-flows--remove flow)
    (llm-flows--report flow (apply #'format format args))))

(defun llm-flows--report (flow outcome)
  "Say how FLOW ended (OUTCOME) and keep it for `llm-flows-list'."
  (llm-flows--remember flow outcome)
  (message "[llm-flows] %s: %s" (llm-flows--describe flow) outcome))

(defun llm-flows--remember (flow outcome)
  "Keep FLOW and its OUTCOME among the last ended flows."
  (setf (llm-flows--flow-state flow) "ended")
  (push (cons flow outcome) llm-flows--ended)
  (setq llm-flows--ended (seq-take llm-flows--ended llm-flows--ended-max)))

(defun llm-flows--remove (flow)
  "Forget FLOW and remove its overlay and markers."
  (setq llm-flows--flows (delq flow llm-flows--flows)
        llm-flows--deferred (delq flow llm-flows--deferred))
  (delete-overlay (llm-flows--flow-overlay flow))
  (set-marker (llm-flows--flow-beg flow) nil)
  (set-marker (llm-flows--flow-end flow) nil)
  (force-mode-line-update t))

(defun llm-flows--send-cancel (conn id)
  "Ask the daemon behind CONN, if alive, to cancel flow ID."
  (when (and id conn (jsonrpc-running-p conn))
    (jsonrpc-async-request conn 'flow/cancel (list :id id)
                           :success-fn #'ignore :error-fn #'ignore
                           :timeout llm-flows--request-timeout :timeout-fn #'ignore)))

(defun llm-flows--cancel (flow why)
  "Cancel FLOW and say WHY."
  (llm-flows--send-cancel (llm-flows--flow-connection flow) (llm-flows--flow-id flow))
  (llm-flows--finish flow "%s" why))

(defun llm-flows--buffer-flows (&optional buffer)
  "The unfinished flows in BUFFER (in all buffers if nil), newest first."
  (if buffer
      (cl-remove-if-not (lambda (flow) (eq (llm-flows--flow-buffer flow) buffer))
                        llm-flows--flows)
    llm-flows--flows))

;;;###autoload
(defun llm-flows-pending (&optional buffer)
  "Return the flows not yet finished in BUFFER, or in all buffers if nil.
Each is a plist (:id ID :flow KIND :state STATE :buffer BUFFER :beg
BEG :end END :created TIME), oldest first.  ID is nil until the daemon
has acknowledged the flow; BEG and END are the region's positions now."
  (mapcar (lambda (flow)
            (list :id (llm-flows--flow-id flow) :flow (llm-flows--flow-kind flow)
                  :state (llm-flows--flow-state flow)
                  :buffer (llm-flows--flow-buffer flow)
                  :beg (marker-position (llm-flows--flow-beg flow))
                  :end (marker-position (llm-flows--flow-end flow))
                  :created (llm-flows--flow-created flow)))
          (reverse (llm-flows--buffer-flows buffer))))

;;;; Editing the buffer

(defun llm-flows--replace-in-one-step (replacements)
  "Make REPLACEMENTS, ((BEG . END) . TEXT) in order, as one undo step.
Each is a minimal edit, so point, mark and markers stay where they
belong.  If one fails, none is made."
  (when replacements
    (undo-boundary)
    (let ((group (prepare-change-group))
          (undo-outer-limit nil)
          (undo-limit most-positive-fixnum)
          (undo-strong-limit most-positive-fixnum)
          (done nil))
      (unwind-protect
          (progn
            (activate-change-group group)
            (pcase-dolist (`((,beg . ,end) . ,text) replacements)
              (replace-region-contents beg end (lambda () text)))
            (setq done t))
        (if (not done)
            (cancel-change-group group)
          (accept-change-group group)
          (undo-amalgamate-change-group group))))
    ;; Close the step the way Emacs's undo timer does, so that the next
    ;; self-inserted character starts a new step instead of joining this
    ;; one (`undo-auto-amalgamate' removes a plain boundary).
    (if (fboundp 'undo-auto--boundaries)
        (undo-auto--boundaries 'timer)
      (undo-boundary))))

(defun llm-flows--propose (beg end theirs)
  "Show THEIRS, the model's proposal for the text from BEG to END."
  (let ((overlay (make-overlay beg end nil t nil)))
    (overlay-put overlay 'llm-flows-proposal theirs)
    (overlay-put overlay 'face 'llm-flows-conflict)
    (overlay-put overlay 'after-string
                 (concat (propertize "[" 'face 'shadow)
                         (if (string-empty-p theirs)
                             (propertize "delete" 'face 'shadow)
                           (propertize theirs 'face 'llm-flows-proposal))
                         (propertize "]" 'face 'shadow)))
    (overlay-put overlay 'help-echo
                 "llm-flows proposal: C-c C-c accepts, C-c C-k rejects")
    (overlay-put overlay 'priority 10)
    overlay))

(defun llm-flows--proposals ()
  "The proposal overlays in the current buffer, in buffer order."
  (sort (cl-remove-if-not (lambda (overlay) (overlay-get overlay 'llm-flows-proposal))
                          (overlays-in (point-min) (point-max)))
        (lambda (a b) (< (overlay-start a) (overlay-start b)))))

(defun llm-flows--proposal-around (pos)
  "Return the proposal overlay around POS (its edges included), or nil."
  (cl-find-if (lambda (overlay) (and (overlay-get overlay 'llm-flows-proposal)
                                     (<= (overlay-start overlay) pos (overlay-end overlay))))
              (overlays-in (max (point-min) (1- pos)) (min (point-max) (1+ pos)))))

(defun llm-flows--on-proposal (command)
  "COMMAND if point is on a proposal, else nil (the key means what it did)."
  (and (llm-flows--proposal-around (point)) command))

(defun llm-flows--proposal-at (pos)
  "The proposal overlay around POS, or a `user-error'."
  (or (llm-flows--proposal-around pos)
      (user-error "No llm-flows proposal at point (try `llm-flows-next')")))

(defun llm-flows--accept (overlays)
  "Replace the text of OVERLAYS with their proposals, as one undo step."
  (llm-flows--replace-in-one-step
   (mapcar (lambda (overlay)
             (cons (cons (overlay-start overlay) (overlay-end overlay))
                   (overlay-get overlay 'llm-flows-proposal)))
           (sort (copy-sequence overlays)
                 (lambda (a b) (> (overlay-start a) (overlay-start b))))))
  (mapc #'delete-overlay overlays)
  (force-mode-line-update))

;;;; Tracking the buffer

(defun llm-flows--after-change (beg end old-length)
  "Record the change from BEG to END (was OLD-LENGTH) for pending merges.
A flow whose region is now empty is dropped."
  (with-demoted-errors "[llm-flows] %S"
    (dolist (flow (llm-flows--buffer-flows (current-buffer)))
      (when (llm-flows--flow-origin flow)
        (push (list beg (+ beg old-length) (- end beg old-length))
              (llm-flows--flow-changes flow)))
      (when (= (llm-flows--flow-beg flow) (llm-flows--flow-end flow))
        (llm-flows--cancel flow "dropped: the region was deleted")))))

(defun llm-flows--cancel-buffer (why)
  "Cancel the flows of the current buffer and say WHY."
  (dolist (flow (llm-flows--buffer-flows (current-buffer)))
    (llm-flows--cancel flow why)))

(defun llm-flows--kill-buffer ()
  "Cancel the flows of the buffer being killed."
  (llm-flows--cancel-buffer "cancelled: the buffer was killed"))

(defun llm-flows--lighter ()
  "The mode-line text: pending flows and proposals in this buffer."
  (let ((pending (length (llm-flows--buffer-flows (current-buffer))))
        (proposals (length (llm-flows--proposals))))
    (concat (if (> pending 0) (format " LLM:%d" pending) "")
            (if (> proposals 0) (format " LLM?%d" proposals) ""))))

(define-minor-mode llm-flows-mode
  "Track the llm-flows flows of this buffer and show them in the mode line.
The flow commands turn it on; turning it off cancels the buffer's flows."
  :lighter (:eval (llm-flows--lighter))
  (if llm-flows-mode
      (progn
        (add-hook 'after-change-functions #'llm-flows--after-change nil t)
        (add-hook 'kill-buffer-hook #'llm-flows--kill-buffer nil t))
    (llm-flows--cancel-buffer "cancelled: llm-flows-mode was turned off")
    (remove-hook 'after-change-functions #'llm-flows--after-change t)
    (remove-hook 'kill-buffer-hook #'llm-flows--kill-buffer t)))

;;;; Commands

;;;###autoload
(defun llm-correct-region (beg end)
  "Correct spelling, grammar and punctuation between BEG and END.
Keep typing meanwhile: the corrections are merged with your edits
when they arrive, as one undo step."
  (interactive (llm-flows--region-args))
  (llm-flows--start "correct" beg end))

;;;###autoload
(defun llm-flows-rewrite-region (beg end instruction)
  "Rewrite the text between BEG and END following INSTRUCTION.
Keep typing meanwhile: the result is merged with your edits when
it arrives, as one undo step."
  (interactive (append (llm-flows--region-args)
                       (list (read-string "Rewrite instruction: "))))
  (when (string-blank-p instruction)
    (user-error "[llm-flows] a rewrite needs an instruction"))
  (llm-flows--start "rewrite" beg end instruction))

(defun llm-flows--region-args ()
  "The active region as a list (BEG END), or a `user-error'."
  (if (use-region-p)
      (list (region-beginning) (region-end))
    (user-error "[llm-flows] select the text first (the region is not active)")))

;;;###autoload
(defun llm-flows-cancel ()
  "Cancel the flow around point, or else the newest one in this buffer."
  (interactive)
  (let* ((flows (llm-flows--buffer-flows (current-buffer)))
         (flow (or (cl-find-if (lambda (flow)
                                 (<= (llm-flows--flow-beg flow) (point)
                                     (llm-flows--flow-end flow)))
                               flows)
                   (car flows))))
    (unless flow
      (user-error "[llm-flows] no pending flow in this buffer"))
    (llm-flows--cancel flow "cancelled")))

;;;###autoload
(defun llm-flows-cancel-all ()
  "Cancel every pending flow in every buffer."
  (interactive)
  (let ((flows llm-flows--flows))
    (dolist (flow flows)
      (llm-flows--send-cancel (llm-flows--flow-connection flow) (llm-flows--flow-id flow))
      (llm-flows--remove flow))
    (message "[llm-flows] %s cancelled" (llm-flows--count (length flows) "flow" "flows"))))

;;;###autoload
(defun llm-flows-accept ()
  "Accept the proposal at point: your text there becomes the model's."
  (interactive)
  (llm-flows--accept (list (llm-flows--proposal-at (point)))))

;;;###autoload
(defun llm-flows-reject ()
  "Reject the proposal at point: your text stays as it is."
  (interactive)
  (delete-overlay (llm-flows--proposal-at (point)))
  (force-mode-line-update))

;;;###autoload
(defun llm-flows-accept-all ()
  "Accept every proposal in this buffer, as one undo step."
  (interactive)
  (let ((proposals (llm-flows--proposals)))
    (llm-flows--accept proposals)
    (message "[llm-flows] %s accepted" (llm-flows--count (length proposals)
                                                         "proposal" "proposals"))))

;;;###autoload
(defun llm-flows-reject-all ()
  "Reject every proposal in this buffer; your text stays as it is."
  (interactive)
  (let ((proposals (llm-flows--proposals)))
    (mapc #'delete-overlay proposals)
    (force-mode-line-update)
    (message "[llm-flows] %s rejected" (llm-flows--count (length proposals)
                                                         "proposal" "proposals"))))

;;;###autoload
(defun llm-flows-next ()
  "Move to the next proposal in this buffer."
  (interactive)
  (goto-char (overlay-start
              (or (cl-find-if (lambda (overlay) (> (overlay-start overlay) (point)))
                              (llm-flows--proposals))
                  (user-error "[llm-flows] no proposal after point")))))

;;;###autoload
(defun llm-flows-previous ()
  "Move to the previous proposal in this buffer."
  (interactive)
  (goto-char (overlay-start
              (or (cl-find-if (lambda (overlay) (< (overlay-start overlay) (point)))
                              (reverse (llm-flows--proposals)))
                  (user-error "[llm-flows] no proposal before point")))))

;;;; The list of flows

(defvar llm-flows-list-mode-map
  (let ((map (make-sparse-keymap)))
    (set-keymap-parent map tabulated-list-mode-map)
    (define-key map (kbd "RET") #'llm-flows-list-visit)
    (define-key map (kbd "k") #'llm-flows-list-cancel)
    map)
  "Keys of `llm-flows-list-mode'.")

(define-derived-mode llm-flows-list-mode tabulated-list-mode "LLM Flows"
  "The pending flows, then the last ended ones with their outcome.
\\`g' refreshes, \\`RET' visits, \\`k' cancels."
  (setq tabulated-list-format
        [("Id" 10 t) ("Flow" 8 t) ("State" 9 t)
         ("Age" 6 llm-flows--list-age<) ("Buffer" 20 t) ("Text" 0 nil)])
  (setq tabulated-list-padding 1)
  (add-hook 'tabulated-list-revert-hook #'llm-flows--list-entries nil t)
  (tabulated-list-init-header))

(defun llm-flows--list-age< (a b)
  "Non-nil if entry A is younger than entry B."
  (> (llm-flows--flow-created (car a)) (llm-flows--flow-created (car b))))

(defun llm-flows--list-entries ()
  "Fill `tabulated-list-entries' with the pending flows, then the ended ones."
  (setq tabulated-list-entries
        (append (mapcar (lambda (flow) (llm-flows--list-entry flow (llm-flows--text flow)))
                        llm-flows--flows)
                (mapcar (lambda (ended) (llm-flows--list-entry (car ended) (cdr ended)))
                        llm-flows--ended))))

(defun llm-flows--list-entry (flow text)
  "The row of FLOW in `llm-flows-list', ending with TEXT."
  (let ((buffer (llm-flows--flow-buffer flow)))
    (list flow
          (vector (or (llm-flows--flow-id flow) "-")
                  (llm-flows--flow-kind flow)
                  (llm-flows--flow-state flow)
                  (format "%ds" (- (float-time) (llm-flows--flow-created flow)))
                  (if (buffer-live-p buffer) (buffer-name buffer) "(killed)")
                  (truncate-string-to-width (replace-regexp-in-string "\n" " " text)
                                            60 nil nil "…")))))

(defun llm-flows--text (flow)
  "The text of FLOW's region now."
  (with-current-buffer (llm-flows--flow-buffer flow)
    (save-restriction
      (widen)
      (buffer-substring-no-properties (llm-flows--flow-beg flow) (llm-flows--flow-end flow)))))

;;;###autoload
(defun llm-flows-list ()
  "Show the pending flows: state, age, buffer and text.
Below them, how the last few flows ended."
  (interactive)
  (let ((buffer (get-buffer-create "*llm-flows*")))
    (with-current-buffer buffer
      (llm-flows-list-mode)
      (llm-flows--list-entries)
      (tabulated-list-print))
    (pop-to-buffer buffer)))

(defun llm-flows--list-flow ()
  "The pending flow on this line of `llm-flows-list', or a `user-error'."
  (let ((flow (or (tabulated-list-get-id) (user-error "No flow on this line"))))
    (unless (memq flow llm-flows--flows)
      (user-error "[llm-flows] that flow has ended (press g to refresh)"))
    flow))

(defun llm-flows-list-visit ()
  "Go to the region of the flow on this line."
  (interactive)
  (let ((flow (llm-flows--list-flow)))
    (pop-to-buffer (llm-flows--flow-buffer flow))
    (goto-char (llm-flows--flow-beg flow))))

(defun llm-flows-list-cancel ()
  "Cancel the flow on this line."
  (interactive)
  (llm-flows--cancel (llm-flows--list-flow) "cancelled")
  (revert-buffer))

(provide 'llm-flows)
;;; llm-flows.el ends here
