"""Answers the data gives exactly: what is not in the store, the version log over time, and
exploitation evidence.  :mod:`.select` picks the records and findings of a question;
:mod:`.compose` puts findings, explanation and facts together; the rest are the families."""
