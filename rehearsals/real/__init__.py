"""The real-data rehearsal: the datasets' real layouts as fixtures, served on 127.0.0.1, through the
whole workflow (docs/real-data.md). Not part of the installed package: only tests and rehearsals use it."""
