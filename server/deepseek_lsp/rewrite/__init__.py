"""Pure building blocks of a streaming rewrite (issue 3); no pygls here.

code_stream: the model's reply -> code only (fences and prose stripped while streaming)
indent:      code -> the text that goes into the document (indentation, line endings)
region:      the document as the client has it, and where the rewritten region stands now
pacer:       when the next workspace/applyEdit may go out
session:     the edit loop and the verified restore; `EditPolicy`: streamed edits, or one edit
             (editors that confirm each edit), decided by the glue
journal:     the recovery journal
prompts:     the task text of each rewrite action
"""
