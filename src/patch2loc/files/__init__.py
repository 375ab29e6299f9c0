"""Files the package writes and reads: staged atomic writes (staging), outputs that never replace
inputs (outputs), and volume I/O (io)."""
