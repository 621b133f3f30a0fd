"""Explanations for clients without our renderer (no pygls here).

`document` names and renders an explanation as a Markdown document (and as a message),
`plaintext` turns Markdown into text people read in an echo area or a plain-text hover, and
`writer` keeps the document's file up to date while it streams, without blocking the loop.
"""
