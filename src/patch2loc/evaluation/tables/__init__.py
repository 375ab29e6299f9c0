"""The tables: what they share (`aggregate`: reading, fold aggregation, formatting, order;
`uncertainty`: intervals and tests; `files`: csv, Markdown and LaTeX), Table 1, Table 2, the
challenges', protocols', spaces' and compute tables."""
