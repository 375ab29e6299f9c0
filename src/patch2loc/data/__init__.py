"""Raw data: downloads with resume and checksums, the datasets' raw layouts, subject lists and folds."""
