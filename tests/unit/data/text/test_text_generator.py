from collections import Counter

from trainlab.data.text.evidence import locate_sentence
from trainlab.data.text.generator import CRITERIA, generate_text_dataset
from trainlab.data.text.readers import read_annotations, read_posts


def test_generator_writes_the_public_layout_and_says_synthetic(tmp_path):
    paths = generate_text_dataset(tmp_path, n_posts=60, seed=1)
    posts = read_posts(paths["posts"])
    rows = read_annotations(paths["annotations"], posts)
    assert len(posts) == 60 and all(p.startswith("synthetic-") for p in posts)
    assert "SYNTHETIC" in paths["readme"].read_text()
    header = paths["annotations"].read_text().splitlines()[0]
    assert header == "post_id,sentence_id,sentence_text,DSM5_symptom,status,explanation"
    statuses = Counter(r.status for r in rows)
    assert statuses[0] > 10 and statuses[1] > 10  # both classes present
    assert {r.criterion for r in rows} <= set(CRITERIA) and len({r.criterion for r in rows}) > 5
    assert all(locate_sentence(posts[r.post_id], r.sentence_text) for r in rows)


def test_generator_is_seeded(tmp_path):
    a = generate_text_dataset(tmp_path / "a", n_posts=20, seed=5)
    b = generate_text_dataset(tmp_path / "b", n_posts=20, seed=5)
    c = generate_text_dataset(tmp_path / "c", n_posts=20, seed=6)
    assert a["annotations"].read_text() == b["annotations"].read_text()
    assert a["posts"].read_text() != c["posts"].read_text()


def test_same_sentence_is_negative_for_another_criterion(tmp_path):
    paths = generate_text_dataset(tmp_path, n_posts=80, seed=2, label_noise=0.0)
    rows = read_annotations(paths["annotations"])
    by_sentence = {}
    for r in rows:
        by_sentence.setdefault(r.sentence_id, []).append(r)
    mixed = [rs for rs in by_sentence.values() if {r.status for r in rs} == {0, 1}]
    assert mixed, "a classifier must read the criterion, not only the sentence"
