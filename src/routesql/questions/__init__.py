"""One generator of (question, SQL) pairs: the demo benchmark and SENSE strong synthesis both use it."""
