"""Pure building blocks of inline completion (issue 13): ghost text from DeepSeek's FIM endpoint.

No pygls and no HTTP here; the glue hands these modules plain values.

languages: per-language tables (comment tokens, brace or indentation blocks, top-level keywords)
prompt:    the FIM prompt and suffix, laid out for DeepSeek's prefix cache (a stable anchor)
quality:   the mode at the cursor (line, block, none) and the answer cleaned for the document
cache:     answers for a repeated position, and for a position reached by typing a suggestion
scheduler: per-document debounce; a newer request cancels the older one at once
"""
