"""The run's subject lists (data/subjects.py): parsed once per content, since the workflow asks for
them in every job's input function, and never stale when a list is rewritten."""

from __future__ import annotations

from patch2loc.data import subjects


def _write(folder, rows):
    lines = ["subject_id,split,fold,has_t2"] + [",".join(r) for r in rows]
    (folder / "IXI.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_list_rewritten_between_two_reads_gives_its_new_subjects(tmp_path):
    _write(tmp_path, [("a", "train", "0", "1"), ("b", "val", "0", "1")])
    assert subjects.ixi_subjects(tmp_path, "train", "T2", 0) == ["a"]
    _write(tmp_path, [("c", "train", "0", "1"), ("b", "val", "0", "1")])  # same size, same folder
    assert subjects.ixi_subjects(tmp_path, "train", "T2", 0) == ["c"]


def test_each_content_is_parsed_once(tmp_path):
    _write(tmp_path, [(f"s{i}", "train", "0", "1") for i in range(50)])
    subjects._rows.cache_clear()
    for _ in range(20):
        assert len(subjects.ixi_subjects(tmp_path, "train", "T1", 0)) == 50
        assert subjects.lesion_subjects(tmp_path, "IXI", "val") == []
    info = subjects._rows.cache_info()
    assert (info.misses, info.hits) == (1, 39)
